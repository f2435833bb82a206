package psbt

import (
	"encoding/binary"
	"fmt"

	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
)

// Key types the structural scan looks at (BIP174, BIP370, BIP371).
const (
	globalUnsignedTx = 0x00
	globalVersion    = 0xfb

	inputNonWitnessUTXO   = 0x00
	inputWitnessUTXO      = 0x01
	inputBIP32Derivation  = 0x06
	inputTapBIP32         = 0x16
	outputBIP32Derivation = 0x02
	outputTapBIP32        = 0x07
)

// Fields BIP370 defines for PSBT version 2 only; a version 0 PSBT carrying
// one is invalid. (Input 0x13 is PSBT_IN_TAP_KEY_SIG from BIP371, a
// version 0 field, and is not in this list.)
var (
	v2GlobalFields = map[uint64]string{
		0x02: "PSBT_GLOBAL_TX_VERSION",
		0x03: "PSBT_GLOBAL_FALLBACK_LOCKTIME",
		0x04: "PSBT_GLOBAL_INPUT_COUNT",
		0x05: "PSBT_GLOBAL_OUTPUT_COUNT",
		0x06: "PSBT_GLOBAL_TX_MODIFIABLE",
	}
	v2InputFields = map[uint64]string{
		0x0e: "PSBT_IN_PREVIOUS_TXID",
		0x0f: "PSBT_IN_OUTPUT_INDEX",
		0x10: "PSBT_IN_SEQUENCE",
		0x11: "PSBT_IN_REQUIRED_TIME_LOCKTIME",
		0x12: "PSBT_IN_REQUIRED_HEIGHT_LOCKTIME",
	}
	v2OutputFields = map[uint64]string{
		0x03: "PSBT_OUT_AMOUNT",
		0x04: "PSBT_OUT_SCRIPT",
	}
)

// maxBIP32Depth is the deepest path a BIP32 key can have (depth is a byte).
const maxBIP32Depth = 255

// Bounds on the number of key-value fields, checked before btcutil/psbt
// parses anything. The library compares each new field of a map with every
// earlier one, so a map costs the square of its field count (600,000 keys in
// one map took minutes); and it parses the public key of every key-origin
// and signature field, about 17 µs each, so the whole PSBT costs in
// proportion to its fields (see BenchmarkParseWorstCase…). A PSBT our wallets
// write has fewer than ten fields per map; a 15-of-15 multisig input about
// forty.
const (
	// MaxFieldsPerMap bounds the fields of one global, input or output map.
	MaxFieldsPerMap = 500
	// MaxFields bounds the fields of the whole PSBT: 2,000 inputs of ten
	// fields each.
	MaxFields = 20_000
)

// cursor reads a byte slice front to back; every read is bounds-checked.
type cursor struct {
	data   []byte
	off    int
	fields int // key-value fields read so far, by readMap
}

func (c *cursor) remaining() int { return len(c.data) - c.off }

// compactSize reads Bitcoin's variable-length integer and, like Bitcoin Core
// and btcd's wire package, refuses one not written in its shortest form.
func (c *cursor) compactSize() (uint64, error) {
	if c.remaining() < 1 {
		return 0, fmt.Errorf("length expected, found the end of the data")
	}
	first := c.data[c.off]
	var size int
	var shortest uint64 // the least value that needs this prefix
	switch first {
	case 0xfd:
		size, shortest = 2, 0xfd
	case 0xfe:
		size, shortest = 4, 0x10000
	case 0xff:
		size, shortest = 8, 0x100000000
	default:
		c.off++
		return uint64(first), nil
	}
	if c.remaining() < 1+size {
		return 0, fmt.Errorf("length prefix %#x needs %d more bytes, only %d left", first, size, c.remaining()-1)
	}
	b := c.data[c.off+1 : c.off+1+size]
	var v uint64
	switch size {
	case 2:
		v = uint64(binary.LittleEndian.Uint16(b))
	case 4:
		v = uint64(binary.LittleEndian.Uint32(b))
	default:
		v = binary.LittleEndian.Uint64(b)
	}
	if v < shortest {
		return 0, fmt.Errorf("length %d is not written in its shortest form", v)
	}
	c.off += 1 + size
	return v, nil
}

