package ur

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The few CBOR (RFC 8949) items URs need: unsigned integers, byte strings,
// arrays and tags, all of definite length. Written by hand so that what is
// accepted from a scanned QR code is exactly what is described here.

const (
	majorUint  = 0
	majorBytes = 2
	majorArray = 4
	majorTag   = 6
)

// appendHead writes a major type and argument in its shortest form.
func appendHead(b []byte, major byte, v uint64) []byte {
	m := major << 5
	switch {
	case v < 24:
		return append(b, m|byte(v))
	case v <= 0xff:
		return append(b, m|24, byte(v))
	case v <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, m|25), uint16(v))
	case v <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(b, m|26), uint32(v))
	default:
		return binary.BigEndian.AppendUint64(append(b, m|27), v)
	}
}

// cborReader consumes items from the front of b.
type cborReader struct{ b []byte }

var errCBOREnd = errors.New("CBOR ends early")

// peekMajor returns the major type of the next item.
func (r *cborReader) peekMajor() (byte, error) {
	if len(r.b) == 0 {
		return 0, errCBOREnd
	}
	return r.b[0] >> 5, nil
}

// head reads the head of an item of the wanted major type and returns its
// argument (the value, length or tag number).
func (r *cborReader) head(want byte) (uint64, error) {
	if len(r.b) == 0 {
		return 0, errCBOREnd
	}
	major, info := r.b[0]>>5, r.b[0]&0x1f
	if major != want {
		return 0, fmt.Errorf("CBOR major type %d where %d was expected", major, want)
	}
	var size int
	switch {
	case info < 24:
		r.b = r.b[1:]
		return uint64(info), nil
	case info == 24:
		size = 1
	case info == 25:
		size = 2
	case info == 26:
		size = 4
	case info == 27:
		size = 8
	default:
		return 0, fmt.Errorf("CBOR additional information %d (indefinite lengths and reserved values are not accepted)", info)
	}
	if len(r.b) < 1+size {
		return 0, errCBOREnd
	}
	var v uint64
	for _, c := range r.b[1 : 1+size] {
		v = v<<8 | uint64(c)
	}
	r.b = r.b[1+size:]
	return v, nil
}

// bytes reads a definite-length byte string; the result aliases r's input.
func (r *cborReader) bytes() ([]byte, error) {
	n, err := r.head(majorBytes)
	if err != nil {
		return nil, err
	}
	if n > uint64(len(r.b)) {
		return nil, fmt.Errorf("CBOR byte string of %d bytes, only %d remain", n, len(r.b))
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v, nil
}
