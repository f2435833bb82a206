package transport

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/cryptoassets/cryptoassets/shared/psbt/bbqr"
	"github.com/cryptoassets/cryptoassets/shared/psbt/ur"
)

// Format is a QR transport standard.
type Format int

// The two formats.
const (
	UR Format = iota
	BBQr
)

// ParseFormat reads "ur" or "bbqr".
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "ur":
		return UR, nil
	case "bbqr":
		return BBQr, nil
	}
	return 0, fmt.Errorf("QR format %q: use ur or bbqr", s)
}

func (f Format) String() string {
	if f == BBQr {
		return "bbqr"
	}
	return "ur"
}

// Density trades frames for QR size: low density is easiest for a phone
// camera, high density needs fewer frames.
type Density int

// Densities.
const (
	Low Density = iota
	Medium
	High
)

// ParseDensity reads "low", "medium" or "high".
func ParseDensity(s string) (Density, error) {
	switch strings.ToLower(s) {
	case "low":
		return Low, nil
	case "medium", "":
		return Medium, nil
	case "high":
		return High, nil
	}
	return 0, fmt.Errorf("QR density %q: use low, medium or high", s)
}

// urFragment is bytes of PSBT per UR frame; bbqrVersion the QR version a
// BBQr frame fills (alphanumeric, error correction L).
var (
	urFragment  = map[Density]int{Low: 120, Medium: 250, High: 500}
	bbqrVersion = map[Density]int{Low: 11, Medium: 17, High: 23}
)

// Frames returns the frame texts for a PSBT, upper case so QR codes use
// alphanumeric mode. For UR it returns every pure fragment and as many
// fountain frames again, so unreadable frames cost nothing but time; for
// BBQr, every part once.
func Frames(psbt []byte, f Format, d Density) ([]string, error) {
	switch f {
	case UR:
		e, err := ur.NewEncoder(ur.PSBTToUR(psbt), urFragment[d])
		if err != nil {
			return nil, err
		}
		n := 1
		if !e.IsSinglePart() {
			n = 2 * e.SeqLen()
		}
		out := make([]string, n)
		for i := range out {
			out[i] = strings.ToUpper(e.NextPart())
		}
		return out, nil
	case BBQr:
		return bbqr.Split(psbt, bbqr.FilePSBT, bbqr.Base32, bbqr.MaxCharsForVersion(bbqrVersion[d]))
	}
	return nil, fmt.Errorf("unknown QR format %d", f)
}

// maxSingleTxHex is the most hex a single QR code holds comfortably for a
// phone camera (QR version 40 at level L holds 2,953 bytes; the limit keeps
// well below, where scanners still read a screen).
const maxSingleTxHex = 2000

// TxFrames returns the frames of a finalized network transaction (its
// serialized bytes). UR: one QR code of its lowercase hex, the form
// Electrum, Sparrow and Bitcoin Core users paste or scan as a raw
// transaction; a transaction too large for one code is refused with a
// pointer to BBQr. BBQr: file type T (a signed transaction), the form the
// Coldcard Q and Sparrow read, split over as many frames as needed.
func TxFrames(tx []byte, f Format, d Density) ([]string, error) {
	switch f {
	case UR:
		h := hex.EncodeToString(tx)
		if len(h) > maxSingleTxHex {
			return nil, fmt.Errorf("the transaction is %d bytes, too large for one QR code of hex: use --format bbqr, or the hex file", len(tx))
		}
		return []string{h}, nil
	case BBQr:
		return bbqr.Split(tx, bbqr.FileTransaction, bbqr.Base32, bbqr.MaxCharsForVersion(bbqrVersion[d]))
	}
	return nil, fmt.Errorf("unknown QR format %d", f)
}

// ErrMixedFormats is returned when UR and BBQr frames are mixed.
var ErrMixedFormats = errors.New("UR and BBQr frames mixed: scan one PSBT at a time")

// Assembler collects frames of one PSBT.
type Assembler struct {
	format *Format
	ur     *ur.Decoder
	bb     *bbqr.Joiner
}

// NewAssembler returns an empty assembler.
func NewAssembler() *Assembler { return &Assembler{ur: ur.NewDecoder(), bb: bbqr.NewJoiner()} }

// Add takes one frame text. Repeats are harmless; frames of another PSBT or
// of the other format are refused.
func (a *Assembler) Add(frame string) error {
	frame = strings.TrimSpace(frame)
	var f Format
	switch {
	case bbqr.IsPart(frame):
		f = BBQr
	case strings.HasPrefix(strings.ToLower(frame), "ur:"):
		f = UR
	default:
		return fmt.Errorf("not a UR or BBQr frame: %.40q", frame)
	}
	if a.format != nil && *a.format != f {
		return ErrMixedFormats
	}
	var err error
	if f == UR {
		err = a.ur.Receive(frame)
	} else {
		err = a.bb.Add(frame)
	}
	if err != nil {
		return err
	}
	a.format = &f
	return nil
}

// Progress reports parts seen and needed (0, 0 before the first frame).
func (a *Assembler) Progress() (have, need int) {
	if a.format == nil {
		return 0, 0
	}
	if *a.format == UR {
		return a.ur.Progress()
	}
	return a.bb.Progress()
}

// Complete reports whether the PSBT can be returned.
func (a *Assembler) Complete() bool {
	if a.format == nil {
		return false
	}
	if *a.format == UR {
		return a.ur.Complete()
	}
	return a.bb.Complete()
}

// PSBT returns the assembled PSBT bytes.
func (a *Assembler) PSBT() ([]byte, error) {
	if !a.Complete() {
		have, need := a.Progress()
		return nil, fmt.Errorf("PSBT incomplete: %d of %d parts scanned", have, need)
	}
	if *a.format == UR {
		u, err := a.ur.Result()
		if err != nil {
			return nil, err
		}
		return ur.PSBTFromUR(u)
	}
	typ, data, err := a.bb.Result()
	if err != nil {
		return nil, err
	}
	if typ != bbqr.FilePSBT {
		return nil, fmt.Errorf("the BBQr frames carry a file of type %c, not a PSBT (P)", typ)
	}
	return data, nil
}
