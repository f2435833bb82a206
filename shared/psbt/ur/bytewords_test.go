package ur

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"
)

func TestBytewordsTableMatchesVectors(t *testing.T) {
	v := loadVectors(t)
	if len(v.Bytewords.Wordlist) != 256 {
		t.Fatalf("%d words in the vectors", len(v.Bytewords.Wordlist))
	}
	for i, w := range v.Bytewords.Wordlist {
		if bytewords[i] != w {
			t.Fatalf("byte %#02x: table has %q, the specification %q", i, bytewords[i], w)
		}
	}
}

func TestBytewordsVectors(t *testing.T) {
	v := loadVectors(t)
	if len(v.Bytewords.Vectors) != 5 {
		t.Fatalf("%d vectors, want 5", len(v.Bytewords.Vectors))
	}
	for _, tc := range v.Bytewords.Vectors {
		t.Run(tc.Name, func(t *testing.T) {
			var in []byte
			switch {
			case tc.BodyHex != "":
				in = unhex(t, tc.BodyHex)
			case tc.InputHex != "":
				in = unhex(t, tc.InputHex)
			default:
				for _, c := range tc.Input {
					in = append(in, byte(c))
				}
			}
			if tc.InputHex != "" && len(tc.Input) > 0 {
				for i, c := range tc.Input {
					if in[i] != byte(c) {
						t.Fatalf("input_hex and input_bytes disagree at %d", i)
					}
				}
			}
			if tc.CRC32 != "" {
				if got := fmt.Sprintf("%08x", crc32.ChecksumIEEE(in)); got != tc.CRC32 {
					t.Fatalf("crc32 %s, want %s", got, tc.CRC32)
				}
			}
			for _, c := range []struct {
				style bytewordStyle
				want  string
			}{{styleStandard, tc.Standard}, {styleURI, tc.URI}, {styleMinimal, tc.Minimal}} {
				if c.want == "" {
					continue // this vector publishes only some styles
				}
				if got := encodeBytewords(in, c.style); got != c.want {
					t.Fatalf("style %d: got %s\nwant %s", c.style, got, c.want)
				}
				for _, text := range []string{c.want, strings.ToUpper(c.want)} {
					back, err := decodeBytewords(text, c.style)
					if err != nil || !bytes.Equal(back, in) {
						t.Fatalf("style %d: decoding %q: %x, %v", c.style, text, back, err)
					}
				}
			}
		})
	}
}

func TestBytewordsInvalid(t *testing.T) {
	v := loadVectors(t)
	styles := map[string]bytewordStyle{"standard": styleStandard, "uri": styleURI, "minimal": styleMinimal}
	if len(v.Bytewords.Invalid) != 5 {
		t.Fatalf("%d invalid vectors, want 5", len(v.Bytewords.Invalid))
	}
	for _, tc := range v.Bytewords.Invalid {
		style, ok := styles[tc.Style]
		if !ok {
			t.Fatalf("unknown style %q", tc.Style)
		}
		_, err := decodeBytewords(tc.Input, style)
		wantErr := ErrInvalidPart
		if tc.Reason == "bad checksum" {
			wantErr = ErrChecksum
		}
		if !errors.Is(err, wantErr) {
			t.Errorf("%s %q (%s): got %v, want %v", tc.Style, tc.Input, tc.Reason, err, wantErr)
		}
	}
}

// Malformed spellings beyond the published ones.
func TestBytewordsMalformed(t *testing.T) {
	good := encodeBytewords([]byte{1, 2, 3}, styleMinimal)
	for _, tc := range []struct {
		name  string
		text  string
		style bytewordStyle
	}{
		{"odd letter count", good[1:], styleMinimal},
		{"not a byteword pair", "qq" + good[2:], styleMinimal},
		{"non-letter", "1" + good[1:], styleMinimal},
		{"non-ASCII", "é" + good[2:], styleMinimal},
		{"word of the wrong length", "able acid also lava zoom jade need echo tax", styleStandard},
		{"right first and last letter, wrong word", "able acid also lava zoom jade need echo tuxi", styleStandard},
		{"double separator", "able  acid also lava zoom jade need echo taxi", styleStandard},
		{"uri style read as standard", "able-acid-also-lava-zoom-jade-need-echo-taxi", styleStandard},
		{"checksum only", encodeBytewords(nil, styleMinimal), styleMinimal},
	} {
		if _, err := decodeBytewords(tc.text, tc.style); err == nil {
			t.Errorf("%s: %q accepted", tc.name, tc.text)
		}
	}
}

func TestCRC32Vectors(t *testing.T) {
	v := loadVectors(t)
	if len(v.CRC32) != 2 {
		t.Fatalf("%d vectors", len(v.CRC32))
	}
	for _, tc := range v.CRC32 {
		if got := fmt.Sprintf("%08x", crc32.ChecksumIEEE([]byte(tc.Input))); got != tc.Hex {
			t.Errorf("crc32(%q) = %s, want %s", tc.Input, got, tc.Hex)
		}
	}
}
