package ur

import (
	"math/rand/v2"
	"testing"
)

// benchPSBT is 10 kB of PSBT-like bytes.
func benchPSBT() []byte {
	rng := rand.New(rand.NewPCG(3, 4))
	b := append([]byte("psbt\xff"), make([]byte, 10_000-5)...)
	for i := 5; i < len(b); i++ {
		b[i] = byte(rng.IntN(256))
	}
	return b
}

// benchFragmentLen is a typical animated-QR fragment.
const benchFragmentLen = 200

// BenchmarkEncode10kB: the parts a sender shows for one pass of a 10 kB
// PSBT, plus half again of fountain parts.
func BenchmarkEncode10kB(b *testing.B) {
	psbt := benchPSBT()
	b.SetBytes(int64(len(psbt)))
	for b.Loop() {
		e, err := NewEncoder(PSBTToUR(psbt), benchFragmentLen)
		if err != nil {
			b.Fatal(err)
		}
		for range e.SeqLen() * 3 / 2 {
			_ = e.NextPart()
		}
	}
}

// BenchmarkDecode10kB: a 10 kB PSBT from a scan that missed every fifth
// part and filled the gaps from fountain parts.
func BenchmarkDecode10kB(b *testing.B) {
	psbt := benchPSBT()
	e, err := NewEncoder(PSBTToUR(psbt), benchFragmentLen)
	if err != nil {
		b.Fatal(err)
	}
	var parts []string
	for i := 0; i < 4*e.SeqLen(); i++ {
		if p := e.NextPart(); i%5 != 4 {
			parts = append(parts, p)
		}
	}
	b.SetBytes(int64(len(psbt)))
	for b.Loop() {
		d := NewDecoder()
		for _, p := range parts {
			if err := d.Receive(p); err != nil {
				b.Fatal(err)
			}
			if d.Complete() {
				break
			}
		}
		if u, err := d.Result(); err != nil || len(u.CBOR) != len(psbt)+3 {
			b.Fatal("not decoded", err)
		}
	}
}
