package qrimage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	qrcode "github.com/skip2/go-qrcode"
)

// pngHeaderOnly is a PNG signature, an IHDR chunk claiming the given size
// (8-bit RGBA) and IEND: no pixel data at all.
func pngHeaderOnly(width, height uint32) []byte {
	return pngHeaderOnlyDepth(width, height, 8)
}

func pngHeaderOnlyDepth(width, height uint32, depth byte) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(kind string, data []byte) {
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		crc := crc32.NewIEEE()
		crc.Write([]byte(kind))
		crc.Write(data)
		b.WriteString(kind)
		b.Write(data)
		binary.Write(&b, binary.BigEndian, crc.Sum32())
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], width)
	binary.BigEndian.PutUint32(ihdr[4:], height)
	ihdr[8], ihdr[9] = depth, 6 // colour type RGBA
	chunk("IHDR", ihdr)
	chunk("IEND", nil)
	return b.Bytes()
}

// jpegHeaderOnly is SOI, a baseline SOF0 segment claiming the given size
// (one component) and an SOS header with no scan data. Without a JFIF APP0
// segment, image/jpeg reads up to SOS before it reports the size.
func jpegHeaderOnly(width, height uint16) []byte {
	b := []byte{0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 8, byte(height >> 8), byte(height), byte(width >> 8), byte(width), 1, 1, 0x11, 0}
	b = append(b, 0xFF, 0xDA, 0x00, 0x08, 1, 1, 0x00, 0, 63, 0)
	return append(b, 0xFF, 0xD9)
}

// gifHeaderOnly is a GIF89a logical screen of the given size with one
// 1x1 frame.
func gifHeaderOnly(width, height uint16) []byte {
	b := []byte("GIF89a")
	b = append(b, byte(width), byte(width>>8), byte(height), byte(height>>8), 0x80, 0, 0)
	b = append(b, 0, 0, 0, 255, 255, 255) // global colour table: black, white
	b = append(b, gifImageDescriptor, 0, 0, 0, 0, 1, 0, 1, 0, 0)
	b = append(b, 2, 2, 0x4C, 0x01, 0, gifTrailer) // LZW: clear, 1, end
	return b
}

func TestOversizedImagesRefusedBeforeDecoding(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"PNG claiming 100000x100000", pngHeaderOnly(100000, 100000)},
		{"PNG one pixel too wide", pngHeaderOnly(MaxImageSide+1, 1)},
		{"PNG one pixel too tall", pngHeaderOnly(1, MaxImageSide+1)},
		{"JPEG claiming 65535x65535", jpegHeaderOnly(65535, 65535)},
		{"GIF screen 65535x65535", gifHeaderOnly(65535, 65535)},
		{"16-bit RGBA PNG of 8192x8192 (512 MiB decoded)", pngHeaderOnlyDepth(MaxImageSide, MaxImageSide, 16)},
		{"16-bit RGBA PNG of 6000x6000 (275 MiB decoded)", pngHeaderOnlyDepth(6000, 6000, 16)},
	}
	dir := t.TempDir()
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.Repeat("x", i+1)+".img")
			if err := os.WriteFile(path, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := DecodeFile(path)
			if !errors.Is(err, ErrImageTooLarge) {
				t.Fatalf("got %v, want ErrImageTooLarge", err)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
	// At the limit the header is accepted and decoding is attempted: these
	// files then fail for lack of pixel data, not for their size.
	for _, data := range [][]byte{pngHeaderOnly(MaxImageSide, MaxImageSide), jpegHeaderOnly(MaxImageSide, MaxImageSide)} {
		if _, err := DecodeBytes(data); !errors.Is(err, ErrNotImage) {
			t.Errorf("header at the size limit: got %v, want ErrNotImage", err)
		}
	}
}

func TestDecodeImageRefusesOversizedImage(t *testing.T) {
	// An image.Image with huge bounds but no pixel storage: it must be
	// refused before luminance() allocates for it.
	huge := image.NewUniform(color.White)
	if _, err := DecodeImage(huge); !errors.Is(err, ErrImageTooLarge) {
		t.Fatalf("got %v, want ErrImageTooLarge", err)
	}
}

func TestDecodeFileFailures(t *testing.T) {
	dir := t.TempDir()
	blank := image.NewGray(image.Rect(0, 0, 200, 200))
	draw.Draw(blank, blank.Bounds(), image.White, image.Point{}, draw.Src)
	var blankPNG bytes.Buffer
	if err := png.Encode(&blankPNG, blank); err != nil {
		t.Fatal(err)
	}
	valid := mustEncodePNG(t, "UR:BYTES/X", DefaultOptions())
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"text file", []byte("ur:crypto-psbt/not an image\n"), ErrNotImage},
		{"empty file", nil, ErrNotImage},
		{"truncated PNG", valid[:len(valid)/2], ErrNotImage},
		{"BMP (not supported)", append([]byte("BM"), make([]byte, 60)...), ErrNotImage},
		{"white PNG without a QR code", blankPNG.Bytes(), ErrNoQRCode},
		{"truncated GIF", gifHeaderOnly(10, 10)[:20], ErrNotImage},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "file"+strings.Repeat("z", i)+".png")
			if err := os.WriteFile(path, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			texts, err := DecodeFile(path)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %q, %v; want %v", texts, err, tc.want)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
	missing := filepath.Join(dir, "missing.png")
	if _, err := DecodeFile(missing); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: got %v", err)
	}
}

