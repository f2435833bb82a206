package bbqr

import (
	"bytes"
	"compress/flate"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Encoding is the third header character.
type Encoding byte

// The encodings of the BBQr specification.
const (
	Hex    Encoding = 'H'
	Base32 Encoding = '2'
	Zlib   Encoding = 'Z'
)

// FilePSBT is the file type of a PSBT; FileTransaction a signed transaction.
const (
	FilePSBT        byte = 'P'
	FileTransaction byte = 'T'
)

// Limits.
const (
	HeaderLen = 8
	MaxParts  = 1295             // "ZZ" in base36
	MaxOutput = 8 << 20          // bound on a joined (and decompressed) file
	maxInput  = 2*MaxOutput + 64 // bound on one part's text
)

// Errors callers can branch on.
var (
	ErrMalformed      = errors.New("malformed BBQr part")
	ErrMixedMessages  = errors.New("BBQr parts from different files are mixed")
	ErrIncomplete     = errors.New("BBQr parts missing")
	ErrTooLarge       = errors.New("BBQr file too large")
	ErrNotImplemented = errors.New("BBQr encoding not supported for writing")
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// Split encodes data and cuts it into as few parts as fit maxCharsPerPart
// (header included; a QR version's alphanumeric capacity at level L), all of
// equal length but the last. It writes encodings H and 2.
func Split(data []byte, fileType byte, enc Encoding, maxCharsPerPart int) ([]string, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: nothing to split", ErrMalformed)
	}
	if len(data) > MaxOutput {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(data))
	}
	if !validFileType(fileType) {
		return nil, fmt.Errorf("%w: file type %q", ErrMalformed, fileType)
	}
	var body string
	var align int
	switch enc {
	case Hex:
		body, align = strings.ToUpper(hex.EncodeToString(data)), 2
	case Base32:
		body, align = b32.EncodeToString(data), 8
	case Zlib:
		return nil, fmt.Errorf("%w: Z (write H or 2; Z is read only)", ErrNotImplemented)
	default:
		return nil, fmt.Errorf("%w: encoding %q", ErrMalformed, enc)
	}
	room := (maxCharsPerPart - HeaderLen) / align * align
	if room < align {
		return nil, fmt.Errorf("%w: %d characters per part leave no room after the header", ErrMalformed, maxCharsPerPart)
	}
	n := (len(body) + room - 1) / room
	if n > MaxParts {
		return nil, fmt.Errorf("%w: needs %d parts, at most %d allowed: use larger QR codes", ErrTooLarge, n, MaxParts)
	}
	// Even out the parts: the same count, each as short as alignment allows.
	per := (len(body) + n - 1) / n
	per = (per + align - 1) / align * align
	parts := make([]string, 0, n)
	for i := 0; i < n; i++ {
		lo, hi := i*per, min((i+1)*per, len(body))
		if lo >= hi { // the rounding left nothing for the last part
			return Split(data, fileType, enc, maxCharsPerPart-align)
		}
		parts = append(parts, header(enc, fileType, n, i)+body[lo:hi])
	}
	return parts, nil
}

func header(enc Encoding, fileType byte, total, index int) string {
	return "B$" + string(enc) + string(fileType) + base36(total) + base36(index)
}

func base36(n int) string {
	s := strings.ToUpper(strconv.FormatInt(int64(n), 36))
	if len(s) < 2 {
		s = "0" + s
	}
	return s
}

func validFileType(t byte) bool { return t >= 'A' && t <= 'Z' }

// part is one parsed part.
type part struct {
	enc   Encoding
	typ   byte
	total int
	index int
	body  string
}

func parse(s string) (part, error) {
	s = strings.TrimSpace(s)
	if len(s) > maxInput {
		return part{}, fmt.Errorf("%w: a part of %d characters", ErrTooLarge, len(s))
	}
	if len(s) < HeaderLen || !strings.HasPrefix(s, "B$") {
		return part{}, fmt.Errorf("%w: want an 8-character header starting B$", ErrMalformed)
	}
	p := part{enc: Encoding(s[2]), typ: s[3], body: s[HeaderLen:]}
	switch p.enc {
	case Hex, Base32, Zlib:
	default:
		return part{}, fmt.Errorf("%w: encoding %q (want H, 2 or Z)", ErrMalformed, s[2])
	}
	if !validFileType(p.typ) {
		return part{}, fmt.Errorf("%w: file type %q", ErrMalformed, s[3])
	}
	total, err1 := parseBase36(s[4:6])
	index, err2 := parseBase36(s[6:8])
	if err1 != nil || err2 != nil {
		return part{}, fmt.Errorf("%w: part count and index must be base36 digits: %q", ErrMalformed, s[4:8])
	}
	if total < 1 || index >= total {
		return part{}, fmt.Errorf("%w: part %d of %d", ErrMalformed, index, total)
	}
	p.total, p.index = total, index
	if len(p.body) == 0 {
		return part{}, fmt.Errorf("%w: part %d is empty", ErrMalformed, index)
	}
	if _, err := decodeBody(p); err != nil {
		return part{}, err
	}
	return p, nil
}

