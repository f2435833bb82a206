package qrimage

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/gif"
)

// Animated GIFs are read one frame at a time: the file is split into its
// blocks here (without decompressing anything), each frame is cut out as a
// one-frame GIF for image/gif to decode, and drawn onto a luminance canvas
// the size of the logical screen, honouring the frame's disposal method.
// image/gif's DecodeAll would instead hold every frame in memory at once,
// and a small file can declare thousands of full-screen frames.

// GIF block introducers and labels (GIF89a specification, sections 17-27).
const (
	gifExtension       = 0x21
	gifImageDescriptor = 0x2C
	gifTrailer         = 0x3B
	gifGraphicControl  = 0xF9
)

func isGIF(data []byte) bool {
	return bytes.HasPrefix(data, []byte("GIF87a")) || bytes.HasPrefix(data, []byte("GIF89a"))
}

type gifFrame struct {
	control []byte // the frame's graphic control extension block, or nil
	image   []byte // image descriptor, local colour table and image data
}

type gifFile struct {
	header        []byte // signature, logical screen descriptor, global colour table
	width, height int    // logical screen size
	frames        []gifFrame
}

var errTruncatedGIF = errors.New("truncated GIF")

type gifReader struct {
	data []byte
	pos  int
}

func (r *gifReader) take(n int) ([]byte, error) {
	if n > len(r.data)-r.pos {
		return nil, errTruncatedGIF
	}
	b := r.data[r.pos : r.pos+n]
	r.pos += n
	return b, nil
}

