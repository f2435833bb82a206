package qrimage

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // registers JPEG for image.DecodeConfig and image.Decode
	_ "image/png"  // registers PNG
	"io"
	"io/fs"
	"os"
	"unicode/utf8"

	"github.com/makiuchi-d/gozxing"
	multiqr "github.com/makiuchi-d/gozxing/multi/qrcode"
	gozxingqr "github.com/makiuchi-d/gozxing/qrcode"
)

// Errors callers can test for with errors.Is. Returned errors add context:
// the file, the frame number, the sizes involved.
var (
	// ErrNoQRCode: the image (or one GIF frame) holds no QR code that could be
	// read, either none at all or one too damaged to decode.
	ErrNoQRCode = errors.New("no readable QR code")
	// ErrNotImage: the data is not a PNG, JPEG or GIF image, or is a damaged one.
	ErrNotImage = errors.New("not a readable PNG, JPEG or GIF image")
	// ErrImageTooLarge: an image side exceeds MaxImageSide, or an animated
	// GIF's frames together exceed the pixel budget.
	ErrImageTooLarge = errors.New("image too large")
	// ErrFileTooLarge: the file is longer than MaxFileBytes.
	ErrFileTooLarge = errors.New("file too large")
	// ErrTooManyFrames: an animated GIF has more than MaxGIFFrames frames.
	ErrTooManyFrames = errors.New("too many GIF frames")
	// ErrSeveralQRCodes: the fallback multi-code reader found QR codes with
	// different texts in one image and cannot tell which one is meant.
	ErrSeveralQRCodes = errors.New("several different QR codes in one image")
	// ErrNotText: a QR code was read but its bytes are not UTF-8 text, so it
	// cannot be a UR or BBQr frame.
	ErrNotText = errors.New("QR code does not hold UTF-8 text")
)

// Input bounds. An 8192-pixel side admits any phone camera photo. The
// decoded-size bound (256 MiB) admits an 8192x8192 8-bit RGBA PNG but not a
// 16-bit one. The GIF pixel budget (frames times screen area, 2^28) admits
// e.g. 1000 frames of 512x512 while keeping a hostile GIF from occupying the
// signer for long.
const (
	MaxImageSide    = 8192
	MaxFileBytes    = 64 << 20
	MaxGIFFrames    = 4096
	maxDecodedBytes = 256 << 20
	maxGIFPixels    = 1 << 28
)

// limits bundles the bounds so tests and fuzzing can use smaller ones.
type limits struct {
	side         int
	fileBytes    int
	decodedBytes int64
	frames       int
	gifPixels    int64
}

var defaultLimits = limits{
	side:         MaxImageSide,
	fileBytes:    MaxFileBytes,
	decodedBytes: maxDecodedBytes,
	frames:       MaxGIFFrames,
	gifPixels:    maxGIFPixels,
}

// DecodeImage reads the one QR code in img and returns its text exactly as
// encoded. The readers described in the package documentation are tried in
// turn, on the image as given and then with its luminance inverted (light
// modules on a dark background, as in a dark-mode screenshot). Transparent
// pixels read as white.
func DecodeImage(img image.Image) (string, error) {
	text, err := decodeImage(img, defaultLimits.side)
	if err != nil {
		return "", fmt.Errorf("qrimage: %w", err)
	}
	return text, nil
}

// DecodeBytes reads the QR codes in a PNG, JPEG or GIF file held in data: one
// text for a PNG or JPEG, one per frame, in order, for a GIF. It fails if any
// frame has no readable QR code.
func DecodeBytes(data []byte) ([]string, error) {
	texts, err := decodeBytes(data, defaultLimits)
	if err != nil {
		return nil, fmt.Errorf("qrimage: %w", err)
	}
	return texts, nil
}

