package keystore

import (
	"fmt"

	"golang.org/x/crypto/argon2"
)

// kdfName is the only key-derivation function of format version 1.
const kdfName = "argon2id"

// saltLen is the Argon2id salt length (RFC 9106 recommends 16 bytes).
const saltLen = 16

// keyLen is the XChaCha20-Poly1305 key length.
const keyLen = 32

// kdfParams are Argon2id's cost parameters as RFC 9106 names them.
type kdfParams struct {
	MemoryKiB   uint64 // m, in KiB
	Iterations  uint64 // t, passes over memory
	Parallelism uint64 // p, lanes
}

// kdfLimits bound the parameters Open accepts, inclusive.
type kdfLimits struct {
	min, max kdfParams
}

// productionKDF is what Create writes: 256 MiB, 3 passes, 4 lanes, about
// half a second on a laptop (see BenchmarkOpenProductionKDF).
var productionKDF = kdfParams{MemoryKiB: 256 << 10, Iterations: 3, Parallelism: 4}

// productionLimits is what Open accepts. The floor is a quarter of the
// memory and two thirds of the passes of productionKDF: anything weaker was
// not written by this program. The ceiling is what a laptop can afford,
// so a hostile file cannot make Open allocate or grind without bound.
var productionLimits = kdfLimits{
	min: kdfParams{MemoryKiB: 64 << 10, Iterations: 2, Parallelism: 1},
	max: kdfParams{MemoryKiB: 1 << 20, Iterations: 10, Parallelism: 16},
}

// check reports whether p is within l, naming the first field that is not.
func (l kdfLimits) check(p kdfParams) error {
	fields := []struct {
		name        string
		v, min, max uint64
		unit        string
	}{
		{"memory", p.MemoryKiB, l.min.MemoryKiB, l.max.MemoryKiB, " KiB"},
		{"iterations", p.Iterations, l.min.Iterations, l.max.Iterations, ""},
		{"parallelism", p.Parallelism, l.min.Parallelism, l.max.Parallelism, ""},
	}
	for _, f := range fields {
		if f.v < f.min || f.v > f.max {
			return fmt.Errorf("%w: argon2id %s %d%s is outside the accepted %d to %d%s",
				ErrKDFParams, f.name, f.v, f.unit, f.min, f.max, f.unit)
		}
	}
	// Argon2 needs at least 8 KiB per lane.
	if p.MemoryKiB < 8*p.Parallelism {
		return fmt.Errorf("%w: argon2id memory %d KiB is below 8 KiB for each of %d lanes",
			ErrKDFParams, p.MemoryKiB, p.Parallelism)
	}
	return nil
}

// deriveKey runs Argon2id over the NFKD-normalized passphrase. p must have
// passed a kdfLimits check (which keeps every value within Argon2's types).
// The caller wipes the key.
func deriveKey(passphrase, salt []byte, p kdfParams) []byte {
	pass, owned := nfkd(passphrase)
	if owned {
		defer wipe(pass)
	}
	return argon2.IDKey(pass, salt, uint32(p.Iterations), uint32(p.MemoryKiB), uint8(p.Parallelism), keyLen)
}
