package passphrase

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// FuzzReadLine feeds arbitrary bytes to the --passphrase-fd reader: it must
// return the first line (without "\n" or a final "\r"), at most MaxLength
// bytes, never reading past the first newline, or fail with ErrEmpty or
// ErrTooLong.
func FuzzReadLine(f *testing.F) {
	for _, s := range []string{"secret\n", "secret\r\n", "secret", "", "\n", "a\nb\n", "\r", "\xff\xfe\x00\n",
		strings.Repeat("x", MaxLength), strings.Repeat("x", MaxLength+1)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		got, err := readOne(&lineSource{r: r}, "")
		consumed := len(data) - r.Len()
		line, _, hasNewline := bytes.Cut(data, []byte("\n"))
		if err != nil {
			switch {
			case errors.Is(err, ErrTooLong):
				if len(line) <= MaxLength {
					t.Fatalf("ErrTooLong for a line of %d bytes", len(line))
				}
			case errors.Is(err, ErrEmpty):
				if len(bytes.TrimSuffix(line, []byte("\r"))) != 0 {
					t.Fatalf("ErrEmpty for line %q", line)
				}
			default:
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		want := line
		if hasNewline {
			want = bytes.TrimSuffix(line, []byte("\r"))
			if consumed != len(line)+1 {
				t.Fatalf("consumed %d bytes, want %d (the line and its newline)", consumed, len(line)+1)
			}
		}
		if !bytes.Equal(got, want) || len(got) > MaxLength {
			t.Fatalf("got %q, want %q", got, want)
		}
	})
}
