package hdkeys

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
)

// hardened is the BIP32 offset of hardened child numbers (2^31).
const hardened = hdkeychain.HardenedKeyStart

// maxPathLen is BIP32's limit: depth is serialized in one byte.
const maxPathLen = 255

// KeyOrigin says where a key sits under a master key: the master's
// fingerprint and the derivation path from it.
type KeyOrigin struct {
	// Fingerprint is stored as btcd's psbt package stores it: the first four
	// bytes of hash160(master public key) read little-endian. Use
	// FingerprintHex to show it.
	Fingerprint uint32
	// Path is the list of child numbers from the master; hardened steps have
	// 2^31 added.
	Path []uint32
}

// FingerprintHex returns the fingerprint as 8 hex characters in the usual
// display order (the byte order of the hash), e.g. "73c5da0a".
func (o KeyOrigin) FingerprintHex() string {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], o.Fingerprint)
	return hex.EncodeToString(b[:])
}

// PathString returns the path as "m/84'/0'/0'".
func (o KeyOrigin) PathString() string {
	return "m" + formatPathSteps(o.Path, "'")
}

// child returns the origin extended by the given steps, never sharing the
// receiver's backing array.
func (o KeyOrigin) child(steps ...uint32) KeyOrigin {
	p := make([]uint32, 0, len(o.Path)+len(steps))
	p = append(p, o.Path...)
	return KeyOrigin{Fingerprint: o.Fingerprint, Path: append(p, steps...)}
}

// equal reports whether two origins name the same fingerprint and path.
func (o KeyOrigin) equal(p KeyOrigin) bool {
	if o.Fingerprint != p.Fingerprint || len(o.Path) != len(p.Path) {
		return false
	}
	for i := range o.Path {
		if o.Path[i] != p.Path[i] {
			return false
		}
	}
	return true
}

// fingerprintOf computes the master fingerprint of a compressed public key in
// the KeyOrigin representation.
func fingerprintOf(compressedPubKey []byte) uint32 {
	return binary.LittleEndian.Uint32(btcutil.Hash160(compressedPubKey)[:4])
}

// parseFingerprintHex reads the 8-hex-character display form.
func parseFingerprintHex(s string) (uint32, error) {
	if len(s) != 8 {
		return 0, fmt.Errorf("%w: fingerprint must be 8 hex characters, got %d", ErrMalformed, len(s))
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return 0, fmt.Errorf("%w: fingerprint is not hex", ErrMalformed)
	}
	return binary.LittleEndian.Uint32(b), nil
}

// ParsePath reads a BIP32 path such as "m/84'/0'/0'/0/5". Hardened steps may
// be marked with ', h or H. "m" alone is the empty path.
func ParsePath(s string) ([]uint32, error) {
	if s == "m" {
		return []uint32{}, nil
	}
	rest, ok := strings.CutPrefix(s, "m/")
	if !ok {
		return nil, fmt.Errorf("%w: path must start with \"m/\"", ErrMalformed)
	}
	return parsePathSteps(rest)
}

// parsePathSteps reads "84'/0'/0'" (no leading "m/" or slash).
func parsePathSteps(s string) ([]uint32, error) {
	parts := strings.Split(s, "/")
	if len(parts) > maxPathLen {
		return nil, fmt.Errorf("%w: path has %d steps; BIP32 allows at most %d", ErrMalformed, len(parts), maxPathLen)
	}
	path := make([]uint32, len(parts))
	for i, part := range parts {
		n, err := parsePathStep(part)
		if err != nil {
			return nil, err
		}
		path[i] = n
	}
	return path, nil
}

// parsePathStep reads one child number: decimal below 2^31, optionally
// followed by a hardened marker.
func parsePathStep(s string) (uint32, error) {
	var offset uint32
	digits := s
	if n := len(s); n > 0 && (s[n-1] == '\'' || s[n-1] == 'h' || s[n-1] == 'H') {
		digits, offset = s[:n-1], hardened
	}
	if digits == "" || len(digits) > 10 || strings.TrimLeft(digits, "0123456789") != "" {
		return 0, fmt.Errorf("%w: path step %.20q is not a number", ErrMalformed, s)
	}
	n, err := strconv.ParseUint(digits, 10, 32)
	if err != nil || n >= uint64(hardened) {
		return 0, fmt.Errorf("%w: path step %.20q is out of range (must be below 2^31 before hardening)", ErrMalformed, s)
	}
	return uint32(n) + offset, nil
}

// formatPathSteps writes "/84'/0'/0'" using mark for hardened steps.
func formatPathSteps(path []uint32, mark string) string {
	var b strings.Builder
	for _, n := range path {
		b.WriteByte('/')
		b.WriteString(strconv.FormatUint(uint64(n&^hardened), 10))
		if n >= hardened {
			b.WriteString(mark)
		}
	}
	return b.String()
}
