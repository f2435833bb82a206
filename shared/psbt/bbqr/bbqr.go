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

// Encoding is the header's third character: how the file is spelled in the
// QR codes.
type Encoding byte

// The encodings of the BBQr specification.
const (
	Hex    Encoding = 'H' // upper-case hexadecimal
	Base32 Encoding = '2' // RFC 4648 Base32 without padding
	Zlib   Encoding = 'Z' // raw DEFLATE (wbits 10, no header), then Base32; read only here
)

// File types of the BBQr specification (the header's fourth character).
const (
	FilePSBT        byte = 'P'
	FileTransaction byte = 'T' // a signed transaction, ready to broadcast
	FileJSON        byte = 'J'
	FileCBOR        byte = 'C'
	FileText        byte = 'U' // UTF-8 text
	FileBinary      byte = 'B'
)

// Limits.
const (
	HeaderLen = 8
	// MaxParts is "ZZ", the most two base36 digits can count.
	MaxParts = 36*36 - 1
	// MaxFileLen bounds a joined file, after decompression: a few parts
	// of deflated zeros must not expand into gigabytes.
	MaxFileLen = 8 << 20
	// maxPartChars bounds one part's text.
	maxPartChars = HeaderLen + 2*MaxFileLen
)

// Errors callers can branch on; each is wrapped with the detail.
var (
	ErrMalformed           = errors.New("malformed BBQr part")
	ErrMixedMessages       = errors.New("BBQr parts of different files are mixed")
	ErrIncomplete          = errors.New("BBQr parts missing")
	ErrTooLarge            = errors.New("BBQr file too large")
	ErrUnsupportedEncoding = errors.New("BBQr encoding not supported for writing")
)

var base32NoPad = base32.StdEncoding.WithPadding(base32.NoPadding)

// alignment is the number of characters that spell whole bytes: every part
// but the last must be a multiple of it.
func (e Encoding) alignment() int {
	if e == Hex {
		return 2
	}
	return 8 // 8 Base32 characters are 5 bytes
}

// decodedLen is the number of bytes n characters of a non-final part hold.
func (e Encoding) decodedLen(n int) int {
	if e == Hex {
		return n / 2
	}
	return n * 5 / 8
}

// Split spells data in enc (Hex or Base32; Zlib is refused) and cuts it into
// the fewest parts of at most maxCharsPerPart characters, header included
// (see MaxCharsForVersion). The specification asks for parts of equal
// length but the last, and recommends spreading the data evenly rather
// than ending on a small runt: the parts share the text as equally as
// byte alignment allows.
func Split(data []byte, fileType byte, enc Encoding, maxCharsPerPart int) ([]string, error) {
	if len(data) == 0 {
		return nil, errors.New("bbqr: nothing to split")
	}
	if len(data) > MaxFileLen {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(data), MaxFileLen)
	}
	if !validFileType(fileType) {
		return nil, fmt.Errorf("bbqr: file type %q (want an upper-case letter or digit)", fileType)
	}
	var body string
	switch enc {
	case Hex:
		body = strings.ToUpper(hex.EncodeToString(data))
	case Base32:
		body = base32NoPad.EncodeToString(data)
	case Zlib:
		return nil, fmt.Errorf("%w: Z (this package writes H and 2 and reads all three)", ErrUnsupportedEncoding)
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedEncoding, enc)
	}
	return splitEncoded(body, enc, fileType, maxCharsPerPart)
}

