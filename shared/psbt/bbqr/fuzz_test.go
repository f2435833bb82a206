package bbqr

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// FuzzBBQrJoin feeds newline-separated parts to a Joiner: it must never
// panic, and return a file only within the limits, of a valid type, with
// every part received.
func FuzzBBQrJoin(f *testing.F) {
	v := loadVectors(f)
	for _, jv := range v.JoinVectors { // two frames: the whole 26-frame scan makes minimizing crawl
		f.Add(strings.Join(jv.Parts[:2], "\n"))
	}
	for _, jv := range v.DerivedJoin {
		f.Add(strings.Join(jv.Parts, "\n"))
	}
	for _, iv := range v.DerivedInvalid {
		f.Add(strings.Join(iv.Parts, "\n"))
	}
	f.Add("B$ZB0100" + strings.Repeat("A", 64))
	f.Fuzz(func(t *testing.T, input string) {
		j := NewJoiner()
		for _, p := range strings.Split(input, "\n") {
			err := j.Add(p)
			if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrMixedMessages) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error outside the documented kinds: %v", err)
			}
			if have, total := j.Progress(); have < 0 || have > total || total > MaxParts {
				t.Fatalf("progress %d/%d", have, total)
			}
		}
		typ, data, err := j.Result()
		if err != nil {
			return
		}
		if !j.Complete() || len(data) > MaxFileLen || !validFileType(typ) {
			t.Fatalf("accepted %d bytes of type %q", len(data), typ)
		}
	})
}

// FuzzBBQrSplitJoin splits any bytes at any size and joins them back.
func FuzzBBQrSplitJoin(f *testing.F) {
	f.Add([]byte("psbt\xff"), uint16(30), false)
	f.Add(bytes.Repeat([]byte{0xa5}, 300), uint16(40), true)
	f.Fuzz(func(t *testing.T, data []byte, maxChars uint16, base32 bool) {
		enc := Hex
		if base32 {
			enc = Base32
		}
		parts, err := Split(data, FilePSBT, enc, int(maxChars))
		if err != nil {
			return
		}
		for _, p := range parts {
			if len(p) > int(maxChars) {
				t.Fatalf("a part of %d characters, the limit %d", len(p), maxChars)
			}
		}
		typ, got, err := Join(parts)
		if err != nil || typ != FilePSBT || !bytes.Equal(got, data) {
			t.Fatalf("%x at %d: %v", data, maxChars, err)
		}
	})
}
