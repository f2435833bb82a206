package ur

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Limits on what a scanned part may ask the decoder to hold.
const (
	// MaxMessageLen bounds a message (the UR's CBOR), so that a hostile
	// part header cannot make the decoder allocate gigabytes.
	MaxMessageLen = 8 << 20
	// MaxSeqLen bounds the number of fragments: fountain bookkeeping grows
	// with it, faster than linearly. 16384 parts of the 10-byte minimum
	// still carry 160 kB, and no one scans more QR codes than that.
	MaxSeqLen = 1 << 14
	// maxPartChars bounds one part's text: a whole message in bytewords,
	// with room for the type and the part header.
	maxPartChars = 2*(MaxMessageLen+64) + 1024
)

// Errors callers can branch on; each is wrapped with the detail.
var (
	ErrInvalidPart   = errors.New("invalid UR part")
	ErrChecksum      = errors.New("UR checksum mismatch")
	ErrMixedMessages = errors.New("parts of different UR messages are mixed")
	ErrTooLarge      = errors.New("UR too large")
	ErrIncomplete    = errors.New("UR incomplete")
	ErrWrongType     = errors.New("wrong UR type")
	ErrNotPSBT       = errors.New("UR does not hold a PSBT")
)

// UR is a Uniform Resource: a registered type name and a CBOR body.
type UR struct {
	Type string
	CBOR []byte
}

// validType reports whether t is a UR type: lower-case letters, digits and
// hyphens.
func validType(t string) bool {
	if t == "" {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// parsedPart is the text of one UR part taken apart.
type parsedPart struct {
	typ     string
	seqNum  uint32 // zero for a single-part UR
	seqLen  uint32
	payload []byte // the bytewords decoded, checksum verified
}

// parsePart reads "ur:type/bytewords" or "ur:type/seq-len/bytewords" in
// any letter case.
func parsePart(s string) (parsedPart, error) {
	if len(s) > maxPartChars {
		return parsedPart{}, fmt.Errorf("%w: a part of %d characters", ErrTooLarge, len(s))
	}
	s = strings.ToLower(strings.TrimSpace(s))
	rest, ok := strings.CutPrefix(s, "ur:")
	if !ok {
		return parsedPart{}, fmt.Errorf("%w: not a UR (it must start with \"ur:\")", ErrInvalidPart)
	}
	fields := strings.Split(rest, "/")
	if len(fields) != 2 && len(fields) != 3 {
		return parsedPart{}, fmt.Errorf("%w: want ur:type/data or ur:type/seq-len/data, got %d path components", ErrInvalidPart, len(fields))
	}
	var p parsedPart
	p.typ = fields[0]
	if !validType(p.typ) {
		return parsedPart{}, fmt.Errorf("%w: type %q (only letters, digits and hyphens)", ErrInvalidPart, p.typ)
	}
	if len(fields) == 3 {
		num, length, ok := strings.Cut(fields[1], "-")
		n, err1 := parseSeq(num)
		l, err2 := parseSeq(length)
		if !ok || err1 != nil || err2 != nil {
			return parsedPart{}, fmt.Errorf("%w: sequence %q (want two positive numbers, as in 3-10)", ErrInvalidPart, fields[1])
		}
		p.seqNum, p.seqLen = n, l
	}
	payload, err := decodeBytewords(fields[len(fields)-1], styleMinimal)
	if err != nil {
		return parsedPart{}, err
	}
	p.payload = payload
	return p, nil
}

// parseSeq reads a positive decimal number of at most 32 bits.
func parseSeq(s string) (uint32, error) {
	if s == "" || len(s) > 10 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, errors.New("not a decimal number")
	}
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil || v == 0 {
		return 0, errors.New("out of range")
	}
	return uint32(v), nil
}

// Decode reads a single-part UR.
func Decode(part string) (UR, error) {
	p, err := parsePart(part)
	if err != nil {
		return UR{}, err
	}
	if p.seqNum != 0 {
		return UR{}, fmt.Errorf("%w: part %d of a %d-part UR: collect the parts with a Decoder", ErrInvalidPart, p.seqNum, p.seqLen)
	}
	if len(p.payload) > MaxMessageLen {
		return UR{}, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(p.payload), MaxMessageLen)
	}
	return UR{Type: p.typ, CBOR: p.payload}, nil
}

// Encode writes u as a single-part UR, "ur:type/bytewords", however long.
// For QR codes prefer an Encoder, which splits what does not fit.
func Encode(u UR) (string, error) {
	if !validType(u.Type) {
		return "", fmt.Errorf("%w: type %q (only lower-case letters, digits and hyphens)", ErrInvalidPart, u.Type)
	}
	if len(u.CBOR) == 0 || len(u.CBOR) > MaxMessageLen {
		return "", fmt.Errorf("%w: %d bytes of CBOR (want 1 to %d)", ErrInvalidPart, len(u.CBOR), MaxMessageLen)
	}
	return "ur:" + u.Type + "/" + encodeBytewords(u.CBOR, styleMinimal), nil
}

// Encoder turns a UR into the text of QR codes to show in turn: one part
// if the CBOR fits maxFragmentLen, otherwise an endless fountain-coded
// stream "ur:type/seq-len/...", of which the receiver needs about SeqLen
// parts, in any order.
type Encoder struct {
	typ      string
	single   string // the whole UR when it fits one part
	fountain *fountainEncoder
}

// NewEncoder prepares the parts of u, each carrying at most maxFragmentLen
// bytes of CBOR (at least 10).
func NewEncoder(u UR, maxFragmentLen int) (*Encoder, error) {
	return newEncoder(u, maxFragmentLen, 0)
}