// DecodeFile is DecodeBytes for the file at path; errors name the file.
func DecodeFile(path string) ([]string, error) {
	data, err := readFileLimited(path, defaultLimits.fileBytes)
	if err != nil {
		if pathErr := (*fs.PathError)(nil); errors.As(err, &pathErr) {
			return nil, fmt.Errorf("qrimage: %w", err) // it names the file already
		}
		return nil, fmt.Errorf("qrimage: %s: %w", path, err)
	}
	texts, err := decodeBytes(data, defaultLimits)
	if err != nil {
		return nil, fmt.Errorf("qrimage: %s: %w", path, err)
	}
	return texts, nil
}

// readFileLimited reads at most limit bytes, failing rather than truncating;
// it does not trust the size reported by Stat (devices and pipes report 0).
func readFileLimited(path string, limit int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(data) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrFileTooLarge, limit)
	}
	return data, nil
}

func decodeBytes(data []byte, lim limits) ([]string, error) {
	if len(data) > lim.fileBytes {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrFileTooLarge, len(data), lim.fileBytes)
	}
	if isGIF(data) {
		return decodeGIF(data, lim)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotImage, err)
	}
	// Other packages linked into the program may register more formats;
	// only the decoders named in the documentation are used.
	if format != "png" && format != "jpeg" {
		return nil, fmt.Errorf("%w: unsupported format %q", ErrNotImage, format)
	}
	if err := checkSize(cfg.Width, cfg.Height, lim.side); err != nil {
		return nil, err
	}
	if need := int64(cfg.Width) * int64(cfg.Height) * bytesPerPixel(cfg.ColorModel); need > lim.decodedBytes {
		return nil, fmt.Errorf("%w: a %dx%d %s would take %d MiB to decode, the limit is %d MiB",
			ErrImageTooLarge, cfg.Width, cfg.Height, format, need>>20, lim.decodedBytes>>20)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: damaged %s: %v", ErrNotImage, format, err)
	}
	text, err := decodeImage(img, lim.side)
	if err != nil {
		return nil, err
	}
	return []string{text}, nil
}

// bytesPerPixel is what image/png and image/jpeg allocate per pixel for an
// image of the colour model DecodeConfig reports; unknown models are assumed
// to be the widest.
func bytesPerPixel(m color.Model) int64 {
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	switch m {
	case color.GrayModel:
		return 1
	case color.Gray16Model:
		return 2
	case color.YCbCrModel:
		return 3 // at most: 4:4:4 chroma
	case color.RGBAModel, color.NRGBAModel, color.CMYKModel:
		return 4
	}
	return 8 // RGBA64, NRGBA64
}

func checkSize(width, height, side int) error {
	if width > side || height > side {
		return fmt.Errorf("%w: %dx%d pixels, the limit is %dx%d", ErrImageTooLarge, width, height, side, side)
	}
	if width <= 0 || height <= 0 {
		return fmt.Errorf("%w: the image is empty (%dx%d pixels)", ErrNoQRCode, width, height)
	}
	return nil
}

func decodeImage(img image.Image, side int) (string, error) {
	b := img.Bounds()
	if err := checkSize(b.Dx(), b.Dy(), side); err != nil {
		return "", err
	}
	return decodeLuminance(luminance(img), b.Dx(), b.Dy())
}

// decodeLuminance reads a QR code from 8-bit luminance samples, row by row,
// width*height of them.
//
// gozxing's single-code detector picks the three finder patterns it likes
// best, and a symbol's data area sometimes holds a finder-like pattern it
// prefers over a real one (about 3 in 100 random frames at 8 pixels per
// module). So when the single reader fails, the multi-code reader, which
// tries every plausible triple, gets a turn, and then the pure-barcode
// reader, which needs no finder search at all but only reads a clean,
// upright code on a plain background (any image this package writes). All
// three are tried on the image as given, then on its inverse.
func decodeLuminance(lum []byte, width, height int) (string, error) {
	// gozxing's planar YUV source reads its Y plane as luminance, which is
	// what lum is, so the samples are used without another copy.
	src, err := gozxing.NewPlanarYUVLuminanceSource(lum, width, height, 0, 0, width, height, false)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoQRCode, err)
	}
	var firstErr error
	for _, s := range []gozxing.LuminanceSource{src, src.Invert()} {
		bitmap, err := gozxing.NewBinaryBitmap(gozxing.NewHybridBinarizer(s))
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrNoQRCode, err)
		}
		for _, read := range []func(*gozxing.BinaryBitmap) (string, error){readSingle, readMulti, readPure} {
			text, err := read(bitmap)
			if err == nil || errors.Is(err, ErrNotText) || errors.Is(err, ErrSeveralQRCodes) {
				return text, err
			}
			if firstErr == nil {
				// The single reader's failure on the image as given says
				// most about what is wrong with it.
				firstErr = err
			}
		}
	}
	return "", firstErr
}

