package qrimage

import (
	"bytes"
	"image/png"
	"testing"
)

// A typical frame: a 300-character upper-case UR part (version 9, level L)
// at the default 8 pixels per module, 488x488 pixels.

func BenchmarkEncodePNG(b *testing.B) {
	frame := urLikePart(300, 100)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodePNG(frame, DefaultOptions()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

func benchmarkDecode(b *testing.B, data []byte, frame string) {
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		texts, err := DecodeBytes(data)
		if err != nil || texts[0] != frame {
			b.Fatalf("got %q, %v", texts, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

// BenchmarkDecodePNG decodes PNG bytes to text: PNG decoding, luminance and
// the QR reader.
func BenchmarkDecodePNG(b *testing.B) {
	frame := urLikePart(300, 100)
	benchmarkDecode(b, mustEncodePNG(b, frame, DefaultOptions()), frame)
}

// BenchmarkDecodePNGInverted is a light-on-dark code: every reader fails on
// the image as given before the inverted one succeeds.
func BenchmarkDecodePNGInverted(b *testing.B) {
	frame := urLikePart(300, 100)
	var buf bytes.Buffer
	if err := png.Encode(&buf, invert(mustDecodePNG(b, mustEncodePNG(b, frame, DefaultOptions())))); err != nil {
		b.Fatal(err)
	}
	benchmarkDecode(b, buf.Bytes(), frame)
}
