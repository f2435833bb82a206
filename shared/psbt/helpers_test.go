package psbt

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
)

// vectorKey is one address of the BIP84 or BIP86 test vectors
// (testdata/bip84.json, testdata/bip86.json), with its published values.
type vectorKey struct {
	priv     *btcec.PrivateKey
	pubKey   []byte // compressed
	path     []uint32
	pathText string // as published, e.g. m/84'/0'/0'/0/0
	script   []byte
	address  string // mainnet, as published
}

// vectorWallet is the "abandon ... about" wallet of BIP84 and BIP86.
type vectorWallet struct {
	fingerprint    uint32 // as btcutil/psbt stores it
	fingerprintHex string // as published (derived_master_fingerprint)
	p2wpkh         []vectorKey
	p2tr           []vectorKey
}

func loadVectorWallet(t testing.TB) *vectorWallet {
	t.Helper()
	type vectorFile struct {
		Fingerprint string `json:"derived_master_fingerprint"`
		RootXpub    string `json:"derived_root_xpub"`
		RootPub     string `json:"rootpub"`
		Addresses   []struct {
			Path       string `json:"path"`
			WIF        string `json:"privkey_wif"`
			DerivedWIF string `json:"derived_privkey_wif"`
			Script     string `json:"derived_scriptPubKey"`
			TRScript   string `json:"scriptPubKey"`
			Address    string `json:"address"`
		} `json:"addresses"`
	}
	read := func(name string) vectorFile {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		var v vectorFile
		if err := json.Unmarshal(data, &v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return v
	}
	keys := func(v vectorFile) []vectorKey {
		var out []vectorKey
		// BIP84 publishes privkey_wif and derived_scriptPubKey, BIP86
		// derived_privkey_wif and scriptPubKey: one of each pair is empty.
		for _, a := range v.Addresses {
			wif, err := btcutil.DecodeWIF(a.WIF + a.DerivedWIF)
			if err != nil {
				t.Fatalf("%s: %v", a.Path, err)
			}
			path, err := hdkeys.ParsePath(a.Path)
			if err != nil {
				t.Fatalf("%s: %v", a.Path, err)
			}
			script, err := hex.DecodeString(a.Script + a.TRScript)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, vectorKey{
				priv: wif.PrivKey, pubKey: wif.PrivKey.PubKey().SerializeCompressed(),
				path: path, pathText: a.Path, script: script, address: a.Address,
			})
		}
		return out
	}
	bip84, bip86 := read("bip84.json"), read("bip86.json")
	root, err := hdkeychain.NewKeyFromString(bip84.RootXpub)
	if err != nil {
		t.Fatal(err)
	}
	rootPub, err := root.ECPubKey()
	if err != nil {
		t.Fatal(err)
	}
	// TOOLCHAIN.md: btcutil/psbt keeps the fingerprint little-endian.
	fp := binary.LittleEndian.Uint32(btcutil.Hash160(rootPub.SerializeCompressed())[:4])
	if bip86.RootPub != bip84.RootXpub || bip86.Fingerprint != bip84.Fingerprint {
		t.Fatal("BIP84 and BIP86 vectors should share a root")
	}
	return &vectorWallet{fingerprint: fp, fingerprintHex: bip84.Fingerprint, p2wpkh: keys(bip84), p2tr: keys(bip86)}
}

// Amounts of the standard fixture.
const (
	fixtureP2WPKHIn = 100_000
	fixtureP2TRIn   = 200_000
	fixturePay      = 250_000
	fixtureChange   = 49_000
	fixtureFee      = fixtureP2WPKHIn + fixtureP2TRIn - fixturePay - fixtureChange
)

// fundingTx makes a previous transaction paying amount to script at output
// vout (other outputs pay elsewhere), with a scriptSig so it looks spent.
func fundingTx(seed byte, vout int, amount int64, script []byte) *wire.MsgTx {
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(wire.NewTxIn(&wire.OutPoint{Hash: chainhash.Hash{seed}, Index: 7}, []byte{0x51}, nil))
	for i := 0; i <= vout; i++ {
		if i == vout {
			tx.AddTxOut(wire.NewTxOut(amount, script))
		} else {
			tx.AddTxOut(wire.NewTxOut(int64(1000+i), []byte{txscript.OP_TRUE}))
		}
	}
	return tx
}

