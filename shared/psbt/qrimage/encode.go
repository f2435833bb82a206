package qrimage

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Palette indexes of the images written here: light background, dark modules.
const (
	lightIndex = 0
	darkIndex  = 1
)

var blackWhite = color.Palette{color.White, color.Black}

// render draws s with quiet light modules on each side, px pixels per module.
func render(s symbol, quiet, px int) *image.Paletted {
	side := (s.size() + 2*quiet) * px
	img := image.NewPaletted(image.Rect(0, 0, side, side), blackWhite)
	// NewPaletted fills with index 0, which is light: only dark modules are drawn.
	for y, row := range s.dark {
		for x, dark := range row {
			if !dark {
				continue
			}
			x0, y0 := (x+quiet)*px, (y+quiet)*px
			for yy := y0; yy < y0+px; yy++ {
				line := img.Pix[yy*img.Stride+x0 : yy*img.Stride+x0+px]
				for i := range line {
					line[i] = darkIndex
				}
			}
		}
	}
	return img
}

// EncodePNG returns frame as a black-on-white PNG.
func EncodePNG(frame string, opt Options) ([]byte, error) {
	if err := opt.validate(); err != nil {
		return nil, err
	}
	s, err := encodeSymbol(frame, opt.Level)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, render(s, opt.Border, opt.ModulePixels)); err != nil {
		return nil, fmt.Errorf("qrimage: writing PNG: %w", err)
	}
	return buf.Bytes(), nil
}

// WritePNGs writes one PNG per frame into dir as prefix-001.png,
// prefix-002.png, ... (at least three digits, more when there are more than
// 999 frames, so the names sort in frame order) and returns their paths.
//
// Every frame is encoded before the first file is created. Files are created
// with mode 0644 (less any bits the process umask removes) and never
// overwrite: if a name already exists the error wraps fs.ErrExist, and the
// files this call had already written are removed again.
func WritePNGs(frames []string, dir, prefix string, opt Options) ([]string, error) {
	if err := opt.validate(); err != nil {
		return nil, err
	}
	if len(frames) == 0 {
		return nil, errors.New("qrimage: no frames to write")
	}
	if prefix == "" || prefix == "." || prefix == ".." || strings.ContainsAny(prefix, `/\`) {
		return nil, fmt.Errorf("qrimage: file name prefix %q must be a plain name without a directory", prefix)
	}
	images := make([][]byte, len(frames))
	for i, f := range frames {
		data, err := EncodePNG(f, opt)
		if err != nil {
			return nil, fmt.Errorf("%w (frame %d of %d)", err, i+1, len(frames))
		}
		images[i] = data
	}
	paths := make([]string, 0, len(frames))
	for i, data := range images {
		path := filepath.Join(dir, pngName(prefix, i, len(frames)))
		if err := writeNewFile(path, data); err != nil {
			for _, p := range paths {
				os.Remove(p) // best effort: these are files this call created
			}
			return nil, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// pngName names frame i (from 0) of n: numbered from 1, zero-padded to at
// least three digits and to the width of n, so the names sort in order.
func pngName(prefix string, i, n int) string {
	digits := max(3, len(strconv.Itoa(n)))
	return fmt.Sprintf("%s-%0*d.png", prefix, digits, i+1)
}

// writeNewFile creates path (failing if it exists), writes data and syncs it,
// so a PNG on removable media is complete before the caller reports success.
func writeNewFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("qrimage: creating %s (existing files are never overwritten): %w", path, err)
	}
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(path)
		return fmt.Errorf("qrimage: writing %s: %w", path, werr)
	}
	return nil
}

// GIF frame delays. Browsers show delays under 20ms as 100ms, so shorter ones
// are refused rather than silently slowed down; the GIF format stores
// hundredths of a second in 16 bits.
const (
	MinGIFDelay = 20 * time.Millisecond
	MaxGIFDelay = 65535 * 10 * time.Millisecond
)

// WriteGIF writes the frames as one animated GIF that loops forever, showing
// each frame for delay (rounded to hundredths of a second). All frames have
// the size of the largest symbol: smaller symbols get a wider quiet zone.
// All frames are held in memory while the GIF is written.
func WriteGIF(w io.Writer, frames []string, delay time.Duration, opt Options) error {
	if err := opt.validate(); err != nil {
		return err
	}
	if len(frames) == 0 {
		return errors.New("qrimage: no frames to write")
	}
	if delay < MinGIFDelay || delay > MaxGIFDelay {
		return fmt.Errorf("qrimage: GIF frame delay %v is outside %v..%v", delay, MinGIFDelay, MaxGIFDelay)
	}
	symbols := make([]symbol, len(frames))
	largest := 0
	for i, f := range frames {
		s, err := encodeSymbol(f, opt.Level)
		if err != nil {
			return fmt.Errorf("%w (frame %d of %d)", err, i+1, len(frames))
		}
		symbols[i] = s
		largest = max(largest, s.size())
	}
	centiseconds := int((delay + 5*time.Millisecond) / (10 * time.Millisecond))
	anim := &gif.GIF{LoopCount: 0} // 0 loops forever
	for _, s := range symbols {
		// Symbol sizes are 4*version+17, so the difference is a multiple of 4
		// and splits evenly between the two sides.
		quiet := opt.Border + (largest-s.size())/2
		anim.Image = append(anim.Image, render(s, quiet, opt.ModulePixels))
		anim.Delay = append(anim.Delay, centiseconds)
		anim.Disposal = append(anim.Disposal, gif.DisposalNone)
	}
	side := anim.Image[0].Bounds().Dx()
	anim.Config = image.Config{ColorModel: blackWhite, Width: side, Height: side}
	if err := gif.EncodeAll(w, anim); err != nil {
		return fmt.Errorf("qrimage: writing GIF: %w", err)
	}
	return nil
}
