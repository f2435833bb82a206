package psbt

import (
	"testing"

	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/wire"
)

// BenchmarkDecodeSummarize decodes and summarizes a 100-input PSBT whose
// inputs each carry their full previous transaction, witness UTXO and key
// origin, as the signer receives it.
func BenchmarkDecodeSummarize(b *testing.B) {
	w := loadVectorWallet(b)
	key := w.p2wpkh[0]
	const inputs = 100
	tx := wire.NewMsgTx(2)
	var prevTxs []*wire.MsgTx
	for i := range inputs {
		prev := fundingTx(byte(i), 1, 10_000+int64(i), key.script)
		prevTxs = append(prevTxs, prev)
		tx.AddTxIn(wire.NewTxIn(&wire.OutPoint{Hash: prev.TxHash(), Index: 1}, nil, nil))
	}
	tx.AddTxOut(wire.NewTxOut(900_000, w.p2wpkh[1].script))
	tx.AddTxOut(wire.NewTxOut(50_000, w.p2tr[2].script))
	p, err := btcpsbt.NewFromUnsignedTx(tx)
	if err != nil {
		b.Fatal(err)
	}
	u, err := btcpsbt.NewUpdater(p)
	if err != nil {
		b.Fatal(err)
	}
	for i, prev := range prevTxs {
		if err := u.AddInNonWitnessUtxo(prev, i); err != nil {
			b.Fatal(err)
		}
		if err := u.AddInWitnessUtxo(prev.TxOut[1], i); err != nil {
			b.Fatal(err)
		}
		if err := u.AddInBip32Derivation(w.fingerprint, key.path, key.pubKey, i); err != nil {
			b.Fatal(err)
		}
	}
	raw := mustEncode(b, p)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		p, err := Decode(raw, 0)
		if err != nil {
			b.Fatal(err)
		}
		s, err := Summarize(p, &chaincfg.MainNetParams)
		if err != nil || !s.FeeVerified {
			b.Fatal(err, s.Warnings)
		}
	}
}