func parseBase36(s string) (int, error) {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z') {
			return 0, errors.New("not base36")
		}
	}
	n, err := strconv.ParseInt(s, 36, 32)
	return int(n), err
}

func decodeBody(p part) ([]byte, error) {
	switch p.enc {
	case Hex:
		b, err := hex.DecodeString(p.body)
		if err != nil {
			return nil, fmt.Errorf("%w: part %d: hex: %v", ErrMalformed, p.index, err)
		}
		return b, nil
	default:
		if strings.Contains(p.body, "=") {
			return nil, fmt.Errorf("%w: part %d: Base32 padding ('=') is not allowed", ErrMalformed, p.index)
		}
		if p.index < p.total-1 && len(p.body)%8 != 0 {
			return nil, fmt.Errorf("%w: part %d: a Base32 part other than the last must be a multiple of 8 characters", ErrMalformed, p.index)
		}
		b, err := b32.DecodeString(p.body)
		if err != nil {
			return nil, fmt.Errorf("%w: part %d: Base32: %v", ErrMalformed, p.index, err)
		}
		return b, nil
	}
}

// Joiner collects parts until the file is complete.
type Joiner struct {
	first *part
	parts map[int]part
}

// NewJoiner returns an empty joiner.
func NewJoiner() *Joiner { return &Joiner{parts: map[int]part{}} }

// Add takes one scanned part. Repeats are harmless; a part of another file
// is refused with ErrMixedMessages.
func (j *Joiner) Add(s string) error {
	p, err := parse(s)
	if err != nil {
		return err
	}
	if j.first == nil {
		j.first = &p
	} else if p.enc != j.first.enc || p.typ != j.first.typ || p.total != j.first.total {
		return fmt.Errorf("%w: this part says %c/%c/%d parts, earlier ones %c/%c/%d", ErrMixedMessages,
			p.enc, p.typ, p.total, j.first.enc, j.first.typ, j.first.total)
	}
	if old, ok := j.parts[p.index]; ok {
		if old.body != p.body {
			return fmt.Errorf("%w: two different parts %d", ErrMixedMessages, p.index)
		}
		return nil
	}
	j.parts[p.index] = p
	return nil
}

// Progress reports parts received and parts needed (0 before the first).
func (j *Joiner) Progress() (have, total int) {
	if j.first == nil {
		return 0, 0
	}
	return len(j.parts), j.first.total
}

// Complete reports whether every part has arrived.
func (j *Joiner) Complete() bool {
	have, total := j.Progress()
	return total > 0 && have == total
}

// Result joins the parts and returns the file type and the file.
func (j *Joiner) Result() (byte, []byte, error) {
	if !j.Complete() {
		have, total := j.Progress()
		return 0, nil, fmt.Errorf("%w: %d of %d received", ErrIncomplete, have, total)
	}
	var buf bytes.Buffer
	size := len(j.parts[0].body)
	for i := 0; i < j.first.total; i++ {
		p := j.parts[i]
		if i < j.first.total-1 && len(p.body) != size {
			return 0, nil, fmt.Errorf("%w: part %d has %d characters, part 0 has %d: all but the last must be equal", ErrMalformed, i, len(p.body), size)
		}
		b, err := decodeBody(p)
		if err != nil {
			return 0, nil, err
		}
		if buf.Len()+len(b) > MaxOutput {
			return 0, nil, fmt.Errorf("%w: over %d bytes", ErrTooLarge, MaxOutput)
		}
		buf.Write(b)
	}
	data := buf.Bytes()
	if j.first.enc == Zlib {
		r := flate.NewReader(bytes.NewReader(data))
		defer r.Close()
		out, err := io.ReadAll(io.LimitReader(r, MaxOutput+1))
		if err != nil {
			return 0, nil, fmt.Errorf("%w: decompressing: %v", ErrMalformed, err)
		}
		if len(out) > MaxOutput {
			return 0, nil, fmt.Errorf("%w: decompresses to over %d bytes", ErrTooLarge, MaxOutput)
		}
		data = out
	}
	return j.first.typ, data, nil
}

// Join joins a complete set of parts.
func Join(parts []string) (byte, []byte, error) {
	j := NewJoiner()
	for _, p := range parts {
		if err := j.Add(p); err != nil {
			return 0, nil, err
		}
	}
	return j.Result()
}

// IsPart reports whether s looks like a BBQr part (for telling formats apart).
func IsPart(s string) bool { return strings.HasPrefix(strings.TrimSpace(s), "B$") }
