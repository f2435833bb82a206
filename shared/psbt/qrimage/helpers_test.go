package qrimage

import (
	"bytes"
	"encoding/base32"
	"encoding/json"
	"image"
	"image/png"
	"math/rand"
	"os"
	"strings"
	"testing"
)

// publishedFrameSet is one entry of testdata/frames.json.
type publishedFrameSet struct {
	Name   string   `json:"name"`
	Frames []string `json:"frames"`
	Source string   `json:"source"`
}

func loadPublishedFrames(t testing.TB) []publishedFrameSet {
	t.Helper()
	data, err := os.ReadFile("testdata/frames.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Sets []publishedFrameSet `json:"sets"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Sets) == 0 {
		t.Fatal("testdata/frames.json holds no frame sets")
	}
	return file.Sets
}

// textFrom returns n characters drawn from alphabet with a fixed seed, so
// failures reproduce.
func textFrom(alphabet string, n int, seed int64) string {
	rng := rand.New(rand.NewSource(seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rng.Intn(len(alphabet))]
	}
	return string(b)
}

const (
	upperBytewords = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	alnumQR        = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
)

// urLikePart is an upper-case UR part of exactly n characters.
func urLikePart(n int, seed int64) string {
	head := "UR:CRYPTO-PSBT/12-30/"
	return head + textFrom(upperBytewords, n-len(head), seed)
}

// base32Part is a BBQr-style part: header then base32 of random bytes.
func base32Part(payloadBytes int, seed int64) string {
	rng := rand.New(rand.NewSource(seed))
	raw := make([]byte, payloadBytes)
	rng.Read(raw)
	return "B$2P0C00" + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw)
}

// roundTripFrames is the table the round-trip tests share.
func roundTripFrames() []struct{ name, frame string } {
	return []struct{ name, frame string }{
		{"short", "UR:BYTES/X"},
		{"one character", "A"},
		{"300-char upper-case UR part", urLikePart(300, 1)},
		{"1000-char upper-case UR part", urLikePart(1000, 2)},
		{"lower-case UR part", strings.ToLower(urLikePart(300, 3))},
		{"binary-looking base32 (BBQr)", base32Part(400, 4)},
		{"every QR alphanumeric character", alnumQR},
		{"mixed case and punctuation", "ur:crypto-psbt/1-3/LpAd?x=1&y=~_#" + textFrom(alnumQR+"abcxyz{}", 200, 5)},
		{"UTF-8 text", "€ ünïcödé ✓"},
	}
}

func mustEncodePNG(t testing.TB, frame string, opt Options) []byte {
	t.Helper()
	data, err := EncodePNG(frame, opt)
	if err != nil {
		t.Fatalf("EncodePNG(%.30q): %v", frame, err)
	}
	return data
}

func mustDecodePNG(t testing.TB, data []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return img
}
