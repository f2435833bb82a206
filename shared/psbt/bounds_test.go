package psbt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg"
)

// unknownFields returns n distinct unknown-type fields with empty values,
// numbered from start: the shape of the parser blow-up (btcutil/psbt
// compares each new field with every earlier one of its map).
func unknownFields(start, n int) []kvp {
	fields := make([]kvp, n)
	for i := range fields {
		k := binary.BigEndian.AppendUint32(nil, uint32(start+i))
		k[0] = 0xf0
		fields[i] = kvp{key: k}
	}
	return fields
}

// manyKeysPSBT is a valid PSBT whose input maps hold total unknown fields,
// perMap in each (the last map takes the rest). With the unsigned
// transaction, the PSBT has total+1 fields.
func manyKeysPSBT(t testing.TB, total, perMap int) []byte {
	nIn := (total + perMap - 1) / perMap
	tx := kvp{[]byte{0x00}, legacyTx(t, simpleTx(nIn, 1))}
	inputs := make([][]kvp, nIn)
	for i := range inputs {
		inputs[i] = unknownFields(i*perMap, min(perMap, total-i*perMap))
	}
	return rawPSBT([]kvp{tx}, inputs, [][]kvp{{}})
}

// Fields are bounded per map and per PSBT before btcutil/psbt parses
// anything; right at the bounds a PSBT still decodes.
func TestDecodeBoundsFieldCounts(t *testing.T) {
	tests := []struct {
		name          string
		total, perMap int
		want          error
		message       string
	}{
		{"a map at the bound", MaxFieldsPerMap, MaxFieldsPerMap, nil, ""},
		{"a map one over the bound", MaxFieldsPerMap + 1, MaxFieldsPerMap + 1, ErrTooManyFields, fmt.Sprintf("input 0 has more than %d fields", MaxFieldsPerMap)},
		{"600,000 keys in one map", 600_000, 600_000, ErrTooManyFields, "input 0 has more than"},
		{"the PSBT at the bound", MaxFields - 1, MaxFieldsPerMap, nil, ""},
		{"the PSBT one field over the bound", MaxFields, MaxFieldsPerMap, ErrTooManyFields, fmt.Sprintf("more than %d fields", MaxFields)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := manyKeysPSBT(t, tc.total, tc.perMap)
			if len(raw) > DefaultMaxSize {
				t.Fatalf("the case is %d bytes, over the size limit: it tests the wrong bound", len(raw))
			}
			_, err := Decode(raw, DefaultMaxSize)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.message) {
				t.Fatalf("want %v mentioning %q, got %v", tc.want, tc.message, err)
			}
		})
	}
}

// A transaction spending one coin twice is refused by Decode, by
// EncodeBinary and by Summarize.
func TestDuplicateInputsRefused(t *testing.T) {
	tx := simpleTx(3, 1)
	tx.TxIn[2].PreviousOutPoint = tx.TxIn[0].PreviousOutPoint
	raw := rawPSBT([]kvp{{[]byte{0x00}, legacyTx(t, tx)}}, [][]kvp{{}, {}, {}}, [][]kvp{{}})
	_, err := Decode(raw, DefaultMaxSize)
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "spends the same coin twice: inputs 0 and 2") {
		t.Fatalf("Decode: %v", err)
	}
	// The same transaction built in memory.
	ok := simpleTx(2, 1)
	p, err := Decode(rawPSBT([]kvp{{[]byte{0x00}, legacyTx(t, ok)}}, [][]kvp{{}, {}}, [][]kvp{{}}), DefaultMaxSize)
	if err != nil {
		t.Fatal(err)
	}
	p.UnsignedTx.TxIn[1].PreviousOutPoint = p.UnsignedTx.TxIn[0].PreviousOutPoint
	if _, err := EncodeBinary(p); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("EncodeBinary: %v", err)
	}
	if _, err := Summarize(p, &chaincfg.MainNetParams); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("Summarize: %v", err)
	}
	// The same outpoint index on different transactions is no duplicate.
	two := simpleTx(2, 1)
	two.TxIn[1].PreviousOutPoint.Index = 0
	if _, err := Decode(rawPSBT([]kvp{{[]byte{0x00}, legacyTx(t, two)}}, [][]kvp{{}, {}}, [][]kvp{{}}), DefaultMaxSize); err != nil {
		t.Fatal(err)
	}
}