// fixture builds an unsigned PSBT as a careful creator would: input 0
// spends a BIP84 p2wpkh output (non_witness_utxo and witness_utxo), input 1
// a BIP86 p2tr output (witness_utxo); output 0 pays another BIP84 address,
// output 1 is taproot change carrying its derivation.
func fixture(t testing.TB, w *vectorWallet) *btcpsbt.Packet {
	t.Helper()
	in0, in1 := w.p2wpkh[0], w.p2tr[0]
	prev0 := fundingTx(1, 1, fixtureP2WPKHIn, in0.script)
	prev1 := fundingTx(2, 0, fixtureP2TRIn, in1.script)

	tx := wire.NewMsgTx(2)
	tx.AddTxIn(wire.NewTxIn(&wire.OutPoint{Hash: prev0.TxHash(), Index: 1}, nil, nil))
	tx.AddTxIn(wire.NewTxIn(&wire.OutPoint{Hash: prev1.TxHash(), Index: 0}, nil, nil))
	tx.TxIn[0].Sequence = wire.MaxTxInSequenceNum - 2
	tx.TxIn[1].Sequence = wire.MaxTxInSequenceNum - 2
	tx.AddTxOut(wire.NewTxOut(fixturePay, w.p2wpkh[1].script))
	tx.AddTxOut(wire.NewTxOut(fixtureChange, w.p2tr[2].script))

	p, err := btcpsbt.NewFromUnsignedTx(tx)
	if err != nil {
		t.Fatal(err)
	}
	u, err := btcpsbt.NewUpdater(p)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(u.AddInNonWitnessUtxo(prev0, 0))
	must(u.AddInWitnessUtxo(prev0.TxOut[1], 0))
	must(u.AddInBip32Derivation(w.fingerprint, in0.path, in0.pubKey, 0))
	must(u.AddInWitnessUtxo(prev1.TxOut[0], 1))
	p.Inputs[1].TaprootInternalKey = in1.pubKey[1:]
	p.Inputs[1].TaprootBip32Derivation = []*btcpsbt.TaprootBip32Derivation{{
		XOnlyPubKey: in1.pubKey[1:], MasterKeyFingerprint: w.fingerprint, Bip32Path: in1.path,
	}}
	change := w.p2tr[2]
	p.Outputs[1].TaprootInternalKey = change.pubKey[1:]
	p.Outputs[1].TaprootBip32Derivation = []*btcpsbt.TaprootBip32Derivation{{
		XOnlyPubKey: change.pubKey[1:], MasterKeyFingerprint: w.fingerprint, Bip32Path: change.path,
	}}
	return p
}

// signFixture signs both fixture inputs with the vector keys; with finalize
// it also finalizes them.
func signFixture(t testing.TB, w *vectorWallet, p *btcpsbt.Packet, finalize bool) {
	t.Helper()
	tx := p.UnsignedTx
	prevOuts := txscript.NewMultiPrevOutFetcher(nil)
	for i, in := range tx.TxIn {
		prevOuts.AddPrevOut(in.PreviousOutPoint, p.Inputs[i].WitnessUtxo)
	}
	hashes := txscript.NewTxSigHashes(tx, prevOuts)

	utxo0 := p.Inputs[0].WitnessUtxo
	sig, err := txscript.RawTxInWitnessSignature(tx, hashes, 0, utxo0.Value, utxo0.PkScript, txscript.SigHashAll, w.p2wpkh[0].priv)
	if err != nil {
		t.Fatal(err)
	}
	u, err := btcpsbt.NewUpdater(p)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := u.Sign(0, sig, w.p2wpkh[0].pubKey, nil, nil); err != nil || res != btcpsbt.SignSuccesful {
		t.Fatalf("signing input 0: %v %v", res, err)
	}

	utxo1 := p.Inputs[1].WitnessUtxo
	tapSig, err := txscript.RawTxInTaprootSignature(tx, hashes, 1, utxo1.Value, utxo1.PkScript, nil, txscript.SigHashDefault, w.p2tr[0].priv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := schnorr.ParseSignature(tapSig); err != nil {
		t.Fatal(err)
	}
	p.Inputs[1].TaprootKeySpendSig = tapSig

	if finalize {
		if err := btcpsbt.MaybeFinalizeAll(p); err != nil {
			t.Fatal(err)
		}
	}
}

// field, map and PSBT writers for hand-crafted bytes.

type kvp struct{ key, value []byte }

func writeCompact(b *bytes.Buffer, n uint64) {
	_ = wire.WriteVarInt(b, 0, n)
}

func writeMap(b *bytes.Buffer, m []kvp) {
	for _, f := range m {
		writeCompact(b, uint64(len(f.key)))
		b.Write(f.key)
		writeCompact(b, uint64(len(f.value)))
		b.Write(f.value)
	}
	b.WriteByte(0x00)
}

// rawPSBT writes magic, the global map and the input and output maps.
func rawPSBT(global []kvp, inputs, outputs [][]kvp) []byte {
	var b bytes.Buffer
	b.Write(magic)
	writeMap(&b, global)
	for _, m := range inputs {
		writeMap(&b, m)
	}
	for _, m := range outputs {
		writeMap(&b, m)
	}
	return b.Bytes()
}

// legacyTx serializes tx without witnesses, as a PSBT's unsigned tx.
func legacyTx(t testing.TB, tx *wire.MsgTx) []byte {
	var b bytes.Buffer
	if err := tx.SerializeNoWitness(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func witnessTx(t testing.TB, tx *wire.MsgTx) []byte {
	var b bytes.Buffer
	if err := tx.Serialize(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// simpleTx has n inputs and m outputs paying 1000 sat each to a p2wpkh script.
func simpleTx(n, m int) *wire.MsgTx {
	tx := wire.NewMsgTx(2)
	for i := range n {
		tx.AddTxIn(wire.NewTxIn(&wire.OutPoint{Hash: chainhash.Hash{byte(i + 1)}, Index: uint32(i)}, nil, nil))
	}
	for i := range m {
		tx.AddTxOut(wire.NewTxOut(1000, append([]byte{0x00, 0x14}, bytes.Repeat([]byte{byte(i)}, 20)...)))
	}
	return tx
}

func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

func mustEncode(t testing.TB, p *btcpsbt.Packet) []byte {
	t.Helper()
	b, err := EncodeBinary(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