// newEncoder lets tests start at another part number, as the reference
// vectors do.
func newEncoder(u UR, maxFragmentLen int, firstSeqNum uint32) (*Encoder, error) {
	if !validType(u.Type) {
		return nil, fmt.Errorf("%w: type %q (only lower-case letters, digits and hyphens)", ErrInvalidPart, u.Type)
	}
	if len(u.CBOR) > MaxMessageLen {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(u.CBOR), MaxMessageLen)
	}
	f, err := newFountainEncoder(u.CBOR, maxFragmentLen, firstSeqNum)
	if err != nil {
		return nil, err
	}
	if f.seqLen() > MaxSeqLen {
		return nil, fmt.Errorf("%w: %d parts, the limit is %d: use longer fragments", ErrTooLarge, f.seqLen(), MaxSeqLen)
	}
	e := &Encoder{typ: u.Type, fountain: f}
	if f.seqLen() == 1 {
		e.single = "ur:" + u.Type + "/" + encodeBytewords(u.CBOR, styleMinimal)
	}
	return e, nil
}

// NextPart returns the next part's text, in lower case.
func (e *Encoder) NextPart() string {
	if e.single != "" {
		return e.single
	}
	p := e.fountain.nextPart()
	return fmt.Sprintf("ur:%s/%d-%d/%s", e.typ, p.seqNum, p.seqLen, encodeBytewords(encodePartCBOR(p), styleMinimal))
}

// SeqLen is the number of fragments: the parts a receiver needs at least.
func (e *Encoder) SeqLen() int { return e.fountain.seqLen() }

// IsSinglePart reports whether one part holds the whole UR.
func (e *Encoder) IsSinglePart() bool { return e.single != "" }

// Decoder collects the parts of one UR as a camera scans them: in any
// order, with duplicates and gaps (later fountain parts fill the gaps).
// A part that cannot be read is refused with an error and leaves the
// decoder as it was, so scanning can go on. Parts of another message are
// refused with ErrMixedMessages; to read that message instead, start a new
// Decoder.
type Decoder struct {
	typ      string
	single   []byte // the CBOR of a single-part UR
	fountain fountainDecoder
}

// NewDecoder returns an empty decoder.
func NewDecoder() *Decoder { return &Decoder{} }

// Receive takes the text of one scanned part. Once the message is rebuilt,
// further parts of it are ignored; if the rebuilt message fails its
// checksum, every call returns that ErrChecksum error: start a new Decoder
// and scan again.
func (d *Decoder) Receive(part string) error {
	p, err := parsePart(part)
	if err != nil {
		return err
	}
	if d.typ != "" && p.typ != d.typ {
		return fmt.Errorf("%w: a part of type %q among parts of type %q", ErrMixedMessages, p.typ, d.typ)
	}
	if p.seqNum == 0 {
		return d.receiveSingle(p)
	}
	if d.single != nil {
		return fmt.Errorf("%w: part %d of a %d-part UR after a single-part one", ErrMixedMessages, p.seqNum, p.seqLen)
	}
	fp, err := decodePartCBOR(p.payload)
	if err != nil {
		return err
	}
	if fp.seqNum != p.seqNum || uint32(fp.seqLen) != p.seqLen {
		return fmt.Errorf("%w: the text says part %d-%d, its content part %d-%d", ErrInvalidPart, p.seqNum, p.seqLen, fp.seqNum, fp.seqLen)
	}
	if err := d.fountain.receive(fp); err != nil && !errors.Is(err, ErrChecksum) {
		return err // refused: nothing changed
	}
	d.typ = p.typ
	return d.fountain.err
}

func (d *Decoder) receiveSingle(p parsedPart) error {
	if d.fountain.started {
		return fmt.Errorf("%w: a single-part UR among the parts of a multi-part one", ErrMixedMessages)
	}
	if len(p.payload) > MaxMessageLen {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(p.payload), MaxMessageLen)
	}
	if d.single != nil {
		if !slices.Equal(d.single, p.payload) {
			return fmt.Errorf("%w: two different single-part URs", ErrMixedMessages)
		}
		return nil
	}
	d.typ, d.single = p.typ, p.payload
	return nil
}

// Progress reports fragments known and fragments in the message (0, 0
// before the first part). Fountain parts whose fragments are not yet all
// known count only once they have been peeled.
func (d *Decoder) Progress() (received, needed int) {
	if d.single != nil {
		return 1, 1
	}
	if !d.fountain.started {
		return 0, 0
	}
	return d.fountain.known, d.fountain.seqLen
}

// EstimatedPercentComplete is a rough fraction in [0, 1] for a progress bar;
// it never goes down and reaches 1 only when decoding is done.
func (d *Decoder) EstimatedPercentComplete() float64 {
	if d.single != nil {
		return 1
	}
	return d.fountain.estimate
}

// Complete reports whether decoding is over: the message is rebuilt, or it
// failed its checksum (Result then says so).
func (d *Decoder) Complete() bool { return d.single != nil || d.fountain.done() }

// Result returns the decoded UR.
func (d *Decoder) Result() (UR, error) {
	switch {
	case d.single != nil:
		return UR{Type: d.typ, CBOR: slices.Clone(d.single)}, nil
	case d.fountain.err != nil:
		return UR{}, d.fountain.err
	case d.fountain.result != nil:
		return UR{Type: d.typ, CBOR: slices.Clone(d.fountain.result)}, nil
	}
	have, need := d.Progress()
	return UR{}, fmt.Errorf("%w: %d of %d fragments", ErrIncomplete, have, need)
}