func TestFileTooLarge(t *testing.T) {
	lim := defaultLimits
	lim.fileBytes = 100
	valid := mustEncodePNG(t, "A", Options{ModulePixels: 1, Border: 4})
	if len(valid) <= lim.fileBytes {
		t.Fatalf("test PNG is only %d bytes", len(valid))
	}
	if _, err := decodeBytes(valid, lim); !errors.Is(err, ErrFileTooLarge) {
		t.Fatalf("decodeBytes: got %v, want ErrFileTooLarge", err)
	}
	path := filepath.Join(t.TempDir(), "big.png")
	if err := os.WriteFile(path, valid, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readFileLimited(path, lim.fileBytes); !errors.Is(err, ErrFileTooLarge) {
		t.Fatalf("readFileLimited: got %v, want ErrFileTooLarge", err)
	}
	if data, err := readFileLimited(path, len(valid)); err != nil || !bytes.Equal(data, valid) {
		t.Fatalf("readFileLimited at exactly the limit: %v", err)
	}
}

// asImageTypes redraws a black-on-white image as each image type the
// decoder has a path for.
func asImageTypes(src image.Image) map[string]image.Image {
	b := src.Bounds()
	gray := image.NewGray(b)
	rgba := image.NewRGBA(b)
	nrgba := image.NewNRGBA(b)
	rgba64 := image.NewRGBA64(b) // the generic path
	transparent := image.NewNRGBA(b)
	offset := image.NewGray(b.Add(image.Pt(-7, 13))) // bounds not at the origin
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := src.At(x, y)
			gray.Set(x, y, c)
			rgba.Set(x, y, c)
			nrgba.Set(x, y, c)
			rgba64.Set(x, y, c)
			offset.Set(x-7, y+13, c)
			if l := color.GrayModel.Convert(c).(color.Gray).Y; l < 128 {
				transparent.Set(x, y, color.NRGBA{0, 0, 80, 255})
			} else {
				transparent.Set(x, y, color.NRGBA{0, 0, 0, 0}) // light modules: see-through
			}
		}
	}
	ycbcr := image.NewYCbCr(b, image.YCbCrSubsampleRatio420)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			ycbcr.Y[ycbcr.YOffset(x, y)] = gray.GrayAt(x, y).Y
		}
	}
	for i := range ycbcr.Cb {
		ycbcr.Cb[i], ycbcr.Cr[i] = 128, 128
	}
	return map[string]image.Image{
		"Gray": gray, "RGBA": rgba, "NRGBA": nrgba, "RGBA64": rgba64, "YCbCr": ycbcr,
		"transparent background": transparent, "bounds off the origin": offset,
	}
}

func TestDecodeImageTypes(t *testing.T) {
	frame := urLikePart(300, 30)
	src := mustDecodePNG(t, mustEncodePNG(t, frame, Options{ModulePixels: 4, Border: 4}))
	for name, img := range asImageTypes(src) {
		t.Run(name, func(t *testing.T) {
			got, err := DecodeImage(img)
			if err != nil {
				t.Fatal(err)
			}
			if got != frame {
				t.Fatalf("got %q, want %q", got, frame)
			}
		})
	}
}