func decodeHints(mode gozxing.DecodeHintType) map[gozxing.DecodeHintType]interface{} {
	return map[gozxing.DecodeHintType]interface{}{
		mode: true,
		// go-qrcode writes a string's bytes in byte mode with no ECI header;
		// without this hint gozxing guesses a character set per segment.
		gozxing.DecodeHintType_CHARACTER_SET: "UTF-8",
	}
}

// maxPatternCandidates bounds the finder and alignment pattern candidates
// gozxing may report during one read. Its finder pattern selection looks at
// every triple of candidates, and its multi-code reader tries to decode every
// plausible triple: a 300x300 image tiled with finder-like squares kept it
// busy for over five minutes. A clean code reports 3 to 6 candidates; the
// bound leaves room for noisy photos.
const maxPatternCandidates = 24

// patternBudgetExceeded is the panic value that stops gozxing mid-search.
type patternBudgetExceeded struct{}

// budgetedHints are decodeHints with a callback that stops the read, by
// panicking with patternBudgetExceeded, once gozxing has reported more than
// maxPatternCandidates possible patterns. gozxing has no other way to stop
// a search and holds no state that a panic could leave inconsistent.
func budgetedHints(mode gozxing.DecodeHintType) map[gozxing.DecodeHintType]interface{} {
	hints := decodeHints(mode)
	left := maxPatternCandidates
	hints[gozxing.DecodeHintType_NEED_RESULT_POINT_CALLBACK] = gozxing.ResultPointCallback(func(gozxing.ResultPoint) {
		left--
		if left < 0 {
			panic(patternBudgetExceeded{})
		}
	})
	return hints
}

// recoverPatternBudget, deferred, turns the budget's panic into an error and
// lets any other panic continue.
func recoverPatternBudget(err *error) {
	if r := recover(); r != nil {
		if _, ok := r.(patternBudgetExceeded); !ok {
			panic(r)
		}
		*err = fmt.Errorf("%w: more than %d finder-like patterns, giving up", ErrNoQRCode, maxPatternCandidates)
	}
}

func readSingle(bitmap *gozxing.BinaryBitmap) (text string, err error) {
	defer recoverPatternBudget(&err)
	result, err := gozxingqr.NewQRCodeReader().Decode(bitmap, budgetedHints(gozxing.DecodeHintType_TRY_HARDER))
	if err != nil {
		return "", describeReadError(err)
	}
	return resultText(result)
}

// readPure needs no budget: it samples the one code it assumes fills the
// image and searches for no patterns.
func readPure(bitmap *gozxing.BinaryBitmap) (string, error) {
	result, err := gozxingqr.NewQRCodeReader().Decode(bitmap, decodeHints(gozxing.DecodeHintType_PURE_BARCODE))
	if err != nil {
		return "", describeReadError(err)
	}
	return resultText(result)
}

func readMulti(bitmap *gozxing.BinaryBitmap) (text string, err error) {
	defer recoverPatternBudget(&err)
	results, err := multiqr.NewQRCodeMultiReader().DecodeMultiple(bitmap, budgetedHints(gozxing.DecodeHintType_TRY_HARDER))
	if err != nil {
		return "", describeReadError(err)
	}
	if len(results) == 0 {
		return "", fmt.Errorf("%w: no QR code found", ErrNoQRCode)
	}
	text, err = resultText(results[0])
	if err != nil {
		return "", err
	}
	for _, r := range results[1:] {
		// The same code is often found more than once, through different
		// finder pattern triples.
		if other, err := resultText(r); err != nil || other != text {
			return "", fmt.Errorf("%w: found %d", ErrSeveralQRCodes, len(results))
		}
	}
	return text, nil
}

