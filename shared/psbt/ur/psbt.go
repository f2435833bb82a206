package ur

import (
	"bytes"
	"fmt"
)

// PSBT types and tags: BCR-2020-006 registered "crypto-psbt" (tag 310);
// its 2025 revision renamed it "psbt" (tag 40310). Both carry a CBOR byte
// string holding the BIP174 binary PSBT.
const (
	TypeCryptoPSBT = "crypto-psbt"
	TypePSBT       = "psbt"

	tagCryptoPSBT = 310
	tagPSBT       = 40310
)

var psbtMagic = []byte("psbt\xff")

// PSBTToUR wraps a binary PSBT as a crypto-psbt UR, the type Sparrow,
// SeedSigner and Keystone read.
func PSBTToUR(psbt []byte) UR {
	b := appendHead(make([]byte, 0, 9+len(psbt)), majorBytes, uint64(len(psbt)))
	return UR{Type: TypeCryptoPSBT, CBOR: append(b, psbt...)}
}

// PSBTFromUR returns the binary PSBT in a crypto-psbt or psbt UR, whose
// CBOR is a byte string, optionally tagged 310 or 40310.
func PSBTFromUR(u UR) ([]byte, error) {
	if u.Type != TypeCryptoPSBT && u.Type != TypePSBT {
		return nil, fmt.Errorf("%w: %q, want %q or %q", ErrWrongType, u.Type, TypeCryptoPSBT, TypePSBT)
	}
	r := cborReader{b: u.CBOR}
	if major, err := r.peekMajor(); err == nil && major == majorTag {
		tag, err := r.head(majorTag)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNotPSBT, err)
		}
		if tag != tagCryptoPSBT && tag != tagPSBT {
			return nil, fmt.Errorf("%w: CBOR tag %d, want %d or %d", ErrNotPSBT, tag, tagCryptoPSBT, tagPSBT)
		}
	}
	psbt, err := r.bytes()
	if err != nil {
		return nil, fmt.Errorf("%w: want a CBOR byte string: %v", ErrNotPSBT, err)
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the CBOR byte string", ErrNotPSBT, len(r.b))
	}
	if !bytes.HasPrefix(psbt, psbtMagic) {
		return nil, fmt.Errorf("%w: the bytes do not start with the PSBT magic \"psbt\\xff\"", ErrNotPSBT)
	}
	return bytes.Clone(psbt), nil
}
