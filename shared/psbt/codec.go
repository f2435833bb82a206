package psbt

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"unicode"

	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/wire"
)

// DefaultMaxSize bounds a PSBT read from outside: 4 MiB holds hundreds of
// inputs with their full previous transactions.
const DefaultMaxSize = 4 << 20

// Errors callers can branch on; each is wrapped with the detail.
var (
	ErrTooLarge     = errors.New("PSBT too large")
	ErrMalformed    = errors.New("malformed PSBT")
	ErrVersion2     = errors.New("PSBT version 2 is not supported: export the PSBT as version 0 (BIP174)")
	ErrDuplicateKey = errors.New("duplicate key in PSBT")
	ErrTrailingData = errors.New("trailing data after the PSBT")
)

var magic = []byte{'p', 's', 'b', 't', 0xff}

// Decode reads a PSBT given as binary, base64 or hex (surrounding white
// space ignored), refusing anything over maxSize bytes.
func Decode(data []byte, maxSize int) (*btcpsbt.Packet, error) {
	raw, err := Raw(data, maxSize)
	if err != nil {
		return nil, err
	}
	if err := scan(raw); err != nil {
		return nil, err
	}
	return parse(raw)
}

// parse hands checked bytes to btcutil/psbt. That library can panic on
// hostile field values (an empty BIP32 derivation, found by fuzzing), so a
// panic is turned into a refusal: a PSBT from outside must never crash the
// signer.
func parse(raw []byte) (p *btcpsbt.Packet, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("%w: a field's value is malformed (%v)", ErrMalformed, r)
		}
	}()
	p, err = btcpsbt.NewFromRawBytes(bytes.NewReader(raw), false)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return p, nil
}

// DecodeReader reads at most maxSize+1 bytes from r and decodes them.
func DecodeReader(r io.Reader, maxSize int) (*btcpsbt.Packet, error) {
	data, err := io.ReadAll(io.LimitReader(r, int64(maxSize)+1))
	if err != nil {
		return nil, err
	}
	return Decode(data, maxSize)
}

// Raw turns binary, base64 or hex text into the PSBT's bytes, without
// checking the PSBT itself.
func Raw(data []byte, maxSize int) ([]byte, error) {
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	if len(data) > 2*maxSize+64 {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrTooLarge, len(data), maxSize)
	}
	var raw []byte
	switch {
	case bytes.HasPrefix(data, magic):
		raw = data
	default:
		text := bytes.TrimFunc(data, unicode.IsSpace)
		switch {
		case bytes.HasPrefix(text, []byte("cHNidP")):
			raw = make([]byte, base64.StdEncoding.DecodedLen(len(text)))
			n, err := base64.StdEncoding.Decode(raw, text)
			if err != nil {
				return nil, fmt.Errorf("%w: base64: %v", ErrMalformed, err)
			}
			raw = raw[:n]
		case bytes.HasPrefix(bytes.ToLower(text), []byte("70736274ff")):
			raw = make([]byte, hex.DecodedLen(len(text)))
			if _, err := hex.Decode(raw, text); err != nil {
				return nil, fmt.Errorf("%w: hex: %v", ErrMalformed, err)
			}
		default:
			return nil, fmt.Errorf("%w: not a PSBT (want binary starting psbt\\xff, base64 starting cHNidP, or hex starting 70736274ff)", ErrMalformed)
		}
	}
	if len(raw) > maxSize {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrTooLarge, len(raw), maxSize)
	}
	return raw, nil
}

// EncodeBinary serializes a PSBT.
func EncodeBinary(p *btcpsbt.Packet) ([]byte, error) {
	var b bytes.Buffer
	if err := p.Serialize(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// EncodeBase64 serializes a PSBT as base64, the usual text form.
func EncodeBase64(p *btcpsbt.Packet) (string, error) {
	b, err := EncodeBinary(p)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// Key types this scan needs (BIP174, BIP370).
const (
	globalUnsignedTx      = 0x00
	globalVersion         = 0xfb
	inputBip32Derivation  = 0x06
	outputBip32Derivation = 0x02
)

// validBip32Value: a fingerprint and whole 4-byte path elements, at most 255.
func validBip32Value(v []byte) bool {
	return len(v) >= 4 && len(v)%4 == 0 && len(v) <= 4*256
}

// v2Only are the key types BIP370 defines for version 2; a version 0 PSBT
// must not carry them.
var (
	v2OnlyGlobal = map[byte]string{0x02: "TX_VERSION", 0x03: "FALLBACK_LOCKTIME", 0x04: "INPUT_COUNT", 0x05: "OUTPUT_COUNT", 0x06: "TX_MODIFIABLE"}
	v2OnlyInput  = map[byte]string{0x0e: "PREVIOUS_TXID", 0x0f: "OUTPUT_INDEX", 0x10: "SEQUENCE", 0x11: "REQUIRED_TIME_LOCKTIME", 0x12: "REQUIRED_HEIGHT_LOCKTIME"}
	v2OnlyOutput = map[byte]string{0x03: "AMOUNT", 0x04: "SCRIPT"}
)

type reader struct {
	b   []byte
	off int
}

func (r *reader) compactSize() (uint64, error) {
	if r.off >= len(r.b) {
		return 0, io.ErrUnexpectedEOF
	}
	first := r.b[r.off]
	r.off++
	var n int
	switch first {
	case 0xfd:
		n = 2
	case 0xfe:
		n = 4
	case 0xff:
		n = 8
	default:
		return uint64(first), nil
	}
	if r.off+n > len(r.b) {
		return 0, io.ErrUnexpectedEOF
	}
	var v uint64
	switch n {
	case 2:
		v = uint64(binary.LittleEndian.Uint16(r.b[r.off:]))
	case 4:
		v = uint64(binary.LittleEndian.Uint32(r.b[r.off:]))
	case 8:
		v = binary.LittleEndian.Uint64(r.b[r.off:])
	}
	r.off += n
	return v, nil
}

func (r *reader) bytes(n uint64) ([]byte, error) {
	if n > uint64(len(r.b)-r.off) {
		return nil, io.ErrUnexpectedEOF
	}
	out := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return out, nil
}

type kv struct{ key, value []byte }

// readMap reads one key-value map up to its 0x00 separator.
func (r *reader) readMap(where string) ([]kv, error) {
	var out []kv
	seen := map[string]bool{}
	for {
		klen, err := r.compactSize()
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, where, err)
		}
		if klen == 0 {
			return out, nil
		}
		if klen > btcpsbt.MaxPsbtKeyLength {
			return nil, fmt.Errorf("%w: %s: key of %d bytes", ErrMalformed, where, klen)
		}
		key, err := r.bytes(klen)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: key runs past the end", ErrMalformed, where)
		}
		vlen, err := r.compactSize()
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, where, err)
		}
		if vlen > btcpsbt.MaxPsbtValueLength {
			return nil, fmt.Errorf("%w: %s: value of %d bytes", ErrMalformed, where, vlen)
		}
		value, err := r.bytes(vlen)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: value runs past the end", ErrMalformed, where)
		}
		if seen[string(key)] {
			return nil, fmt.Errorf("%w: %s: key %x", ErrDuplicateKey, where, key)
		}
		seen[string(key)] = true
		out = append(out, kv{key, value})
	}
}

