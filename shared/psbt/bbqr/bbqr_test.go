package bbqr

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// vectors is testdata/bbqr.json: the BBQr specification's facts and test
// vectors with their sources.
type vectors struct {
	HeaderExamples []struct {
		Headers []string `json:"parts_headers"`
	} `json:"header_examples"`
	JoinVectors []struct {
		Name     string   `json:"name"`
		Parts    []string `json:"parts"`
		Expected struct {
			Encoding string `json:"encoding"`
			FileType string `json:"file_type"`
			NumParts int    `json:"num_parts"`
			Length   int    `json:"decoded_length"`
			SHA256   string `json:"decoded_sha256"`
		} `json:"expected"`
	} `json:"join_vectors"`
	DerivedJoin []struct {
		Name     string   `json:"name"`
		Parts    []string `json:"parts"`
		FileType string   `json:"expected_file_type"`
		SHA256   string   `json:"expected_sha256"`
		Hex      string   `json:"expected_hex"`
	} `json:"derived_join_vectors"`
	Invalid []struct {
		Name     string   `json:"name"`
		Parts    []string `json:"parts"`
		Expected string   `json:"expected"`
	} `json:"derived_invalid"`
	Samples []struct {
		Name   string `json:"name"`
		SHA256 string `json:"sha256"`
		Base64 string `json:"base64"`
	} `json:"sample_files"`
	Capacity struct {
		Rows [][]any `json:"rows"`
	} `json:"capacity_table"`
}