// take returns the next n bytes.
func (c *cursor) take(n uint64, what string) ([]byte, error) {
	if n > uint64(c.remaining()) {
		return nil, fmt.Errorf("%s of %d bytes runs past the end (%d bytes left)", what, n, c.remaining())
	}
	b := c.data[c.off : c.off+int(n)]
	c.off += int(n)
	return b, nil
}

// field is one key-value pair of a map. keyType is the key's leading
// compact-size integer; key is the whole key, type included.
type field struct {
	keyType uint64
	key     []byte
	value   []byte
}

// readMap reads one key-value map through its 0x00 separator, refusing a
// key that appears twice.
func (c *cursor) readMap(where string) ([]field, error) {
	var fields []field
	seen := make(map[string]struct{})
	for {
		keyLen, err := c.compactSize()
		if err != nil {
			return nil, fmt.Errorf("%w: %s: the map is cut short: %v", ErrMalformed, where, err)
		}
		if keyLen == 0 {
			return fields, nil
		}
		if keyLen > btcpsbt.MaxPsbtKeyLength {
			return nil, fmt.Errorf("%w: %s: a key of %d bytes (the most allowed is %d)", ErrMalformed, where, keyLen, btcpsbt.MaxPsbtKeyLength)
		}
		key, err := c.take(keyLen, "key")
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, where, err)
		}
		kc := cursor{data: key}
		keyType, err := kc.compactSize()
		if err != nil {
			return nil, fmt.Errorf("%w: %s: key type of key %s: %v", ErrMalformed, where, shortHex(key), err)
		}
		valueLen, err := c.compactSize()
		if err != nil {
			return nil, fmt.Errorf("%w: %s: value of key %s: %v", ErrMalformed, where, shortHex(key), err)
		}
		if valueLen > btcpsbt.MaxPsbtValueLength {
			return nil, fmt.Errorf("%w: %s: key %s has a value of %d bytes (the most allowed is %d)",
				ErrMalformed, where, shortHex(key), valueLen, btcpsbt.MaxPsbtValueLength)
		}
		value, err := c.take(valueLen, "value")
		if err != nil {
			return nil, fmt.Errorf("%w: %s: key %s: %v", ErrMalformed, where, shortHex(key), err)
		}
		if _, dup := seen[string(key)]; dup {
			return nil, fmt.Errorf("%w: %s: key %s appears twice", ErrDuplicateKey, where, shortHex(key))
		}
		seen[string(key)] = struct{}{}
		fields = append(fields, field{keyType: keyType, key: key, value: value})
		c.fields++
		if len(fields) > MaxFieldsPerMap {
			return nil, fmt.Errorf("%w: %s has more than %d fields", ErrTooManyFields, where, MaxFieldsPerMap)
		}
		if c.fields > MaxFields {
			return nil, fmt.Errorf("%w: the PSBT has more than %d fields (at %s)", ErrTooManyFields, MaxFields, where)
		}
	}
}

// checkStructure walks a binary PSBT's maps before btcutil/psbt parses it.
// It enforces what that library does not (version, v2 fields, duplicate
// unknown keys, trailing bytes) and the value formats it would misread or
// panic on, and it bounds every count by the bytes present, so a small
// hostile input cannot make the library allocate much.
func checkStructure(raw []byte) error {
	if len(raw) < len(magic) || string(raw[:len(magic)]) != string(magic) {
		return fmt.Errorf("%w: missing the \"psbt\\xff\" magic bytes", ErrMalformed)
	}
	c := &cursor{data: raw, off: len(magic)}
	global, err := c.readMap("global map")
	if err != nil {
		return err
	}
	tx, err := checkGlobal(global)
	if err != nil {
		return err
	}
	for i := range tx.inputs {
		fields, err := c.readNextMap("input", i, tx)
		if err != nil {
			return err
		}
		if err := checkInput(i, fields); err != nil {
			return err
		}
	}
	for i := range tx.outputs {
		fields, err := c.readNextMap("output", i, tx)
		if err != nil {
			return err
		}
		if err := checkOutput(i, fields); err != nil {
			return err
		}
	}
	if n := c.remaining(); n > 0 {
		return fmt.Errorf("%w: %d bytes after the last output map", ErrTrailingData, n)
	}
	return nil
}