// scan checks the PSBT's structure before any library parses it.
func scan(raw []byte) error {
	if !bytes.HasPrefix(raw, magic) {
		return fmt.Errorf("%w: missing the psbt\\xff magic", ErrMalformed)
	}
	r := &reader{b: raw, off: len(magic)}
	global, err := r.readMap("global map")
	if err != nil {
		return err
	}
	var tx *wire.MsgTx
	for _, e := range global {
		switch t := e.key[0]; {
		case t == globalVersion && len(e.key) == 1:
			if len(e.value) != 4 {
				return fmt.Errorf("%w: version field of %d bytes", ErrMalformed, len(e.value))
			}
			if v := binary.LittleEndian.Uint32(e.value); v != 0 {
				return fmt.Errorf("%w (this one says version %d)", ErrVersion2, v)
			}
		case t == globalUnsignedTx:
			if len(e.key) != 1 {
				return fmt.Errorf("%w: unsigned transaction key with extra bytes", ErrMalformed)
			}
			tx = &wire.MsgTx{}
			if err := tx.DeserializeNoWitness(bytes.NewReader(e.value)); err != nil {
				return fmt.Errorf("%w: unsigned transaction: %v", ErrMalformed, err)
			}
			if got := tx.SerializeSizeStripped(); got != len(e.value) {
				return fmt.Errorf("%w: unsigned transaction has %d trailing bytes", ErrMalformed, len(e.value)-got)
			}
		default:
			if name, ok := v2OnlyGlobal[t]; ok && len(e.key) == 1 {
				return fmt.Errorf("%w (it carries the version 2 field %s)", ErrVersion2, name)
			}
		}
	}
	if tx == nil {
		return fmt.Errorf("%w: no unsigned transaction (a version 0 PSBT must have one)", ErrMalformed)
	}
	if len(tx.TxIn) == 0 || len(tx.TxOut) == 0 {
		return fmt.Errorf("%w: the unsigned transaction has %d inputs and %d outputs", ErrMalformed, len(tx.TxIn), len(tx.TxOut))
	}
	for i, in := range tx.TxIn {
		if len(in.SignatureScript) > 0 || len(in.Witness) > 0 {
			return fmt.Errorf("%w: input %d of the unsigned transaction carries a signature", ErrMalformed, i)
		}
	}
	for i := range tx.TxIn {
		m, err := r.readMap(fmt.Sprintf("input %d", i))
		if err != nil {
			return err
		}
		for _, e := range m {
			if name, ok := v2OnlyInput[e.key[0]]; ok {
				return fmt.Errorf("%w (input %d carries the version 2 field %s)", ErrVersion2, i, name)
			}
			if e.key[0] == inputBip32Derivation && !validBip32Value(e.value) {
				return fmt.Errorf("%w: input %d: BIP32 derivation of %d bytes", ErrMalformed, i, len(e.value))
			}
		}
	}
	for i := range tx.TxOut {
		m, err := r.readMap(fmt.Sprintf("output %d", i))
		if err != nil {
			return err
		}
		for _, e := range m {
			if name, ok := v2OnlyOutput[e.key[0]]; ok {
				return fmt.Errorf("%w (output %d carries the version 2 field %s)", ErrVersion2, i, name)
			}
			if e.key[0] == outputBip32Derivation && !validBip32Value(e.value) {
				return fmt.Errorf("%w: output %d: BIP32 derivation of %d bytes", ErrMalformed, i, len(e.value))
			}
		}
	}
	if r.off != len(raw) {
		return fmt.Errorf("%w: %d bytes after the last output map", ErrTrailingData, len(raw)-r.off)
	}
	return nil
}