// splitEncoded cuts an encoded body into parts (see Split).
func splitEncoded(body string, enc Encoding, fileType byte, maxCharsPerPart int) ([]string, error) {
	capacity := maxCharsPerPart - HeaderLen
	if len(body) <= capacity { // a single part needs no alignment
		return []string{header(enc, fileType, 1, 0) + body}, nil
	}
	align := enc.alignment()
	room := capacity / align * align
	if room < align {
		return nil, fmt.Errorf("bbqr: %d characters per part leave no room for data after the %d-character header", maxCharsPerPart, HeaderLen)
	}
	n := ceilDiv(len(body), room)
	if n > MaxParts {
		return nil, fmt.Errorf("%w: %d characters need %d parts of %d, BBQr allows %d: use larger QR codes", ErrTooLarge, len(body), n, maxCharsPerPart, MaxParts)
	}
	// Even out: the same number of parts, each as short as alignment allows.
	// per <= room, and (n-1)*per < len(body), so the last part is not empty.
	per := ceilDiv(ceilDiv(len(body), n), align) * align
	parts := make([]string, n)
	for i := range parts {
		parts[i] = header(enc, fileType, n, i) + body[i*per:min((i+1)*per, len(body))]
	}
	return parts, nil
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func header(enc Encoding, fileType byte, total, index int) string {
	return fmt.Sprintf("B$%c%c%s%s", enc, fileType, base36(total), base36(index))
}

func base36(n int) string {
	s := strings.ToUpper(strconv.FormatInt(int64(n), 36))
	if len(s) < 2 {
		s = "0" + s
	}
	return s
}

func validFileType(t byte) bool { return t >= 'A' && t <= 'Z' || t >= '0' && t <= '9' }

// IsPart reports whether s looks like a BBQr part, to tell it from a UR or
// a bare PSBT.
func IsPart(s string) bool { return strings.HasPrefix(strings.TrimSpace(s), "B$") }

// part is one parsed and decoded part.
type part struct {
	enc      Encoding
	fileType byte
	total    int
	index    int
	chars    int    // length of the encoded body
	data     []byte // the body decoded (still compressed for Zlib)
}

func (p part) last() bool { return p.index == p.total-1 }

func parse(s string) (part, error) {
	s = strings.TrimSpace(s)
	if len(s) > maxPartChars {
		return part{}, fmt.Errorf("%w: a part of %d characters", ErrTooLarge, len(s))
	}
	if len(s) < HeaderLen || !strings.HasPrefix(s, "B$") {
		return part{}, fmt.Errorf("%w: want an 8-character header starting \"B$\"", ErrMalformed)
	}
	p := part{enc: Encoding(s[2]), fileType: s[3]}
	switch p.enc {
	case Hex, Base32, Zlib:
	default:
		return part{}, fmt.Errorf("%w: encoding %q is reserved (want H, 2 or Z)", ErrMalformed, s[2])
	}
	if !validFileType(p.fileType) {
		return part{}, fmt.Errorf("%w: file type %q", ErrMalformed, s[3])
	}
	total, ok1 := parseBase36(s[4:6])
	index, ok2 := parseBase36(s[6:8])
	if !ok1 || !ok2 {
		return part{}, fmt.Errorf("%w: part count and index must be two upper-case base36 digits each, got %q", ErrMalformed, s[4:8])
	}
	if total < 1 || index >= total {
		return part{}, fmt.Errorf("%w: part %d of %d", ErrMalformed, index, total)
	}
	p.total, p.index = total, index
	body := s[HeaderLen:]
	p.chars = len(body)
	if body == "" {
		return part{}, fmt.Errorf("%w: part %d holds no data", ErrMalformed, index)
	}
	if !p.last() && len(body)%p.enc.alignment() != 0 {
		return part{}, fmt.Errorf("%w: part %d has %d characters; every part but the last must hold whole bytes (a multiple of %d)", ErrMalformed, index, len(body), p.enc.alignment())
	}
	var err error
	if p.enc == Hex {
		p.data, err = hex.DecodeString(body)
	} else if i := strings.IndexFunc(body, func(r rune) bool { return !(r >= 'A' && r <= 'Z' || r >= '2' && r <= '7') }); i >= 0 {
		err = fmt.Errorf("%q at %d is not an RFC 4648 Base32 character (padding is not allowed)", body[i], HeaderLen+i)
	} else if r := len(body) % 8; r == 1 || r == 3 || r == 6 {
		err = fmt.Errorf("%d Base32 characters do not spell whole bytes", len(body))
	} else {
		p.data, err = base32NoPad.DecodeString(body)
	}
	if err != nil {
		return part{}, fmt.Errorf("%w: part %d: %v", ErrMalformed, index, err)
	}
	return p, nil
}

// parseBase36 reads two upper-case base36 digits.
func parseBase36(s string) (int, bool) {
	n := 0
	for _, c := range []byte(s) {
		switch {
		case c >= '0' && c <= '9':
			n = n*36 + int(c-'0')
		case c >= 'A' && c <= 'Z':
			n = n*36 + int(c-'A') + 10
		default:
			return 0, false
		}
	}
	return n, true
}

// Joiner collects the parts of one file as a camera scans them, in any
// order and with repeats. A part that cannot be read is refused and leaves
// the joiner as it was. A part of another file is refused with
// ErrMixedMessages; to read that file instead, start a new Joiner.
type Joiner struct {
	first   *part  // the first part accepted: its header binds the rest
	parts   []part // by index; data nil while missing
	have    int
	partLen int // characters in each non-final part, once one is seen
}

// NewJoiner returns an empty joiner.
func NewJoiner() *Joiner { return &Joiner{} }

// Add takes the text of one scanned part.
func (j *Joiner) Add(text string) error {
	p, err := parse(text)
	if err != nil {
		return err
	}
	if j.first != nil && (p.enc != j.first.enc || p.fileType != j.first.fileType || p.total != j.first.total) {
		return fmt.Errorf("%w: this part is %c-encoded, of type %c, one of %d; the parts before it %c-encoded, of type %c, one of %d",
			ErrMixedMessages, p.enc, p.fileType, p.total, j.first.enc, j.first.fileType, j.first.total)
	}
	if !p.last() {
		if j.partLen != 0 && p.chars != j.partLen {
			return fmt.Errorf("%w: part %d has %d characters, earlier parts %d (all parts but the last are equal)", ErrMixedMessages, p.index, p.chars, j.partLen)
		}
		if p.enc.decodedLen(p.chars)*(p.total-1) > MaxFileLen {
			return fmt.Errorf("%w: %d parts of %d characters exceed %d bytes", ErrTooLarge, p.total, p.chars, MaxFileLen)
		}
	}
	if j.parts != nil && j.parts[p.index].data != nil {
		if !bytes.Equal(j.parts[p.index].data, p.data) {
			return fmt.Errorf("%w: two different parts numbered %d", ErrMixedMessages, p.index)
		}
		return nil
	}
	if j.first == nil {
		j.first = &p
		j.parts = make([]part, p.total)
	}
	if !p.last() {
		j.partLen = p.chars
	}
	j.parts[p.index] = p
	j.have++
	return nil
}

// Progress reports parts received and parts in the file (0, 0 before the
// first).
func (j *Joiner) Progress() (have, total int) {
	if j.first == nil {
		return 0, 0
	}
	return j.have, j.first.total
}

// Complete reports whether every part has arrived.
func (j *Joiner) Complete() bool { return j.first != nil && j.have == j.first.total }

// Result joins the parts and returns the file type and the file, inflated
// if it was sent Zlib-encoded.
func (j *Joiner) Result() (fileType byte, data []byte, err error) {
	if !j.Complete() {
		return 0, nil, j.incomplete()
	}
	var buf bytes.Buffer
	for _, p := range j.parts {
		if buf.Len()+len(p.data) > MaxFileLen {
			return 0, nil, fmt.Errorf("%w: over %d bytes", ErrTooLarge, MaxFileLen)
		}
		buf.Write(p.data)
	}
	data = buf.Bytes()
	if j.first.enc == Zlib {
		if data, err = inflate(data); err != nil {
			return 0, nil, err
		}
	}
	return j.first.fileType, data, nil
}

func (j *Joiner) incomplete() error {
	if j.first == nil {
		return fmt.Errorf("%w: no part received", ErrIncomplete)
	}
	var missing []string
	for i, p := range j.parts {
		if p.data == nil {
			if len(missing) == 8 {
				missing = append(missing, "…")
				break
			}
			missing = append(missing, strconv.Itoa(i))
		}
	}
	return fmt.Errorf("%w: %d of %d received; missing %s", ErrIncomplete, j.have, j.first.total, strings.Join(missing, ", "))
}

// inflate undoes raw DEFLATE, refusing output beyond MaxFileLen. The
// specification fixes a 1 KiB window (wbits 10); any window is read here.
func inflate(compressed []byte) ([]byte, error) {
	r := flate.NewReader(bytes.NewReader(compressed))
	defer r.Close()
	out, err := io.ReadAll(io.LimitReader(r, MaxFileLen+1))
	if err != nil {
		return nil, fmt.Errorf("%w: the Zlib-encoded data does not inflate: %v", ErrMalformed, err)
	}
	if len(out) > MaxFileLen {
		return nil, fmt.Errorf("%w: the Zlib-encoded data inflates past %d bytes", ErrTooLarge, MaxFileLen)
	}
	return out, nil
}

// Join joins a complete set of parts, in any order, repeats allowed.
func Join(parts []string) (fileType byte, data []byte, err error) {
	j := NewJoiner()
	for _, p := range parts {
		if err := j.Add(p); err != nil {
			return 0, nil, err
		}
	}
	return j.Result()
}

// alphanumericCapacity is the number of QR alphanumeric characters a code
// of each version (1-40) holds at error correction level L (ISO/IEC 18004
// table 7), header included.
var alphanumericCapacity = [41]int{0,
	25, 47, 77, 114, 154, 195, 224, 279, 335, 395,
	468, 535, 619, 667, 758, 854, 938, 1046, 1153, 1249,
	1352, 1460, 1588, 1704, 1853, 1990, 2132, 2223, 2369, 2520,
	2677, 2840, 3009, 3183, 3351, 3537, 3729, 3927, 4087, 4296,
}

// MaxCharsForVersion is the most characters (header included) a BBQr part
// can have in a QR code of the given version at error correction level L,
// the level BBQr recommends; 0 for a version outside 1-40. It is the
// maxCharsPerPart to give Split for parts of that version.
func MaxCharsForVersion(version int) int {
	if version < 1 || version > 40 {
		return 0
	}
	return alphanumericCapacity[version]
}
