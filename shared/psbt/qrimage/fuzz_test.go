package qrimage

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"testing"
	"time"
	"unicode/utf8"
)

// fuzzLimits are smaller than the defaults so that each input that claims
// the largest allowed size stays quick; the checks are the same code.
var fuzzLimits = limits{side: 256, fileBytes: 1 << 20, decodedBytes: 1 << 20, frames: 16, gifPixels: 1 << 18}

var decodeSentinels = []error{ErrNoQRCode, ErrNotImage, ErrImageTooLarge, ErrFileTooLarge, ErrTooManyFrames, ErrNotText, ErrSeveralQRCodes}

func checkDecodeOutcome(t *testing.T, texts []string, err error) {
	t.Helper()
	if err != nil {
		for _, s := range decodeSentinels {
			if errors.Is(err, s) {
				return
			}
		}
		t.Fatalf("error %q wraps none of the package's sentinel errors", err)
	}
	if len(texts) == 0 {
		t.Fatal("no error and no text")
	}
	for _, s := range texts {
		if !utf8.ValidString(s) {
			t.Fatalf("decoded text %q is not UTF-8", s)
		}
	}
}

func FuzzDecodeImageBytes(f *testing.F) {
	small := Options{ModulePixels: 2, Border: 2}
	f.Add(mustEncodePNG(f, "UR:BYTES/X", small))
	f.Add(mustEncodePNG(f, "ur:bytes/lower", Options{ModulePixels: 1, Border: 4}))
	var jpg bytes.Buffer
	if err := jpeg.Encode(&jpg, mustDecodePNG(f, mustEncodePNG(f, "UR:BYTES/JPEG", small)), nil); err != nil {
		f.Fatal(err)
	}
	f.Add(jpg.Bytes())
	var anim bytes.Buffer
	if err := WriteGIF(&anim, []string{"UR:BYTES/1-2/A", "UR:BYTES/2-2/BB"}, 100*time.Millisecond, small); err != nil {
		f.Fatal(err)
	}
	f.Add(anim.Bytes())
	f.Add(gifHeaderOnly(4, 4))
	f.Add(gifHeaderOnly(65535, 65535))
	f.Add(pngHeaderOnly(100000, 100000))
	f.Add(pngHeaderOnly(200, 200))
	f.Add(jpegHeaderOnly(200, 200))
	f.Add([]byte("ur:crypto-psbt/not an image"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		texts, err := decodeBytes(data, fuzzLimits)
		checkDecodeOutcome(t, texts, err)
	})
}

// FuzzDecodeLuminance feeds arbitrary pixels straight to the QR reader, so
// mutations land in module data rather than in file headers. The first byte
// is the width less one; each further bit is one pixel, 1 for dark, so that
// inputs stay short and the fuzzer's minimisation (quadratic in the input
// length) stays quick.
func FuzzDecodeLuminance(f *testing.F) {
	for _, tc := range []struct {
		frame string
		opt   Options
	}{
		{"UR:BYTES/X", Options{ModulePixels: 1, Border: 2}},
		{"ur:bytes/lower", Options{ModulePixels: 1, Border: 1}},
		{urLikePart(60, 60), Options{ModulePixels: 1, Border: 1}},
	} {
		img := mustDecodePNG(f, mustEncodePNG(f, tc.frame, tc.opt))
		f.Add(packPixels(img.Bounds().Dx(), luminance(img)))
	}
	f.Add([]byte{0, 1, 2, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		img := unpackPixels(data)
		if img == nil {
			return
		}
		if text, err := decodeImage(img, fuzzLimits.side); err == nil {
			checkDecodeOutcome(t, []string{text}, nil)
		} else {
			checkDecodeOutcome(t, nil, err)
		}
	})
}

// packPixels is the inverse of unpackPixels for a width of 1 to 256.
func packPixels(width int, lum []byte) []byte {
	out := make([]byte, 1+(len(lum)+7)/8)
	out[0] = byte(width - 1)
	for i, v := range lum {
		if v < 128 {
			out[1+i/8] |= 1 << (i % 8)
		}
	}
	return out
}

func unpackPixels(data []byte) *image.Gray {
	if len(data) < 2 {
		return nil
	}
	w := int(data[0]) + 1
	bits := data[1:]
	h := 8 * len(bits) / w
	if h == 0 || h > fuzzLimits.side {
		return nil
	}
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		if bits[i/8]&(1<<(i%8)) == 0 {
			img.Pix[i] = 255
		}
	}
	return img
}

// The packed seeds must be readable codes, or the luminance fuzzer starts
// from noise.
func TestPackedPixelsSeedsDecode(t *testing.T) {
	frame := "UR:BYTES/X"
	img := mustDecodePNG(t, mustEncodePNG(t, frame, Options{ModulePixels: 1, Border: 2}))
	unpacked := unpackPixels(packPixels(img.Bounds().Dx(), luminance(img)))
	if unpacked.Bounds() != img.Bounds() {
		t.Fatalf("unpacked to %v, want %v", unpacked.Bounds(), img.Bounds())
	}
	if got, err := DecodeImage(unpacked); err != nil || got != frame {
		t.Fatalf("got %q, %v; want %q", got, err, frame)
	}
}