// readNextMap reads the map of input or output i, saying plainly when the
// PSBT has fewer maps than its transaction needs.
func (c *cursor) readNextMap(kind string, i int, tx txShape) ([]field, error) {
	if c.remaining() == 0 {
		return nil, fmt.Errorf("%w: the PSBT ends before the map of %s %d: its transaction has %d inputs and %d outputs, each needing a map",
			ErrMalformed, kind, i, tx.inputs, tx.outputs)
	}
	return c.readMap(fmt.Sprintf("%s %d", kind, i))
}

// checkGlobal checks the global map and returns the unsigned transaction's
// shape. The version is judged first, so a version 2 PSBT is named as such
// rather than as one missing its unsigned transaction.
func checkGlobal(fields []field) (txShape, error) {
	for _, f := range fields {
		if f.keyType != globalVersion {
			continue
		}
		if len(f.key) != 1 || len(f.value) != 4 {
			return txShape{}, fmt.Errorf("%w: global version field: want a 1-byte key and a 4-byte value, got %d and %d bytes",
				ErrMalformed, len(f.key), len(f.value))
		}
		switch v := binary.LittleEndian.Uint32(f.value); v {
		case 0:
		case 2:
			return txShape{}, fmt.Errorf("%w (this PSBT says version 2)", ErrVersion2)
		default:
			return txShape{}, fmt.Errorf("%w: PSBT version %d is unknown; only version 0 is supported", ErrMalformed, v)
		}
	}
	for _, f := range fields {
		if name := v2GlobalFields[f.keyType]; name != "" {
			return txShape{}, fmt.Errorf("%w: the global map carries %s, a PSBT version 2 field, in a version 0 PSBT", ErrMalformed, name)
		}
	}
	for i, f := range fields {
		if f.keyType != globalUnsignedTx {
			continue
		}
		if len(f.key) != 1 {
			return txShape{}, fmt.Errorf("%w: the unsigned transaction's key carries %d extra bytes", ErrMalformed, len(f.key)-1)
		}
		// btcutil/psbt reads the transaction only as the first field,
		// where every creator we know writes it.
		if i != 0 {
			return txShape{}, fmt.Errorf("%w: the unsigned transaction must be the first global field, it is field %d", ErrMalformed, i)
		}
		return checkUnsignedTx(f.value)
	}
	return txShape{}, fmt.Errorf("%w: no unsigned transaction (global key 0x00), which a version 0 PSBT must have", ErrMalformed)
}

// checkUnsignedTx checks BIP174's rules for the unsigned transaction: legacy
// serialization, empty scriptSigs, and (our rule) at least one input and one
// output.
func checkUnsignedTx(b []byte) (txShape, error) {
	// After the 4-byte version, 0x00 0x01 is the segwit marker and flag.
	if len(b) > 6 && b[4] == 0x00 && b[5] == 0x01 {
		if s, err := walkTx(b, true); err == nil && s.witness {
			return txShape{}, fmt.Errorf("%w: the unsigned transaction is serialized with witness data; BIP174 requires it without", ErrMalformed)
		}
	}
	s, err := walkTx(b, false)
	if err != nil {
		return txShape{}, fmt.Errorf("%w: unsigned transaction: %v", ErrMalformed, err)
	}
	// Signatures only add weight, so an unsigned transaction already over
	// the relay limit can never be broadcast; refusing it also bounds the
	// inputs a PSBT can make the signer walk (about 2,400).
	if w := 4 * len(b); w > maxStandardTxWeight {
		return txShape{}, fmt.Errorf("%w: the unsigned transaction weighs %d WU before any signature, over the %d WU nodes relay",
			ErrMalformed, w, maxStandardTxWeight)
	}
	if s.outputs == 0 {
		return txShape{}, fmt.Errorf("%w: the unsigned transaction has no outputs", ErrMalformed)
	}
	if s.scriptSigs {
		return txShape{}, fmt.Errorf("%w: the unsigned transaction has a scriptSig; its inputs must carry no signatures", ErrMalformed)
	}
	if s.duplicate != "" {
		return txShape{}, fmt.Errorf("%w: the unsigned transaction %s", ErrMalformed, s.duplicate)
	}
	return s, nil
}

