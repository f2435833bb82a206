package psbt

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/chaincfg"
)

func TestDecodeForms(t *testing.T) {
	w := loadVectorWallet(t)
	bin := mustEncode(t, fixture(t, w))
	b64 := base64.StdEncoding.EncodeToString(bin)
	hx := hex.EncodeToString(bin)

	tests := []struct {
		name string
		in   []byte
	}{
		{"binary", bin},
		{"base64", []byte(b64)},
		{"base64 with surrounding white space", []byte("\n  " + b64 + "\r\n\t")},
		{"base64 wrapped at 64 columns", []byte(wrap(b64, 64))},
		{"hex", []byte(hx)},
		{"upper-case hex", []byte(strings.ToUpper(hx))},
		{"hex with a trailing newline", []byte(hx + "\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Decode(tt.in, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := mustEncode(t, p); !bytes.Equal(got, bin) {
				t.Fatalf("decoded to a different PSBT:\n got %x\nwant %x", got, bin)
			}
		})
	}
}

func wrap(s string, n int) string {
	var b strings.Builder
	for len(s) > n {
		b.WriteString(s[:n] + "\n")
		s = s[n:]
	}
	return b.String() + s + "\n"
}

func TestDecodeRefusesBadText(t *testing.T) {
	w := loadVectorWallet(t)
	bin := mustEncode(t, fixture(t, w))
	b64 := base64.StdEncoding.EncodeToString(bin)
	hx := hex.EncodeToString(bin)

	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"only white space", []byte(" \n\t"), ErrMalformed},
		{"not a PSBT", []byte("hello world"), ErrMalformed},
		{"a raw transaction in hex", []byte("0200000001" + strings.Repeat("00", 60)), ErrMalformed},
		{"base64 cut mid-group", []byte(b64[:len(b64)-2]), ErrMalformed},
		{"base64 with a stray character", []byte(b64[:20] + "*" + b64[21:]), ErrMalformed},
		{"hex of odd length", []byte(hx[:len(hx)-1]), ErrMalformed},
		{"hex with a non-hex character", []byte(hx[:30] + "zz" + hx[32:]), ErrMalformed},
		{"binary followed by a newline", append(append([]byte{}, bin...), '\n'), ErrTrailingData},
		{"base64 of a truncated PSBT", []byte(base64.StdEncoding.EncodeToString(bin[:len(bin)-3])), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.in, 0)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestDecodeSizeLimit(t *testing.T) {
	w := loadVectorWallet(t)
	bin := mustEncode(t, fixture(t, w))
	b64 := []byte(base64.StdEncoding.EncodeToString(bin))

	tests := []struct {
		name    string
		in      []byte
		maxSize int
		want    error
	}{
		{"binary at the limit", bin, len(bin), nil},
		{"binary one byte over", bin, len(bin) - 1, ErrTooLarge},
		{"base64 over the limit though its PSBT fits", b64, len(bin), ErrTooLarge},
		{"base64 at the limit", b64, len(b64), nil},
		{"garbage over the limit is refused for its size", bytes.Repeat([]byte("x"), 100), 99, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.in, tt.maxSize)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			r := &countingReader{r: bytes.NewReader(tt.in)}
			_, err = DecodeReader(r, tt.maxSize)
			if !errors.Is(err, tt.want) {
				t.Fatalf("DecodeReader: got %v, want %v", err, tt.want)
			}
			if r.n > tt.maxSize+1 {
				t.Fatalf("DecodeReader read %d bytes with a limit of %d", r.n, tt.maxSize)
			}
		})
	}
}

func TestDecodeReaderStopsReading(t *testing.T) {
	r := &countingReader{r: endless{}}
	_, err := DecodeReader(r, 1000)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
	if r.n != 1001 {
		t.Fatalf("read %d bytes, want 1001", r.n)
	}
}

