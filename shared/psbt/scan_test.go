package psbt

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/wire"
)

// TestDecodeStrictness crafts PSBTs byte by byte. The first case is valid, so
// each refusal below it is caused by the one thing that case changes.
func TestDecodeStrictness(t *testing.T) {
	tx := legacyTx(t, simpleTx(1, 1))
	unsignedTx := kvp{[]byte{0x00}, tx}
	version := func(v uint32) kvp { return kvp{[]byte{0xfb}, le32(v)} }
	empty := [][]kvp{{}}
	// A valid witness_utxo: 8-byte amount, script length, p2wpkh script.
	witnessUTXO := append(le32(5000), 0, 0, 0, 0, 22, 0x00, 0x14)
	witnessUTXO = append(witnessUTXO, bytes.Repeat([]byte{7}, 20)...)

	signedTx := simpleTx(1, 1)
	signedTx.TxIn[0].SignatureScript = []byte{0x51}
	withWitness := simpleTx(1, 1)
	withWitness.TxIn[0].Witness = wire.TxWitness{{0x01}}

	type tc struct {
		name    string
		raw     []byte
		want    error // nil: must decode
		message string
	}
	tests := []tc{
		{"valid minimal PSBT", rawPSBT([]kvp{unsignedTx}, empty, empty), nil, ""},
		{"explicit version 0", rawPSBT([]kvp{unsignedTx, version(0)}, empty, empty), nil, ""},
		{"unknown and proprietary keys are kept",
			rawPSBT([]kvp{unsignedTx, {[]byte{0xfc, 0x01, 'x', 0x00}, []byte("v")}},
				[][]kvp{{{[]byte{0x1f}, []byte{1}}, {[]byte{0x1f, 0x00}, []byte{2}}}},
				[][]kvp{{{[]byte{0x08}, nil}}}), nil, ""},
		{"a witness_utxo with a well-formed script", rawPSBT([]kvp{unsignedTx}, [][]kvp{{{[]byte{0x01}, witnessUTXO}}}, empty), nil, ""},

		{"version 2 (BIP370)", rawPSBT([]kvp{version(2), {[]byte{0x02}, le32(2)}, {[]byte{0x04}, []byte{1}}, {[]byte{0x05}, []byte{1}}}, empty, empty),
			ErrVersion2, "export the PSBT as version 0"},
		{"version 2 with an unsigned tx too", rawPSBT([]kvp{unsignedTx, version(2)}, empty, empty), ErrVersion2, "version 2"},
		{"version 1", rawPSBT([]kvp{unsignedTx, version(1)}, empty, empty), ErrMalformed, "version 1 is unknown"},
		{"version field of 3 bytes", rawPSBT([]kvp{unsignedTx, {[]byte{0xfb}, []byte{0, 0, 0}}}, empty, empty), ErrMalformed, "4-byte value"},

		{"duplicate global key", rawPSBT([]kvp{unsignedTx, {[]byte{0xfc, 0x00}, []byte{1}}, {[]byte{0xfc, 0x00}, []byte{2}}}, empty, empty),
			ErrDuplicateKey, "global map: key 0xfc00 appears twice"},
		{"duplicate unsigned tx", rawPSBT([]kvp{unsignedTx, unsignedTx}, empty, empty), ErrDuplicateKey, "global map"},
		{"duplicate input key", rawPSBT([]kvp{unsignedTx}, [][]kvp{{{[]byte{0x03}, le32(1)}, {[]byte{0x03}, le32(1)}}}, empty),
			ErrDuplicateKey, "input 0"},
		{"duplicate unknown output key with different values", rawPSBT([]kvp{unsignedTx}, empty, [][]kvp{{{[]byte{0x20, 0x01}, []byte{1}}, {[]byte{0x20, 0x01}, []byte{2}}}}),
			ErrDuplicateKey, "output 0"},

		{"a byte after the last output map", append(rawPSBT([]kvp{unsignedTx}, empty, empty), 0x00), ErrTrailingData, "1 bytes after"},
		{"an extra map after the last output", rawPSBT([]kvp{unsignedTx}, empty, [][]kvp{{}, {{[]byte{0x1f}, nil}}}), ErrTrailingData, ""},
		{"one map short", rawPSBT([]kvp{unsignedTx}, empty, nil), ErrMalformed, "ends before the map of output 0"},
		{"last map without its separator", bytes.TrimSuffix(rawPSBT([]kvp{unsignedTx}, empty, [][]kvp{{{[]byte{0x1f}, []byte{1}}}}), []byte{0}),
			ErrMalformed, "output 0: the map is cut short"},
		{"unsigned tx for two inputs, one input map", rawPSBT([]kvp{{[]byte{0x00}, legacyTx(t, simpleTx(2, 1))}}, empty, empty),
			ErrMalformed, "ends before the map of output 0"},

		{"no unsigned tx", rawPSBT([]kvp{{[]byte{0xfc, 0x00}, nil}}, nil, nil), ErrMalformed, "no unsigned transaction"},
		{"unsigned tx not the first field", rawPSBT([]kvp{{[]byte{0xfc, 0x00}, nil}, unsignedTx}, empty, empty), ErrMalformed, "first global field"},
		{"unsigned tx key with key data", rawPSBT([]kvp{{[]byte{0x00, 0x01}, tx}}, empty, empty), ErrMalformed, "extra bytes"},
		{"unsigned tx with a scriptSig", rawPSBT([]kvp{{[]byte{0x00}, legacyTx(t, signedTx)}}, empty, empty), ErrMalformed, "scriptSig"},
		{"unsigned tx with a witness", rawPSBT([]kvp{{[]byte{0x00}, witnessTx(t, withWitness)}}, empty, empty), ErrMalformed, "witness data"},
		{"unsigned tx without inputs", rawPSBT([]kvp{{[]byte{0x00}, legacyTx(t, simpleTx(0, 1))}}, nil, empty), ErrMalformed, "no inputs"},
		{"unsigned tx without outputs", rawPSBT([]kvp{{[]byte{0x00}, legacyTx(t, simpleTx(1, 0))}}, empty, nil), ErrMalformed, "no outputs"},
		{"unsigned tx with bytes after it", rawPSBT([]kvp{{[]byte{0x00}, append(append([]byte{}, tx...), 0)}}, empty, empty), ErrMalformed, "after the end of the transaction"},
		{"unsigned tx claiming a million inputs", rawPSBT([]kvp{{[]byte{0x00}, append(le32(2), 0xfe, 0x40, 0x42, 0x0f, 0x00)}}, empty, empty),
			ErrMalformed, "claims 1000000 inputs"},

		{"key length past the end", append(rawPSBT([]kvp{unsignedTx}, empty, nil), 0x20, 0x01), ErrMalformed, "runs past the end"},
		{"value length past the end", append(rawPSBT([]kvp{unsignedTx}, empty, nil), 0x01, 0x1f, 0xfd, 0xff, 0xff), ErrMalformed, "runs past the end"},
		{"length prefix cut short", append(rawPSBT([]kvp{unsignedTx}, empty, nil), 0xfe, 0x01), ErrMalformed, "needs 4 more bytes"},
		{"length not in its shortest form", append(rawPSBT([]kvp{unsignedTx}, empty, nil), 0xfd, 0x01, 0x00, 0x1f, 0x00, 0x00), ErrMalformed, "shortest form"},
		{"key type not in its shortest form", rawPSBT([]kvp{unsignedTx}, [][]kvp{{{[]byte{0xfd, 0x1f, 0x00}, nil}}}, empty), ErrMalformed, "shortest form"},

		{"witness_utxo with a script length past its end", rawPSBT([]kvp{unsignedTx}, [][]kvp{{{[]byte{0x01}, witnessUTXO[:len(witnessUTXO)-1]}}}, empty),
			ErrMalformed, "witness_utxo script"},
		{"witness_utxo with bytes after its script", rawPSBT([]kvp{unsignedTx}, [][]kvp{{{[]byte{0x01}, append(append([]byte{}, witnessUTXO...), 0)}}}, empty),
			ErrMalformed, "after its script"},
		{"non_witness_utxo that is not a transaction", rawPSBT([]kvp{unsignedTx}, [][]kvp{{{[]byte{0x00}, []byte{1, 2, 3}}}}, empty), ErrMalformed, "non_witness_utxo"},
		{"empty BIP32 derivation (panics btcutil/psbt)", rawPSBT([]kvp{unsignedTx}, [][]kvp{{{append([]byte{0x06}, testPubKey(t)...), nil}}}, empty),
			ErrMalformed, "BIP32 derivation of 0 bytes"},
		{"output BIP32 derivation of 6 bytes", rawPSBT([]kvp{unsignedTx}, empty, [][]kvp{{{append([]byte{0x02}, testPubKey(t)...), make([]byte, 6)}}}),
			ErrMalformed, "BIP32 derivation of 6 bytes"},
		{"taproot derivation claiming 2^32 leaf hashes", rawPSBT([]kvp{unsignedTx}, [][]kvp{{{append([]byte{0x16}, testPubKey(t)[1:]...), []byte{0xff, 0, 0, 0, 0, 1, 0, 0, 0, 1, 2, 3, 4}}}}, empty),
			ErrMalformed, "leaf hashes"},
		{"taproot output derivation without a fingerprint", rawPSBT([]kvp{unsignedTx}, empty, [][]kvp{{{append([]byte{0x07}, testPubKey(t)[1:]...), []byte{0x00}}}}),
			ErrMalformed, "BIP32 derivation of 0 bytes"},
		{"field rejected by btcutil/psbt (sighash of 2 bytes)", rawPSBT([]kvp{unsignedTx}, [][]kvp{{{[]byte{0x03}, []byte{1, 0}}}}, empty), ErrMalformed, ""},
	}

	// Every BIP370 version 2 field, placed in a version 0 PSBT.
	for _, kt := range []byte{0x02, 0x03, 0x04, 0x05, 0x06} {
		tests = append(tests, tc{fmt.Sprintf("global v2 field %#x", kt),
			rawPSBT([]kvp{unsignedTx, {[]byte{kt}, le32(1)}}, empty, empty), ErrMalformed, v2GlobalFields[uint64(kt)]})
	}
	for _, kt := range []byte{0x0e, 0x0f, 0x10, 0x11, 0x12} {
		tests = append(tests, tc{fmt.Sprintf("input v2 field %#x", kt),
			rawPSBT([]kvp{unsignedTx}, [][]kvp{{{[]byte{kt}, le32(1)}}}, empty), ErrMalformed, v2InputFields[uint64(kt)]})
	}
	for _, kt := range []byte{0x03, 0x04} {
		tests = append(tests, tc{fmt.Sprintf("output v2 field %#x", kt),
			rawPSBT([]kvp{unsignedTx}, empty, [][]kvp{{{[]byte{kt}, le32(1)}}}), ErrMalformed, v2OutputFields[uint64(kt)]})
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Decode(tt.raw, 0)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("refused a valid PSBT: %v", err)
				}
				if !bytes.Equal(mustEncode(t, p), tt.raw) {
					t.Fatal("a canonical PSBT did not re-encode to the same bytes")
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Fatalf("error %q does not say %q", err, tt.message)
			}
			t.Log(err)
		})
	}
}

// testPubKey is a valid compressed public key for key data.
func testPubKey(t testing.TB) []byte {
	w := loadVectorWallet(t)
	return w.p2wpkh[0].pubKey
}