// invert swaps light and dark, as a dark-mode screenshot shows a code.
func invert(src image.Image) *image.Gray {
	b := src.Bounds()
	out := image.NewGray(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			out.SetGray(x, y, color.Gray{Y: 255 - color.GrayModel.Convert(src.At(x, y)).(color.Gray).Y})
		}
	}
	return out
}

func TestDecodeInvertedAndJPEG(t *testing.T) {
	for _, tc := range roundTripFrames() {
		t.Run(tc.name, func(t *testing.T) {
			src := mustDecodePNG(t, mustEncodePNG(t, tc.frame, Options{ModulePixels: 4, Border: 4}))
			inverted := invert(src)
			got, err := DecodeImage(inverted)
			if err != nil || got != tc.frame {
				t.Fatalf("inverted: got %q, %v; want %q", got, err, tc.frame)
			}
			for name, img := range map[string]image.Image{"JPEG": src, "inverted JPEG": inverted} {
				var buf bytes.Buffer
				if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 60}); err != nil {
					t.Fatal(err)
				}
				texts, err := DecodeBytes(buf.Bytes())
				if err != nil || len(texts) != 1 || texts[0] != tc.frame {
					t.Fatalf("%s: got %q, %v; want %q", name, texts, err, tc.frame)
				}
			}
		})
	}
}

// A frame whose data area holds a finder-like pattern that gozxing's single
// code detector prefers to a real finder pattern: it is read through the
// fallbacks.
func TestDecodeFalseFinderPattern(t *testing.T) {
	frame := base32Part(200, 12)
	img := mustDecodePNG(t, mustEncodePNG(t, frame, DefaultOptions()))
	b := img.Bounds()
	src, err := gozxing.NewPlanarYUVLuminanceSource(luminance(img), b.Dx(), b.Dy(), 0, 0, b.Dx(), b.Dy(), false)
	if err != nil {
		t.Fatal(err)
	}
	bitmap, err := gozxing.NewBinaryBitmap(gozxing.NewHybridBinarizer(src))
	if err != nil {
		t.Fatal(err)
	}
	if text, err := readSingle(bitmap); err == nil {
		t.Fatalf("precondition: the single-code reader now reads this frame (%.20q); pick another frame that it cannot read", text)
	}
	for name, read := range map[string]func(*gozxing.BinaryBitmap) (string, error){"multi": readMulti, "pure": readPure} {
		if got, err := read(bitmap); err != nil || got != frame {
			t.Errorf("%s reader: got %.20q, %v", name, got, err)
		}
	}
	if got, err := DecodeImage(img); err != nil || got != frame {
		t.Errorf("DecodeImage: got %.20q, %v", got, err)
	}
}

func TestDecodeRefusesNonUTF8(t *testing.T) {
	q, err := qrcode.New(string([]byte{'U', 'R', ':', 0xff, 0xfe, 0x80}), qrcode.Low)
	if err != nil {
		t.Fatal(err)
	}
	data, err := q.PNG(-4)
	if err != nil {
		t.Fatal(err)
	}
	if texts, err := DecodeBytes(data); !errors.Is(err, ErrNotText) {
		t.Fatalf("got %q, %v; want ErrNotText", texts, err)
	}
}

func TestDecodeTwoDifferentCodesIsNotSilentlyMixed(t *testing.T) {
	// Two codes side by side: whatever is returned must be one of them, whole.
	a := mustDecodePNG(t, mustEncodePNG(t, "UR:BYTES/AAAA", DefaultOptions()))
	b := mustDecodePNG(t, mustEncodePNG(t, "UR:BYTES/BBBB", DefaultOptions()))
	w := a.Bounds().Dx()
	both := image.NewGray(image.Rect(0, 0, 2*w, w))
	draw.Draw(both, a.Bounds(), a, image.Point{}, draw.Src)
	draw.Draw(both, a.Bounds().Add(image.Pt(w, 0)), b, image.Point{}, draw.Src)
	got, err := DecodeImage(both)
	if err == nil && got != "UR:BYTES/AAAA" && got != "UR:BYTES/BBBB" {
		t.Fatalf("got %q", got)
	}
	if err != nil && !errors.Is(err, ErrSeveralQRCodes) && !errors.Is(err, ErrNoQRCode) {
		t.Fatalf("unexpected error %v", err)
	}
}