// resultText returns the decoded text. The UTF-8 decoder replaces invalid
// bytes with U+FFFD; refuse instead of returning text that differs from what
// was encoded.
func resultText(result *gozxing.Result) (string, error) {
	if segments, ok := result.GetResultMetadata()[gozxing.ResultMetadataType_BYTE_SEGMENTS].([][]byte); ok {
		for _, s := range segments {
			if !utf8.Valid(s) {
				return "", ErrNotText
			}
		}
	}
	return result.GetText(), nil
}

func describeReadError(err error) error {
	var notFound gozxing.NotFoundException
	var checksum gozxing.ChecksumException
	switch {
	case errors.As(err, &notFound):
		return fmt.Errorf("%w: no QR code found", ErrNoQRCode)
	case errors.As(err, &checksum):
		return fmt.Errorf("%w: a QR code was found but is too damaged to correct", ErrNoQRCode)
	default:
		return fmt.Errorf("%w: a QR code was found but could not be decoded (%v)", ErrNoQRCode, err)
	}
}

// luminance returns the image's pixels as 8-bit luminance, row by row, with
// transparent pixels shown over white. The common decoder outputs get direct
// paths; anything else goes through the generic colour model.
func luminance(img image.Image) []byte {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := make([]byte, w*h)
	switch m := img.(type) {
	case *image.Gray:
		for y := 0; y < h; y++ {
			i := m.PixOffset(b.Min.X, b.Min.Y+y)
			copy(out[y*w:(y+1)*w], m.Pix[i:i+w])
		}
	case *image.YCbCr: // JPEG: the Y plane is luminance
		for y := 0; y < h; y++ {
			i := m.YOffset(b.Min.X, b.Min.Y+y)
			copy(out[y*w:(y+1)*w], m.Y[i:i+w])
		}
	case *image.Paletted:
		table := paletteLuminance(m.Palette)
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				out[y*w+x] = table[row[x]]
			}
		}
	case *image.RGBA: // premultiplied alpha
		for y := 0; y < h; y++ {
			p := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				r, g, bl, a := uint32(p[4*x]), uint32(p[4*x+1]), uint32(p[4*x+2]), uint32(p[4*x+3])
				out[y*w+x] = luma8(r+255-a, g+255-a, bl+255-a)
			}
		}
	case *image.NRGBA: // straight alpha
		for y := 0; y < h; y++ {
			p := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				r, g, bl, a := uint32(p[4*x]), uint32(p[4*x+1]), uint32(p[4*x+2]), uint32(p[4*x+3])
				over := 255 * (255 - a)
				out[y*w+x] = luma8((r*a+over)/255, (g*a+over)/255, (bl*a+over)/255)
			}
		}
	default:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				out[y*w+x] = colourLuminance(img.At(b.Min.X+x, b.Min.Y+y).RGBA())
			}
		}
	}
	return out
}

// luma8 weighs 8-bit red, green and blue 1:2:1, as gozxing does.
func luma8(r, g, b uint32) byte {
	return byte((r + 2*g + b) / 4)
}

// colourLuminance takes the 16-bit premultiplied values color.Color.RGBA
// returns and gives the luminance of that colour over white.
func colourLuminance(r, g, b, a uint32) byte {
	over := 0xffff - a
	return luma8((r+over)>>8, (g+over)>>8, (b+over)>>8)
}

// paletteLuminance maps every possible index to a luminance; indexes past
// the palette's end read as white.
func paletteLuminance(p color.Palette) [256]byte {
	var t [256]byte
	for i := range t {
		t[i] = 255
	}
	for i, c := range p {
		if i < len(t) && c != nil {
			t[i] = colourLuminance(c.RGBA())
		}
	}
	return t
}
