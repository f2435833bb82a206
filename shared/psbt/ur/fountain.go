package ur

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
)

// minFragmentLen is the smallest fragment the encoder cuts, as in the
// reference implementations.
const minFragmentLen = 10

// nominalFragmentLen picks the fragment length for a message: the fewest
// fragments whose (equal) length is at most maxLen, never cutting fragments
// shorter than minLen. A message shorter than minLen is one fragment.
func nominalFragmentLen(messageLen, minLen, maxLen int) int {
	fragmentLen := messageLen
	for count := 1; count <= messageLen/minLen; count++ {
		fragmentLen = ceilDiv(messageLen, count)
		if fragmentLen <= maxLen {
			break
		}
	}
	return fragmentLen
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// partition cuts message into fragmentLen pieces, zero-padding the last.
func partition(message []byte, fragmentLen int) [][]byte {
	n := ceilDiv(len(message), fragmentLen)
	padded := make([]byte, n*fragmentLen)
	copy(padded, message)
	frags := make([][]byte, n)
	for i := range frags {
		frags[i] = padded[i*fragmentLen : (i+1)*fragmentLen : (i+1)*fragmentLen]
	}
	return frags
}

// chooseFragments returns which fragments part seqNum mixes, in the
// reference's shuffle order. Parts 1..seqLen carry fragment seqNum-1 alone;
// later parts mix a pseudo-random set whose size is drawn with weight 1/d,
// seeded by the part number and message checksum so that the receiver can
// recompute the set. degrees is the seqLen's degree sampler.
func chooseFragments(seqNum uint32, seqLen int, checksum uint32, degrees *randomSampler) []int {
	if int64(seqNum) <= int64(seqLen) {
		return []int{int(seqNum) - 1}
	}
	var seed [8]byte
	binary.BigEndian.PutUint32(seed[:4], seqNum)
	binary.BigEndian.PutUint32(seed[4:], checksum)
	rng := newXoshiroFromBytes(seed[:])
	degree := degrees.next(rng) + 1
	return shuffledPrefix(seqLen, degree, rng)
}

// fountainPart is one part of a fountain-coded message; it travels as the
// CBOR array [seqNum, seqLen, messageLen, checksum, data].
type fountainPart struct {
	seqNum     uint32
	seqLen     int
	messageLen int
	checksum   uint32
	data       []byte
}

// fountainEncoder emits an endless stream of parts: first each fragment in
// turn, then XOR mixes of pseudo-randomly chosen fragments, any enough of
// which let a receiver rebuild the message.
type fountainEncoder struct {
	messageLen int
	checksum   uint32
	fragments  [][]byte
	seqNum     uint32
	degrees    *randomSampler
}

func newFountainEncoder(message []byte, maxFragmentLen int, firstSeqNum uint32) (*fountainEncoder, error) {
	if len(message) == 0 {
		return nil, fmt.Errorf("%w: nothing to encode", ErrInvalidPart)
	}
	if maxFragmentLen < minFragmentLen {
		return nil, fmt.Errorf("%w: maximum fragment length %d is below the minimum %d", ErrInvalidPart, maxFragmentLen, minFragmentLen)
	}
	fragmentLen := nominalFragmentLen(len(message), minFragmentLen, maxFragmentLen)
	e := &fountainEncoder{
		messageLen: len(message),
		checksum:   crc32.ChecksumIEEE(message),
		fragments:  partition(message, fragmentLen),
		seqNum:     firstSeqNum,
	}
	e.degrees = newDegreeSampler(len(e.fragments))
	return e, nil
}

func (e *fountainEncoder) seqLen() int { return len(e.fragments) }

func (e *fountainEncoder) nextPart() fountainPart {
	e.seqNum++
	if e.seqNum == 0 { // wrapped after 2^32-1 parts: 0 is no part number
		e.seqNum = 1
	}
	indexes := chooseFragments(e.seqNum, e.seqLen(), e.checksum, e.degrees)
	data := make([]byte, len(e.fragments[0]))
	for _, i := range indexes {
		xorInto(data, e.fragments[i])
	}
	return fountainPart{seqNum: e.seqNum, seqLen: e.seqLen(), messageLen: e.messageLen, checksum: e.checksum, data: data}
}

func xorInto(dst, src []byte) {
	for i := range dst {
		dst[i] ^= src[i]
	}
}

// encodePartCBOR writes the part as CBOR, with the shortest heads, as the
// reference does.
func encodePartCBOR(p fountainPart) []byte {
	b := make([]byte, 0, 1+9*4+9+len(p.data))
	b = appendHead(b, majorArray, 5)
	b = appendHead(b, majorUint, uint64(p.seqNum))
	b = appendHead(b, majorUint, uint64(p.seqLen))
	b = appendHead(b, majorUint, uint64(p.messageLen))
	b = appendHead(b, majorUint, uint64(p.checksum))
	b = appendHead(b, majorBytes, uint64(len(p.data)))
	return append(b, p.data...)
}

// decodePartCBOR reads a part and checks its header is self-consistent and
// within this package's limits, before anything is allocated for it.
func decodePartCBOR(b []byte) (fountainPart, error) {
	r := cborReader{b: b}
	n, err := r.head(majorArray)
	if err != nil || n != 5 {
		return fountainPart{}, fmt.Errorf("%w: a multi-part UR must hold the CBOR array [seqNum, seqLen, messageLen, checksum, fragment]", ErrInvalidPart)
	}
	var v [4]uint64
	for i := range v {
		if v[i], err = r.head(majorUint); err != nil {
			return fountainPart{}, fmt.Errorf("%w: part header field %d: %v", ErrInvalidPart, i+1, err)
		}
	}
	data, err := r.bytes()
	if err != nil {
		return fountainPart{}, fmt.Errorf("%w: fragment: %v", ErrInvalidPart, err)
	}
	if len(r.b) != 0 {
		return fountainPart{}, fmt.Errorf("%w: %d bytes after the part", ErrInvalidPart, len(r.b))
	}
	seqNum, seqLen, messageLen, checksum := v[0], v[1], v[2], v[3]
	switch {
	case seqNum == 0 || seqNum > 1<<32-1:
		return fountainPart{}, fmt.Errorf("%w: sequence number %d (want 1 to 2^32-1)", ErrInvalidPart, seqNum)
	case seqLen == 0:
		return fountainPart{}, fmt.Errorf("%w: sequence length 0", ErrInvalidPart)
	case messageLen == 0:
		return fountainPart{}, fmt.Errorf("%w: message length 0", ErrInvalidPart)
	case messageLen > MaxMessageLen:
		return fountainPart{}, fmt.Errorf("%w: message of %d bytes, the limit is %d", ErrTooLarge, messageLen, MaxMessageLen)
	case seqLen > MaxSeqLen:
		return fountainPart{}, fmt.Errorf("%w: %d fragments, the limit is %d", ErrTooLarge, seqLen, MaxSeqLen)
	case checksum > 1<<32-1:
		return fountainPart{}, fmt.Errorf("%w: checksum %d does not fit 32 bits", ErrInvalidPart, checksum)
	case len(data) == 0:
		return fountainPart{}, fmt.Errorf("%w: empty fragment", ErrInvalidPart)
	case uint64(ceilDiv(int(messageLen), len(data))) != seqLen:
		return fountainPart{}, fmt.Errorf("%w: %d fragments of %d bytes cannot hold a %d-byte message exactly", ErrInvalidPart, seqLen, len(data), messageLen)
	}
	return fountainPart{seqNum: uint32(seqNum), seqLen: int(seqLen), messageLen: int(messageLen), checksum: uint32(checksum), data: slices.Clone(data)}, nil
}