// An unsigned transaction over the relay weight limit is refused: it could
// never be broadcast, and it bounds the inputs a PSBT can carry.
func TestDecodeRefusesTransactionOverRelayWeight(t *testing.T) {
	for _, tc := range []struct {
		inputs int
		ok     bool
	}{{2_000, true}, {2_500, false}, {90_000, false}} {
		raw := rawPSBT([]kvp{{[]byte{0x00}, legacyTx(t, simpleTx(tc.inputs, 1))}}, make([][]kvp, tc.inputs), [][]kvp{{}})
		_, err := Decode(raw, DefaultMaxSize)
		if tc.ok != (err == nil) || !tc.ok && (!errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "400000 WU")) {
			t.Fatalf("%d inputs: %v", tc.inputs, err)
		}
	}
}

// The corpus keeps a small representative of the blow-up (one map one field
// over the bound); the test regenerates it when asked, so it stays true.
//
//	CRYPTOASSETS_WRITE_CORPUS=1 go test ./shared/psbt -run TestFuzzCorpusHasTheManyKeysCase
func TestFuzzCorpusHasTheManyKeysCase(t *testing.T) {
	raw := manyKeysPSBT(t, MaxFieldsPerMap+1, MaxFieldsPerMap+1)
	path := filepath.Join("testdata", "fuzz", "FuzzDecode", "many-unknown-keys-in-one-map")
	entry := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", raw)
	if os.Getenv("CRYPTOASSETS_WRITE_CORPUS") != "" {
		if err := os.WriteFile(path, []byte(entry), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != entry {
		t.Fatalf("%s is missing or stale (%v): regenerate it with CRYPTOASSETS_WRITE_CORPUS=1", path, err)
	}
	if _, err := Decode(raw, DefaultMaxSize); !errors.Is(err, ErrTooManyFields) {
		t.Fatalf("the corpus case must be refused for its field count: %v", err)
	}
}

// BenchmarkParseWorstCaseFieldsWithinBounds decodes the costliest PSBT the
// bounds let through to btcutil/psbt: every map full (MaxFieldsPerMap
// distinct unknown keys, each compared with every earlier one) and the
// PSBT full (MaxFields).
//
//	go test ./shared/psbt -run '^$' -bench ParseWorstCase
func BenchmarkParseWorstCaseFieldsWithinBounds(b *testing.B) {
	raw := manyKeysPSBT(b, MaxFields-1, MaxFieldsPerMap)
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := Decode(raw, DefaultMaxSize); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseWorstCase600000KeysRefused is the PSBT that hung inspect
// and sign for minutes: 600,000 distinct unknown keys in one map, 3.6 MB.
func BenchmarkParseWorstCase600000KeysRefused(b *testing.B) {
	raw := manyKeysPSBT(b, 600_000, 600_000)
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := Decode(raw, DefaultMaxSize); !errors.Is(err, ErrTooManyFields) {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseWorstCaseKeyOriginsWithinBounds is the other costly shape:
// every field a BIP32 derivation, whose compressed public key the library
// parses (a square root on the curve) and compares with every earlier one
// of its map. 40 bytes a field: MaxFields of them fit in DefaultMaxSize.
func BenchmarkParseWorstCaseKeyOriginsWithinBounds(b *testing.B) {
	keys := make([][]byte, MaxFieldsPerMap)
	for i := range keys {
		var scalar [32]byte
		binary.BigEndian.PutUint32(scalar[28:], uint32(i+1))
		priv, _ := btcec.PrivKeyFromBytes(scalar[:])
		keys[i] = priv.PubKey().SerializeCompressed()
	}
	total := MaxFields - 1
	nIn := (total + MaxFieldsPerMap - 1) / MaxFieldsPerMap
	inputs := make([][]kvp, nIn)
	for i := range inputs {
		for k := 0; k < min(MaxFieldsPerMap, total-i*MaxFieldsPerMap); k++ {
			inputs[i] = append(inputs[i], kvp{key: append([]byte{0x06}, keys[k]...), value: le32(0x01020304)})
		}
	}
	raw := rawPSBT([]kvp{{[]byte{0x00}, legacyTx(b, simpleTx(nIn, 1))}}, inputs, [][]kvp{{}})
	if len(raw) > DefaultMaxSize {
		b.Fatalf("%d bytes: over the size limit", len(raw))
	}
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := Decode(raw, DefaultMaxSize); err != nil {
			b.Fatal(err)
		}
	}
}