func checkInput(i int, fields []field) error {
	for _, f := range fields {
		if name := v2InputFields[f.keyType]; name != "" {
			return fmt.Errorf("%w: input %d carries %s, a PSBT version 2 field, in a version 0 PSBT", ErrMalformed, i, name)
		}
		var err error
		switch f.keyType {
		case inputNonWitnessUTXO:
			if _, werr := walkTx(f.value, true); werr != nil {
				err = fmt.Errorf("non_witness_utxo: %v", werr)
			}
		case inputWitnessUTXO:
			err = checkTxOut(f.value)
		case inputBIP32Derivation:
			err = checkBIP32Origin(f.value)
		case inputTapBIP32:
			err = checkTapBIP32Origin(f.value)
		}
		if err != nil {
			return fmt.Errorf("%w: input %d: %v", ErrMalformed, i, err)
		}
	}
	return nil
}

func checkOutput(i int, fields []field) error {
	for _, f := range fields {
		if name := v2OutputFields[f.keyType]; name != "" {
			return fmt.Errorf("%w: output %d carries %s, a PSBT version 2 field, in a version 0 PSBT", ErrMalformed, i, name)
		}
		var err error
		switch f.keyType {
		case outputBIP32Derivation:
			err = checkBIP32Origin(f.value)
		case outputTapBIP32:
			err = checkTapBIP32Origin(f.value)
		}
		if err != nil {
			return fmt.Errorf("%w: output %d: %v", ErrMalformed, i, err)
		}
	}
	return nil
}

// checkTxOut checks a witness_utxo value: an 8-byte amount and a
// length-prefixed script filling the rest exactly. (btcutil/psbt skips the
// length byte without reading it, so a wrong length would go unnoticed.)
func checkTxOut(v []byte) error {
	c := cursor{data: v}
	if _, err := c.take(8, "witness_utxo amount"); err != nil {
		return err
	}
	n, err := c.compactSize()
	if err != nil {
		return fmt.Errorf("witness_utxo script: %v", err)
	}
	if _, err := c.take(n, "witness_utxo script"); err != nil {
		return err
	}
	if c.remaining() != 0 {
		return fmt.Errorf("witness_utxo has %d bytes after its script", c.remaining())
	}
	return nil
}

// checkBIP32Origin checks a key origin: a 4-byte fingerprint and whole 4-byte
// path steps. (btcutil/psbt panics on an empty value.)
func checkBIP32Origin(v []byte) error {
	if len(v) < 4 || len(v)%4 != 0 || len(v) > 4+4*maxBIP32Depth {
		return fmt.Errorf("BIP32 derivation of %d bytes: want a 4-byte fingerprint and up to %d 4-byte path steps", len(v), maxBIP32Depth)
	}
	return nil
}

// checkTapBIP32Origin checks a taproot key origin: a count of 32-byte leaf
// hashes, the hashes, then a BIP32 origin. The count is bounded by the bytes
// present before btcutil/psbt allocates for it.
func checkTapBIP32Origin(v []byte) error {
	c := cursor{data: v}
	n, err := c.compactSize()
	if err != nil {
		return fmt.Errorf("taproot BIP32 derivation: %v", err)
	}
	if n > uint64(c.remaining()/32) {
		return fmt.Errorf("taproot BIP32 derivation claims %d leaf hashes in %d bytes", n, c.remaining())
	}
	c.off += int(n) * 32
	return checkBIP32Origin(v[c.off:])
}

// txShape is what the scan learns about a serialized transaction.
type txShape struct {
	inputs, outputs int
	scriptSigs      bool   // some input has a non-empty scriptSig
	witness         bool   // written with the segwit marker and flag
	duplicate       string // names an outpoint spent by two inputs
}

// maxStandardTxWeight is Bitcoin Core's MAX_STANDARD_TX_WEIGHT: heavier
// transactions are not relayed.
const maxStandardTxWeight = 400_000

