package hdkeys

import (
	"fmt"
	"strings"
)

// Descriptor checksums as specified by BIP380: a BCH code over the
// descriptor's characters, written as 8 bech32 characters after a '#'.

const (
	descriptorCharset = "0123456789()[],'/*abcdefgh@:$%{}" +
		"IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~" +
		"ijklmnopqrstuvwxyzABCDEFGH`#\"\\ "
	checksumCharset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
	checksumLen     = 8
)

var checksumGenerator = [5]uint64{0xf5dee51989, 0xa9fdca3312, 0x1bab10e32d, 0x3706b1677a, 0x644d626ffd}

// descriptorSymbol maps a byte to its position in descriptorCharset, or -1.
var descriptorSymbol = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(descriptorCharset); i++ {
		t[descriptorCharset[i]] = int8(i)
	}
	return t
}()

func checksumPolymod(c, value uint64) uint64 {
	top := c >> 35
	c = (c&0x7ffffffff)<<5 ^ value
	for i, g := range checksumGenerator {
		if (top>>i)&1 == 1 {
			c ^= g
		}
	}
	return c
}

// descriptorChecksum computes the 8-character checksum of a descriptor
// without its '#' part.
func descriptorChecksum(s string) (string, error) {
	c := uint64(1)
	groups, count := uint64(0), 0
	for i := 0; i < len(s); i++ {
		pos := descriptorSymbol[s[i]]
		if pos < 0 {
			return "", fmt.Errorf("%w: character at position %d is not allowed in a descriptor", ErrMalformed, i)
		}
		c = checksumPolymod(c, uint64(pos)&31)
		groups = groups*3 + uint64(pos)>>5
		count++
		if count == 3 {
			c = checksumPolymod(c, groups)
			groups, count = 0, 0
		}
	}
	if count > 0 {
		c = checksumPolymod(c, groups)
	}
	for range checksumLen {
		c = checksumPolymod(c, 0)
	}
	c ^= 1
	var out [checksumLen]byte
	for i := range out {
		out[i] = checksumCharset[(c>>(5*(7-i)))&31]
	}
	return string(out[:]), nil
}

// withChecksum appends "#checksum" to a descriptor built by this package
// (always in the descriptor character set).
func withChecksum(body string) string {
	sum, err := descriptorChecksum(body)
	if err != nil {
		panic("hdkeys: built a descriptor outside the BIP380 character set: " + err.Error())
	}
	return body + "#" + sum
}

// stripChecksum splits "body#checksum", verifying the checksum if present.
// Text without a '#' is returned unchanged.
func stripChecksum(s string) (string, error) {
	body, sum, found := strings.Cut(s, "#")
	if !found {
		return s, nil
	}
	if strings.Contains(sum, "#") {
		return "", fmt.Errorf("%w: more than one '#'", ErrMalformed)
	}
	if len(sum) != checksumLen {
		return "", fmt.Errorf("%w: checksum must be %d characters, got %d", ErrMalformed, checksumLen, len(sum))
	}
	want, err := descriptorChecksum(body)
	if err != nil {
		return "", err
	}
	if sum != want {
		return "", ErrChecksum
	}
	return body, nil
}
