package psbt

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"

	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
)

// DefaultMaxSize bounds a PSBT read from outside: 4 MiB holds hundreds of
// inputs together with their full previous transactions.
const DefaultMaxSize = 4 << 20

// Errors callers can branch on with errors.Is; each is wrapped with detail.
var (
	ErrTooLarge     = errors.New("PSBT too large")
	ErrMalformed    = errors.New("malformed PSBT")
	ErrVersion2     = errors.New("PSBT version 2 is not supported: export the PSBT as version 0 (BIP174)")
	ErrDuplicateKey = errors.New("duplicate key in PSBT")
	ErrTrailingData = errors.New("unexpected data after the end of the PSBT")
	// ErrTooManyFields: a map, or the whole PSBT, has more key-value fields
	// than MaxFieldsPerMap or MaxFields.
	ErrTooManyFields = errors.New("too many fields in PSBT")
)

// magic starts every binary PSBT: "psbt" and 0xff.
var magic = []byte{'p', 's', 'b', 't', 0xff}

// The text forms of magic, used to recognise base64 and hex input.
const (
	base64Magic = "cHNidP8"
	hexMagic    = "70736274ff"
)

// Decode reads a PSBT given as binary, base64 or hex text (text may be
// surrounded by white space) and checks it strictly; see the package
// documentation for what it refuses. maxSize bounds the input as given, in
// whatever encoding, and so also the decoded PSBT; zero or less means
// DefaultMaxSize.
func Decode(data []byte, maxSize int) (*btcpsbt.Packet, error) {
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	if len(data) > maxSize {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(data), maxSize)
	}
	raw, err := toBinary(data)
	if err != nil {
		return nil, err
	}
	// Text always decodes to fewer bytes; the check keeps the bound true
	// whatever the input form.
	if len(raw) > maxSize {
		return nil, fmt.Errorf("%w: %d bytes decoded, the limit is %d", ErrTooLarge, len(raw), maxSize)
	}
	if err := checkStructure(raw); err != nil {
		return nil, err
	}
	p, err := btcpsbt.NewFromRawBytes(bytes.NewReader(raw), false)
	if err != nil {
		return nil, fmt.Errorf("%w: btcutil/psbt refused a field: %w", ErrMalformed, err)
	}
	return p, nil
}

// DecodeReader reads at most maxSize+1 bytes from r (zero or less means
// DefaultMaxSize) and decodes them like Decode. A read error is returned
// wrapped as it is, not as one of the package's sentinel errors.
func DecodeReader(r io.Reader, maxSize int) (*btcpsbt.Packet, error) {
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	limit := int64(maxSize)
	if limit < math.MaxInt64 {
		limit++ // one byte more tells "too large" from "exactly the limit"
	}
	data, err := io.ReadAll(io.LimitReader(r, limit))
	if err != nil {
		return nil, fmt.Errorf("reading PSBT: %w", err)
	}
	if len(data) > maxSize {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, maxSize)
	}
	return Decode(data, maxSize)
}

// toBinary recognises the input's form by how it starts. Binary is taken as
// it is (a trailing newline after binary is trailing data); text is trimmed.
func toBinary(data []byte) ([]byte, error) {
	if bytes.HasPrefix(data, magic) {
		return data, nil
	}
	text := bytes.TrimSpace(data)
	switch {
	case len(text) == 0:
		return nil, fmt.Errorf("%w: no data", ErrMalformed)
	case bytes.HasPrefix(text, []byte(base64Magic)):
		// Strict refuses non-zero padding bits, so one PSBT has one
		// base64 form; line breaks inside are still skipped.
		enc := base64.StdEncoding.Strict()
		raw := make([]byte, enc.DecodedLen(len(text)))
		n, err := enc.Decode(raw, text)
		if err != nil {
			return nil, fmt.Errorf("%w: invalid base64: %v", ErrMalformed, err)
		}
		return raw[:n], nil
	case len(text) >= len(hexMagic) && bytes.EqualFold(text[:len(hexMagic)], []byte(hexMagic)):
		raw := make([]byte, hex.DecodedLen(len(text)))
		if _, err := hex.Decode(raw, text); err != nil {
			return nil, fmt.Errorf("%w: invalid hex: %v", ErrMalformed, err)
		}
		return raw, nil
	}
	return nil, fmt.Errorf("%w: not a PSBT: expected binary starting with \"psbt\\xff\", base64 starting with %q or hex starting with %q",
		ErrMalformed, base64Magic, hexMagic)
}

// EncodeBinary serializes p. It refuses a packet whose maps do not match its
// transaction, and checks its own output with the same structural scan as
// Decode, so it never writes bytes that Decode would refuse.
func EncodeBinary(p *btcpsbt.Packet) ([]byte, error) {
	if p == nil || p.UnsignedTx == nil {
		return nil, fmt.Errorf("encoding PSBT: %w: no unsigned transaction", ErrMalformed)
	}
	if len(p.Inputs) != len(p.UnsignedTx.TxIn) || len(p.Outputs) != len(p.UnsignedTx.TxOut) {
		return nil, fmt.Errorf("encoding PSBT: %w: %d input and %d output maps for a transaction with %d inputs and %d outputs",
			ErrMalformed, len(p.Inputs), len(p.Outputs), len(p.UnsignedTx.TxIn), len(p.UnsignedTx.TxOut))
	}
	var b bytes.Buffer
	if err := p.Serialize(&b); err != nil {
		return nil, fmt.Errorf("encoding PSBT: %w", err)
	}
	if err := checkStructure(b.Bytes()); err != nil {
		return nil, fmt.Errorf("encoding PSBT: %w", err)
	}
	return b.Bytes(), nil
}

// EncodeBase64 serializes p as base64, the usual text form of a PSBT.
func EncodeBase64(p *btcpsbt.Packet) (string, error) {
	b, err := EncodeBinary(p)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}