// gifOf builds an animated GIF from paletted frames with the given disposal
// methods on a screen of the given size.
func gifOf(t *testing.T, side int, frames []*image.Paletted, disposal []byte) []byte {
	t.Helper()
	anim := &gif.GIF{Image: frames, Delay: make([]int, len(frames)), Disposal: disposal,
		Config: image.Config{ColorModel: frames[0].Palette, Width: side, Height: side}}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, anim); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var transparentPalette = color.Palette{color.White, color.Black, color.Transparent}

// paletted copies a black-and-white image into the three-colour palette.
func paletted(src image.Image) *image.Paletted {
	out := image.NewPaletted(src.Bounds(), transparentPalette)
	draw.Draw(out, out.Bounds(), src, src.Bounds().Min, draw.Src)
	return out
}

func TestDecodeGIFCompositing(t *testing.T) {
	opt := Options{ModulePixels: 4, Border: 4}
	frameA, frameB := urLikePart(120, 40), urLikePart(121, 41)
	if va, _ := SymbolVersion(frameA, opt.Level); va != mustVersion(t, frameB, opt.Level) {
		t.Fatal("precondition: both frames must have the same version")
	}
	imgA := paletted(mustDecodePNG(t, mustEncodePNG(t, frameA, opt)))
	imgB := paletted(mustDecodePNG(t, mustEncodePNG(t, frameB, opt)))
	side := imgA.Bounds().Dx()

	// delta holds only the pixels where B differs from A, inside their
	// bounding box; everything else is transparent.
	diff := image.Rectangle{}
	for y := 0; y < side; y++ {
		for x := 0; x < side; x++ {
			if imgA.ColorIndexAt(x, y) != imgB.ColorIndexAt(x, y) {
				diff = diff.Union(image.Rect(x, y, x+1, y+1))
			}
		}
	}
	delta := image.NewPaletted(diff, transparentPalette)
	for y := diff.Min.Y; y < diff.Max.Y; y++ {
		for x := diff.Min.X; x < diff.Max.X; x++ {
			if imgA.ColorIndexAt(x, y) != imgB.ColorIndexAt(x, y) {
				delta.SetColorIndex(x, y, imgB.ColorIndexAt(x, y))
			} else {
				delta.SetColorIndex(x, y, 2)
			}
		}
	}
	// darkOnly draws B's dark modules and leaves the rest transparent: it
	// reads as B only on a canvas cleared to white.
	darkOnly := image.NewPaletted(imgB.Bounds(), transparentPalette)
	for i, v := range imgB.Pix {
		if v == 1 {
			darkOnly.Pix[i] = 1
		} else {
			darkOnly.Pix[i] = 2
		}
	}
	nothing := image.NewPaletted(image.Rect(0, 0, 1, 1), transparentPalette)
	nothing.Pix[0] = 2

	tests := []struct {
		name     string
		frames   []*image.Paletted
		disposal []byte
		want     []string
	}{
		{"delta frame over the previous one", []*image.Paletted{imgA, delta},
			[]byte{gif.DisposalNone, gif.DisposalNone}, []string{frameA, frameB}},
		{"disposal to background clears the frame", []*image.Paletted{imgA, darkOnly},
			[]byte{gif.DisposalBackground, gif.DisposalNone}, []string{frameA, frameB}},
		{"disposal to previous restores it", []*image.Paletted{imgA, imgB, nothing},
			[]byte{gif.DisposalNone, gif.DisposalPrevious, gif.DisposalNone}, []string{frameA, frameB, frameA}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeBytes(gifOf(t, side, tc.frames, tc.disposal))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}

	t.Run("frame without a QR code is named", func(t *testing.T) {
		blank := image.NewPaletted(imgA.Bounds(), transparentPalette)
		_, err := DecodeBytes(gifOf(t, side, []*image.Paletted{imgA, blank}, []byte{0, 0}))
		if !errors.Is(err, ErrNoQRCode) || !strings.Contains(err.Error(), "frame 2 of 2") {
			t.Fatalf("got %v, want ErrNoQRCode naming frame 2 of 2", err)
		}
	})
}

func mustVersion(t *testing.T, frame string, level Level) int {
	t.Helper()
	v, err := SymbolVersion(frame, level)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestDecodeGIFLimits(t *testing.T) {
	var buf bytes.Buffer
	frames := []string{"UR:BYTES/1-3/A", "UR:BYTES/2-3/B", "UR:BYTES/3-3/C"}
	opt := Options{ModulePixels: 2, Border: 4}
	if err := WriteGIF(&buf, frames, 100*time.Millisecond, opt); err != nil {
		t.Fatal(err)
	}
	side := (4*mustVersion(t, frames[0], opt.Level) + 17 + 2*opt.Border) * opt.ModulePixels
	tests := []struct {
		name string
		lim  limits
		want error
	}{
		{"frame count at the limit", limits{side: side, fileBytes: 1 << 20, frames: 3, gifPixels: int64(3 * side * side)}, nil},
		{"one frame too many", limits{side: side, fileBytes: 1 << 20, frames: 2, gifPixels: 1 << 30}, ErrTooManyFrames},
		{"pixel budget exceeded", limits{side: side, fileBytes: 1 << 20, frames: 10, gifPixels: int64(3*side*side) - 1}, ErrImageTooLarge},
		{"screen too large", limits{side: side - 1, fileBytes: 1 << 20, frames: 10, gifPixels: 1 << 30}, ErrImageTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeBytes(buf.Bytes(), tc.lim)
			if !errors.Is(err, tc.want) || (tc.want == nil && len(got) != len(frames)) {
				t.Fatalf("got %q, %v; want error %v", got, err, tc.want)
			}
		})
	}
}

func TestSplitGIFRejectsMalformed(t *testing.T) {
	good := gifHeaderOnly(4, 4)
	frameOutside := gifHeaderOnly(4, 4)
	frameOutside[19+5] = 9 // frame width 9 on a 4-pixel screen
	tests := []struct {
		name string
		data []byte
	}{
		{"no trailer", good[:len(good)-1]},
		{"unknown block", append(append([]byte{}, good[:19]...), 0x99)},
		{"frame outside the screen", frameOutside},
		{"no frames", append(append([]byte{}, good[:19]...), gifTrailer)},
	}
	if _, err := decodeBytes(good, defaultLimits); !errors.Is(err, ErrNoQRCode) {
		t.Fatalf("well-formed GIF without a code: got %v, want ErrNoQRCode", err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := decodeBytes(tc.data, defaultLimits); !errors.Is(err, ErrNotImage) {
				t.Fatalf("got %v, want ErrNotImage", err)
			}
		})
	}
}

