package qrimage

import (
	"fmt"

	qrcode "github.com/skip2/go-qrcode"
)

// Level is a QR error-correction level. Its zero value is LevelL.
type Level int

// Error-correction levels, from most data per symbol to most damage tolerated.
// Frames on a screen are not damaged, so LevelL (the default) is the usual
// choice: it gives the smallest, quickest-to-scan symbols.
const (
	LevelL Level = iota // recovers about 7% damaged codewords
	LevelM              // about 15%
	LevelQ              // about 25%
	LevelH              // about 30%
)

// String returns the level's letter.
func (l Level) String() string {
	switch l {
	case LevelL:
		return "L"
	case LevelM:
		return "M"
	case LevelQ:
		return "Q"
	case LevelH:
		return "H"
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

func (l Level) recovery() (qrcode.RecoveryLevel, error) {
	switch l {
	case LevelL:
		return qrcode.Low, nil
	case LevelM:
		return qrcode.Medium, nil
	case LevelQ:
		return qrcode.High, nil
	case LevelH:
		return qrcode.Highest, nil
	}
	return 0, fmt.Errorf("qrimage: unknown error-correction level %d", int(l))
}

// Bounds on Options. The largest symbol (version 40, 177 modules) with the
// largest border and module size stays under MaxImageSide, so everything this
// package writes it can also read.
const (
	MaxModulePixels = 32
	MaxBorder       = 16
)

// Options says how a QR symbol is drawn.
type Options struct {
	// ModulePixels is the width and height of one module in pixels, 1 to
	// MaxModulePixels.
	ModulePixels int
	// Level is the error-correction level.
	Level Level
	// Border is the quiet zone around the symbol in modules, 0 to MaxBorder.
	// The QR standard asks for 4; readers often cope with less, but not
	// always.
	Border int
}

// DefaultOptions returns 8-pixel modules, level L and the standard 4-module
// quiet zone: a 300-character upper-case UR part becomes a 488x488 image.
func DefaultOptions() Options {
	return Options{ModulePixels: 8, Level: LevelL, Border: 4}
}

func (o Options) validate() error {
	if o.ModulePixels < 1 || o.ModulePixels > MaxModulePixels {
		return fmt.Errorf("qrimage: module size %d pixels is outside 1..%d", o.ModulePixels, MaxModulePixels)
	}
	if o.Border < 0 || o.Border > MaxBorder {
		return fmt.Errorf("qrimage: border %d modules is outside 0..%d", o.Border, MaxBorder)
	}
	if _, err := o.Level.recovery(); err != nil {
		return err
	}
	return nil
}

// symbol is one encoded QR code: its modules without any quiet zone,
// dark[y][x] true for a dark module.
type symbol struct {
	version int
	dark    [][]bool
}

func (s symbol) size() int { return len(s.dark) }

func newQR(frame string, level Level) (*qrcode.QRCode, error) {
	if frame == "" {
		return nil, fmt.Errorf("qrimage: empty frame")
	}
	rl, err := level.recovery()
	if err != nil {
		return nil, err
	}
	q, err := qrcode.New(frame, rl)
	if err != nil {
		return nil, fmt.Errorf("qrimage: cannot encode %d-byte frame at level %v: %w", len(frame), level, err)
	}
	return q, nil
}

func encodeSymbol(frame string, level Level) (symbol, error) {
	q, err := newQR(frame, level)
	if err != nil {
		return symbol{}, err
	}
	q.DisableBorder = true // the quiet zone is drawn here, sized by Options.Border
	return symbol{version: q.VersionNumber, dark: q.Bitmap()}, nil
}

// SymbolVersion returns the QR version (1 to 40) the frame needs at the given
// level. Callers choosing a fragment length can use it to keep every frame of
// an animation at a version a camera reads comfortably.
func SymbolVersion(frame string, level Level) (int, error) {
	q, err := newQR(frame, level)
	if err != nil {
		return 0, err
	}
	return q.VersionNumber, nil
}