// Smallest serialized input (outpoint, empty script, sequence) and output
// (amount, empty script): counts are bounded by the bytes left.
const (
	minTxInSize  = 36 + 1 + 4
	minTxOutSize = 8 + 1
)

// walkTx checks that b is exactly one transaction without building it:
// counts are checked against the bytes left before anything trusts them.
// With allowWitness, the segwit serialization (BIP144) is accepted too.
func walkTx(b []byte, allowWitness bool) (txShape, error) {
	c := cursor{data: b}
	var s txShape
	if _, err := c.take(4, "transaction version"); err != nil {
		return s, err
	}
	if allowWitness && c.remaining() >= 2 && c.data[c.off] == 0x00 {
		if flag := c.data[c.off+1]; flag != 0x01 {
			return s, fmt.Errorf("transaction has segwit flag %#x, want 0x01", flag)
		}
		c.off += 2
		s.witness = true
	}
	nIn, err := c.compactSize()
	if err != nil {
		return s, fmt.Errorf("transaction input count: %v", err)
	}
	if nIn == 0 {
		return s, fmt.Errorf("transaction has no inputs")
	}
	if nIn > uint64(c.remaining()/minTxInSize) {
		return s, fmt.Errorf("transaction claims %d inputs in %d bytes", nIn, c.remaining())
	}
	s.inputs = int(nIn)
	spent := make(map[string]int, s.inputs)
	for i := range s.inputs {
		op, err := c.take(36, "input outpoint")
		if err != nil {
			return s, err
		}
		if j, dup := spent[string(op)]; dup && s.duplicate == "" {
			s.duplicate = fmt.Sprintf("spends the same coin twice: inputs %d and %d both spend %s", j, i, outPointString(op))
		}
		spent[string(op)] = i
		n, err := c.compactSize()
		if err != nil {
			return s, fmt.Errorf("scriptSig: %v", err)
		}
		if _, err := c.take(n, "scriptSig"); err != nil {
			return s, err
		}
		s.scriptSigs = s.scriptSigs || n > 0
		if _, err := c.take(4, "input sequence"); err != nil {
			return s, err
		}
	}
	nOut, err := c.compactSize()
	if err != nil {
		return s, fmt.Errorf("transaction output count: %v", err)
	}
	if nOut > uint64(c.remaining()/minTxOutSize) {
		return s, fmt.Errorf("transaction claims %d outputs in %d bytes", nOut, c.remaining())
	}
	s.outputs = int(nOut)
	for range s.outputs {
		if _, err := c.take(8, "output amount"); err != nil {
			return s, err
		}
		n, err := c.compactSize()
		if err != nil {
			return s, fmt.Errorf("output script: %v", err)
		}
		if _, err := c.take(n, "output script"); err != nil {
			return s, err
		}
	}
	if s.witness {
		for range s.inputs {
			items, err := c.compactSize()
			if err != nil {
				return s, fmt.Errorf("witness item count: %v", err)
			}
			if items > uint64(c.remaining()) {
				return s, fmt.Errorf("witness claims %d items in %d bytes", items, c.remaining())
			}
			for range items {
				n, err := c.compactSize()
				if err != nil {
					return s, fmt.Errorf("witness item: %v", err)
				}
				if _, err := c.take(n, "witness item"); err != nil {
					return s, err
				}
			}
		}
	}
	if _, err := c.take(4, "transaction locktime"); err != nil {
		return s, err
	}
	if c.remaining() != 0 {
		return s, fmt.Errorf("%d bytes after the end of the transaction", c.remaining())
	}
	return s, nil
}

// outPointString shows a serialized outpoint as txid:vout.
func outPointString(op []byte) string {
	var h chainhash.Hash
	copy(h[:], op[:32])
	return fmt.Sprintf("%s:%d", h, binary.LittleEndian.Uint32(op[32:]))
}

// shortHex shows a key in an error message, shortened if long.
func shortHex(b []byte) string {
	const shown = 20
	if len(b) > shown {
		return fmt.Sprintf("0x%x… (%d bytes)", b[:shown], len(b))
	}
	return fmt.Sprintf("0x%x", b)
}