func (r *gifReader) byte() (byte, error) {
	b, err := r.take(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

// skipSubBlocks skips data sub-blocks (a length byte, then that many bytes)
// up to and including the zero-length block terminator.
func (r *gifReader) skipSubBlocks() error {
	for {
		n, err := r.byte()
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if _, err := r.take(int(n)); err != nil {
			return err
		}
	}
}

// skipColourTable skips the colour table that packed-field flags announce.
func (r *gifReader) skipColourTable(flags byte) error {
	if flags&0x80 == 0 {
		return nil
	}
	_, err := r.take(3 << (flags&0x07 + 1))
	return err
}

func le16(b []byte) int { return int(b[0]) | int(b[1])<<8 }

// splitGIF finds the frames of a GIF file, refusing more than maxFrames.
func splitGIF(data []byte, maxFrames int) (*gifFile, error) {
	r := &gifReader{data: data}
	screen, err := r.take(13)
	if err != nil {
		return nil, err
	}
	if !isGIF(screen) {
		return nil, errors.New("not a GIF")
	}
	if err := r.skipColourTable(screen[10]); err != nil {
		return nil, err
	}
	g := &gifFile{header: data[:r.pos], width: le16(screen[6:]), height: le16(screen[8:])}
	var control []byte
	for {
		start := r.pos
		introducer, err := r.byte()
		if err != nil {
			return nil, err
		}
		switch introducer {
		case gifExtension:
			label, err := r.byte()
			if err != nil {
				return nil, err
			}
			if err := r.skipSubBlocks(); err != nil {
				return nil, err
			}
			if label == gifGraphicControl {
				control = data[start:r.pos]
			}
		case gifImageDescriptor:
			desc, err := r.take(9)
			if err != nil {
				return nil, err
			}
			left, top, w, h := le16(desc[0:]), le16(desc[2:]), le16(desc[4:]), le16(desc[6:])
			if left+w > g.width || top+h > g.height {
				return nil, fmt.Errorf("GIF frame %d (%dx%d at %d,%d) lies outside the %dx%d screen",
					len(g.frames)+1, w, h, left, top, g.width, g.height)
			}
			if err := r.skipColourTable(desc[8]); err != nil {
				return nil, err
			}
			if _, err := r.take(1); err != nil { // LZW minimum code size
				return nil, err
			}
			if err := r.skipSubBlocks(); err != nil {
				return nil, err
			}
			if len(g.frames) == maxFrames {
				return nil, fmt.Errorf("%w: more than %d", ErrTooManyFrames, maxFrames)
			}
			g.frames = append(g.frames, gifFrame{control: control, image: data[start:r.pos]})
			control = nil // a graphic control extension applies to the next frame only
		case gifTrailer:
			return g, nil
		default:
			return nil, fmt.Errorf("unknown GIF block type 0x%02x at byte %d", introducer, start)
		}
	}
}

func decodeGIF(data []byte, lim limits) ([]string, error) {
	g, err := splitGIF(data, lim.frames)
	if err != nil {
		if errors.Is(err, ErrTooManyFrames) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", ErrNotImage, err)
	}
	if err := checkSize(g.width, g.height, lim.side); err != nil {
		return nil, err
	}
	if len(g.frames) == 0 {
		return nil, fmt.Errorf("%w: GIF has no frames", ErrNotImage)
	}
	area := g.width * g.height
	if total := int64(len(g.frames)) * int64(area); total > lim.gifPixels {
		return nil, fmt.Errorf("%w: %d frames of %dx%d pixels, more than %d pixels in all",
			ErrImageTooLarge, len(g.frames), g.width, g.height, lim.gifPixels)
	}
	// Before the first frame the screen is transparent, which reads as white.
	canvas := bytes.Repeat([]byte{255}, area)
	var saved []byte
	texts := make([]string, 0, len(g.frames))
	for i, f := range g.frames {
		frameErr := func(err error) error {
			return fmt.Errorf("frame %d of %d: %w", i+1, len(g.frames), err)
		}
		single := make([]byte, 0, len(g.header)+len(f.control)+len(f.image)+1)
		single = append(single, g.header...)
		single = append(single, f.control...)
		single = append(single, f.image...)
		single = append(single, gifTrailer)
		decoded, err := gif.DecodeAll(bytes.NewReader(single))
		if err != nil {
			return nil, frameErr(fmt.Errorf("%w: %v", ErrNotImage, err))
		}
		img, disposal := decoded.Image[0], decoded.Disposal[0]
		rect := img.Bounds().Intersect(image.Rect(0, 0, g.width, g.height))
		if disposal == gif.DisposalPrevious {
			saved = copyRect(saved[:0], canvas, g.width, rect)
		}
		drawFrame(canvas, g.width, img, rect)
		text, err := decodeLuminance(canvas, g.width, g.height)
		if err != nil {
			return nil, frameErr(err)
		}
		texts = append(texts, text)
		switch disposal {
		case gif.DisposalBackground:
			// Browsers clear to transparent rather than to the background
			// colour; transparent reads as white here.
			fillRect(canvas, g.width, rect, 255)
		case gif.DisposalPrevious:
			pasteRect(canvas, g.width, rect, saved)
		}
	}
	return texts, nil
}

// drawFrame paints the opaque pixels of img inside rect onto the canvas.
func drawFrame(canvas []byte, stride int, img *image.Paletted, rect image.Rectangle) {
	table := paletteLuminance(img.Palette)
	var transparent [256]bool
	for i, c := range img.Palette {
		if i < len(transparent) && c != nil {
			_, _, _, a := c.RGBA()
			transparent[i] = a == 0
		}
	}
	for y := rect.Min.Y; y < rect.Max.Y; y++ {
		row := img.Pix[img.PixOffset(rect.Min.X, y):]
		dst := canvas[y*stride+rect.Min.X : y*stride+rect.Max.X]
		for x := range dst {
			if idx := row[x]; !transparent[idx] {
				dst[x] = table[idx]
			}
		}
	}
}

func copyRect(dst, canvas []byte, stride int, rect image.Rectangle) []byte {
	for y := rect.Min.Y; y < rect.Max.Y; y++ {
		dst = append(dst, canvas[y*stride+rect.Min.X:y*stride+rect.Max.X]...)
	}
	return dst
}

func pasteRect(canvas []byte, stride int, rect image.Rectangle, src []byte) {
	w := rect.Dx()
	for y := rect.Min.Y; y < rect.Max.Y; y++ {
		copy(canvas[y*stride+rect.Min.X:y*stride+rect.Max.X], src[(y-rect.Min.Y)*w:])
	}
}

func fillRect(canvas []byte, stride int, rect image.Rectangle, v byte) {
	for y := rect.Min.Y; y < rect.Max.Y; y++ {
		row := canvas[y*stride+rect.Min.X : y*stride+rect.Max.X]
		for x := range row {
			row[x] = v
		}
	}
}
