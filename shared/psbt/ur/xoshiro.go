package ur

import (
	"crypto/sha256"
	"encoding/binary"
	"math/bits"
)

// xoshiro256 is the xoshiro256** 1.0 generator, seeded the way BCR-2020-005
// fountain codes seed it. Sender and receiver must draw the same numbers
// from the same seed, so every step here is fixed by the specification's
// reference implementation, down to the float conversion.
type xoshiro256 struct{ s [4]uint64 }

// newXoshiroFromBytes seeds from SHA-256(seed): state word i is the
// big-endian uint64 at digest bytes [8i, 8i+8).
func newXoshiroFromBytes(seed []byte) *xoshiro256 {
	d := sha256.Sum256(seed)
	x := &xoshiro256{}
	for i := range x.s {
		x.s[i] = binary.BigEndian.Uint64(d[8*i:])
	}
	return x
}

func (x *xoshiro256) next() uint64 {
	s := &x.s
	result := bits.RotateLeft64(s[1]*5, 7) * 9
	t := s[1] << 17
	s[2] ^= s[0]
	s[3] ^= s[1]
	s[1] ^= s[2]
	s[0] ^= s[3]
	s[2] ^= t
	s[3] = bits.RotateLeft64(s[3], 45)
	return result
}

// nextDouble is next()/2^64 in [0, 1), as the reference computes it:
// convert (rounding to nearest) then divide.
func (x *xoshiro256) nextDouble() float64 {
	return float64(x.next()) / 18446744073709551616.0
}

// nextInt returns an integer in [low, high].
func (x *xoshiro256) nextInt(low, high int) int {
	return int(x.nextDouble()*float64(high-low+1)) + low
}

func (x *xoshiro256) nextByte() byte { return byte(x.nextInt(0, 255)) }

func (x *xoshiro256) nextData(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = x.nextByte()
	}
	return b
}