func TestDecodeReaderPassesReadErrors(t *testing.T) {
	failure := errors.New("disk on fire")
	_, err := DecodeReader(io.MultiReader(strings.NewReader("cHNidP8"), errReader{failure}), 0)
	if !errors.Is(err, failure) {
		t.Fatalf("got %v, want the read error", err)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'A'
	}
	return len(p), nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// TestRoundTrip encodes PSBTs at every stage of their life, decodes them and
// encodes again: the bytes must not change.
func TestRoundTrip(t *testing.T) {
	w := loadVectorWallet(t)
	signed := fixture(t, w)
	signFixture(t, w, signed, false)
	final := fixture(t, w)
	signFixture(t, w, final, true)
	withUnknowns := fixture(t, w)
	withUnknowns.Unknowns = append(withUnknowns.Unknowns, &btcpsbt.Unknown{Key: []byte{0xfc, 0x03, 'a', 'b', 'c', 0x01}, Value: []byte("kept")})
	withUnknowns.Inputs[0].Unknowns = append(withUnknowns.Inputs[0].Unknowns, &btcpsbt.Unknown{Key: []byte{0x1f, 0x01}, Value: []byte{0x02}})

	tests := []struct {
		name string
		p    *btcpsbt.Packet
	}{
		{"unsigned", fixture(t, w)},
		{"signed", signed},
		{"finalized", final},
		{"with unknown and proprietary fields", withUnknowns},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := mustEncode(t, tt.p)
			p, err := Decode(first, 0)
			if err != nil {
				t.Fatal(err)
			}
			if second := mustEncode(t, p); !bytes.Equal(first, second) {
				t.Fatalf("round trip changed the bytes:\n got %x\nwant %x", second, first)
			}
			text, err := EncodeBase64(p)
			if err != nil {
				t.Fatal(err)
			}
			p2, err := Decode([]byte(text), 0)
			if err != nil {
				t.Fatal(err)
			}
			if third := mustEncode(t, p2); !bytes.Equal(first, third) {
				t.Fatal("base64 round trip changed the bytes")
			}
		})
	}
}

func TestEncodeRefusesInconsistentPacket(t *testing.T) {
	w := loadVectorWallet(t)
	p := fixture(t, w)
	p.Outputs = p.Outputs[:1]
	if _, err := EncodeBinary(p); !errors.Is(err, ErrMalformed) {
		t.Fatalf("got %v, want ErrMalformed", err)
	}
	if _, err := EncodeBinary(nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("nil packet: got %v, want ErrMalformed", err)
	}
}

// publishedPSBT is one entry of testdata/published_psbts.json: real PSBTs
// from Coinkite's BBQr test data, with their published SHA-256.
type publishedPSBT struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Base64 string `json:"base64"`
}

func loadPublishedPSBTs(t testing.TB) []publishedPSBT {
	t.Helper()
	data, err := os.ReadFile("testdata/published_psbts.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		PSBTs []publishedPSBT `json:"psbts"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.PSBTs) == 0 {
		t.Fatal("no published PSBTs")
	}
	return file.PSBTs
}

func TestPublishedPSBTs(t *testing.T) {
	for _, v := range loadPublishedPSBTs(t) {
		t.Run(v.Name, func(t *testing.T) {
			raw, err := base64.StdEncoding.DecodeString(v.Base64)
			if err != nil {
				t.Fatal(err)
			}
			if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != v.SHA256 {
				t.Fatal("test vector does not match its published SHA-256")
			}
			p, err := Decode(raw, 0)
			if err != nil {
				t.Fatal(err)
			}
			fromText, err := Decode([]byte(v.Base64), 0)
			if err != nil {
				t.Fatal(err)
			}
			first := mustEncode(t, p)
			if !bytes.Equal(first, mustEncode(t, fromText)) {
				t.Fatal("binary and base64 forms decode differently")
			}
			again, err := Decode(first, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(first, mustEncode(t, again)) {
				t.Fatal("re-encoding is not stable")
			}
			s, err := Summarize(p, &chaincfg.TestNet3Params)
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Inputs) != len(p.UnsignedTx.TxIn) || len(s.Outputs) != len(p.UnsignedTx.TxOut) {
				t.Fatal("summary lost inputs or outputs")
			}
		})
	}
}