func load(t testing.TB) vectors {
	t.Helper()
	raw, err := os.ReadFile("testdata/bbqr.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func sum(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

func TestRealScan(t *testing.T) {
	v := load(t)
	if len(v.JoinVectors) == 0 {
		t.Fatal("no join vectors")
	}
	for _, jv := range v.JoinVectors {
		j := NewJoiner()
		for i, p := range jv.Parts {
			if err := j.Add(p); err != nil {
				t.Fatalf("%s: frame %d: %v", jv.Name, i, err)
			}
		}
		if have, total := j.Progress(); have != jv.Expected.NumParts || total != jv.Expected.NumParts {
			t.Fatalf("progress %d/%d", have, total)
		}
		typ, data, err := j.Result()
		if err != nil {
			t.Fatal(err)
		}
		if string(typ) != jv.Expected.FileType || len(data) != jv.Expected.Length || sum(data) != jv.Expected.SHA256 {
			t.Fatalf("%s: type %c, %d bytes, sha256 %s", jv.Name, typ, len(data), sum(data))
		}
		if !bytes.Contains(data, []byte("Zlib compressed")) || !bytes.Contains(data, []byte("PSBT")) {
			t.Fatal("the published assertions about the text do not hold")
		}
	}
}

func TestDerivedJoinVectors(t *testing.T) {
	v := load(t)
	if len(v.DerivedJoin) < 5 {
		t.Fatalf("only %d vectors", len(v.DerivedJoin))
	}
	for _, jv := range v.DerivedJoin {
		t.Run(jv.Name, func(t *testing.T) {
			typ, data, err := Join(jv.Parts)
			if err != nil {
				t.Fatal(err)
			}
			if string(typ) != jv.FileType {
				t.Fatalf("type %c", typ)
			}
			if jv.SHA256 != "" && sum(data) != jv.SHA256 {
				t.Fatalf("sha256 %s", sum(data))
			}
			if jv.Hex != "" && hex.EncodeToString(data) != jv.Hex {
				t.Fatalf("data %x", data)
			}
		})
	}
}

func TestInvalidVectors(t *testing.T) {
	v := load(t)
	if len(v.Invalid) < 10 {
		t.Fatalf("only %d vectors", len(v.Invalid))
	}
	for _, iv := range v.Invalid {
		t.Run(iv.Name, func(t *testing.T) {
			_, _, err := Join(iv.Parts)
			if err == nil {
				t.Fatal("accepted")
			}
			if strings.HasPrefix(iv.Expected, "incomplete") != errors.Is(err, ErrIncomplete) {
				t.Fatalf("want %s, got %v", iv.Expected, err)
			}
		})
	}
}

func TestSplitRoundTripsSampleFiles(t *testing.T) {
	v := load(t)
	if len(v.Samples) == 0 {
		t.Fatal("no samples")
	}
	for _, s := range v.Samples {
		data, err := base64.StdEncoding.DecodeString(s.Base64)
		if err != nil || sum(data) != s.SHA256 {
			t.Fatalf("%s: sample does not match its sha256 (%v)", s.Name, err)
		}
		for _, enc := range []Encoding{Hex, Base32} {
			for _, size := range []int{100, 468, 1588, 4296} {
				parts, err := Split(data, FilePSBT, enc, size)
				if errors.Is(err, ErrTooLarge) && 2*len(data)/(size-HeaderLen) > MaxParts/2 {
					continue // more parts than BBQr allows at this size: refused, rightly
				}
				if err != nil {
					t.Fatalf("%s %c %d: %v", s.Name, enc, size, err)
				}
				for i, p := range parts {
					if len(p) > size {
						t.Fatalf("part %d has %d characters, limit %d", i, len(p), size)
					}
					if i < len(parts)-1 && len(p) != len(parts[0]) {
						t.Fatalf("part %d differs in length from part 0", i)
					}
					if strings.ToUpper(p) != p {
						t.Fatalf("part %d is not upper case (QR alphanumeric mode)", i)
					}
				}
				// Shuffled, with repeats.
				shuffled := append(append([]string{}, parts...), parts[0])
				rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
				typ, got, err := Join(shuffled)
				if err != nil || typ != FilePSBT || !bytes.Equal(got, data) {
					t.Fatalf("%s %c %d: round trip failed: %v", s.Name, enc, size, err)
				}
			}
		}
	}
}

func TestHeaderExample(t *testing.T) {
	v := load(t)
	ex := v.HeaderExamples[0]
	parts, err := Split(make([]byte, 2150), FilePSBT, Hex, 2008)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != len(ex.Headers) {
		t.Fatalf("%d parts, the specification's example has %d", len(parts), len(ex.Headers))
	}
	for i, p := range parts {
		if p[:HeaderLen] != ex.Headers[i] {
			t.Fatalf("header %q, want %q", p[:HeaderLen], ex.Headers[i])
		}
	}
}

func TestRefusals(t *testing.T) {
	good, _ := Split([]byte("hello world, this is a test file"), FilePSBT, Base32, 30)
	other, _ := Split([]byte("another file entirely, not the same"), FilePSBT, Base32, 30)
	if len(good) < 2 || len(other) < 2 {
		t.Fatal("want multi-part fixtures")
	}
	j := NewJoiner()
	if err := j.Add(good[0]); err != nil {
		t.Fatal(err)
	}
	if err := j.Add(other[0]); !errors.Is(err, ErrMixedMessages) {
		t.Fatalf("a different part 0: %v", err)
	}
	hexParts, _ := Split([]byte("hello world, this is a test file"), FilePSBT, Hex, 30)
	if err := j.Add(hexParts[1]); !errors.Is(err, ErrMixedMessages) {
		t.Fatalf("another encoding: %v", err)
	}
	if _, err := Split([]byte("x"), FilePSBT, Zlib, 100); !errors.Is(err, ErrNotImplemented) {
		t.Fatalf("writing Z: %v", err)
	}
	if _, err := Split(make([]byte, 5000), FilePSBT, Hex, 12); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("too many parts: %v", err)
	}
	// A zip bomb: a few kilobytes that inflate past the limit.
	var bomb bytes.Buffer
	w, _ := newDeflater(&bomb)
	_, _ = w.Write(make([]byte, MaxOutput+1024))
	_ = w.Close()
	parts := []string{header(Zlib, 'B', 1, 0) + b32.EncodeToString(bomb.Bytes())}
	if _, _, err := Join(parts); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("zip bomb: %v", err)
	}
}

func FuzzJoin(f *testing.F) {
	v := load(f)
	for _, jv := range v.DerivedJoin {
		f.Add(strings.Join(jv.Parts, "\n"))
	}
	for _, iv := range v.Invalid {
		f.Add(strings.Join(iv.Parts, "\n"))
	}
	f.Fuzz(func(t *testing.T, s string) {
		typ, data, err := Join(strings.Split(s, "\n"))
		if err != nil {
			return
		}
		if len(data) > MaxOutput || !validFileType(typ) {
			t.Fatalf("accepted %d bytes of type %q", len(data), typ)
		}
	})
}