// finderTiles is a white image tiled with finder-pattern-like squares (7x7
// modules: dark ring, light ring, dark 3x3 core) of mod pixels per module,
// one every pitch pixels.
func finderTiles(side, pitch, mod int) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, side, side))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	for y0 := 0; y0+7*mod <= side; y0 += pitch {
		for x0 := 0; x0+7*mod <= side; x0 += pitch {
			for y := 0; y < 7*mod; y++ {
				for x := 0; x < 7*mod; x++ {
					my, mx := y/mod, x/mod
					ring := mx == 0 || my == 0 || mx == 6 || my == 6
					core := mx >= 2 && mx <= 4 && my >= 2 && my <= 4
					if ring || core {
						img.Pix[(y0+y)*side+x0+x] = 0
					}
				}
			}
		}
	}
	return img
}

// Without the pattern budget this image kept gozxing busy for minutes
// (its pattern selection is cubic in the number of candidates).
func TestDecodeManyFinderPatternsGivesUp(t *testing.T) {
	_, err := DecodeImage(finderTiles(300, 10, 1))
	if !errors.Is(err, ErrNoQRCode) || !strings.Contains(err.Error(), "finder-like patterns") {
		t.Fatalf("got %v, want ErrNoQRCode from the pattern budget", err)
	}
}
