package coinselect

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
)

type keyedCoin struct {
	Coin
	key *btcec.PrivateKey
}

func newKeyedCoin(t *testing.T, taproot bool, amount int64, n int) keyedCoin {
	t.Helper()
	key, err := btcec.NewPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	var script []byte
	if taproot {
		script, err = txscript.PayToTaprootScript(txscript.ComputeTaprootKeyNoScript(key.PubKey()))
	} else {
		script, err = txscript.NewScriptBuilder().AddOp(txscript.OP_0).AddData(btcutil.Hash160(key.PubKey().SerializeCompressed())).Script()
	}
	if err != nil {
		t.Fatal(err)
	}
	var op wire.OutPoint
	binary.BigEndian.PutUint64(op.Hash[:], uint64(n)+1<<40)
	op.Index = uint32(n % 3)
	return keyedCoin{Coin: Coin{OutPoint: op, Amount: amount, Script: script, Confirmed: true}, key: key}
}

// TestVSizeMatchesSignedTransactions signs real p2wpkh and p2tr
// (key-path) transactions with btcd's txscript, checks every input with
// the script engine, and compares their vsize with Selection.VSize: never
// below it (the fee rate paid is never under the one asked), at most a
// quarter vbyte over per p2wpkh input, exact for p2tr.
func TestVSizeMatchesSignedTransactions(t *testing.T) {
	cases := []struct {
		name          string
		p2wpkh, p2tr  int // coins of each kind, 10,000 sat each
		pay           int64
		taprootChange bool
	}{
		{name: "one p2wpkh input", p2wpkh: 1, pay: 5_000},
		{name: "one p2tr input", p2tr: 1, pay: 5_000},
		{name: "p2wpkh inputs", p2wpkh: 12, pay: 110_000},
		{name: "p2tr inputs", p2tr: 12, pay: 110_000, taprootChange: true},
		{name: "mixed inputs", p2wpkh: 7, p2tr: 7, pay: 125_000},
		{name: "253 inputs (a 3-byte input count)", p2wpkh: 130, p2tr: 130, pay: 2_520_000},
	}
	n := 0
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var coins []Coin
			keys := map[wire.OutPoint]keyedCoin{}
			for i := 0; i < tc.p2wpkh+tc.p2tr; i++ {
				n++
				kc := newKeyedCoin(t, i >= tc.p2wpkh, 10_000, n)
				coins = append(coins, kc.Coin)
				keys[kc.OutPoint] = kc
			}
			changeScript := p2wpkh(77)
			if tc.taprootChange {
				changeScript = p2tr(77)
			}
			outs := []Output{{Script: p2tr(5), Amount: tc.pay / 2}, {Script: p2wpkh(6), Amount: tc.pay - tc.pay/2}}
			p := Params{FeeRate: 1_000, ChangeScript: changeScript}
			sel, err := Select(coins, outs, p)
			if err != nil {
				t.Fatal(err)
			}
			tx, _, err := Assemble(sel, outs, changeScript, 1000)
			if err != nil {
				t.Fatal(err)
			}
			prevOuts := txscript.NewMultiPrevOutFetcher(nil)
			var nP2WPKH int64
			for _, in := range tx.TxIn {
				kc := keys[in.PreviousOutPoint]
				prevOuts.AddPrevOut(in.PreviousOutPoint, wire.NewTxOut(kc.Amount, kc.Script))
				if txscript.IsPayToWitnessPubKeyHash(kc.Script) {
					nP2WPKH++
				}
			}
			hashes := txscript.NewTxSigHashes(tx, prevOuts)
			for i, in := range tx.TxIn {
				kc := keys[in.PreviousOutPoint]
				if txscript.IsPayToTaproot(kc.Script) {
					in.Witness, err = txscript.TaprootWitnessSignature(tx, hashes, i, kc.Amount, kc.Script, txscript.SigHashDefault, kc.key)
				} else {
					in.Witness, err = txscript.WitnessSignature(tx, hashes, i, kc.Amount, kc.Script, txscript.SigHashAll, kc.key, true)
				}
				if err != nil {
					t.Fatalf("signing input %d: %v", i, err)
				}
			}
			for i, in := range tx.TxIn {
				kc := keys[in.PreviousOutPoint]
				vm, err := txscript.NewEngine(kc.Script, tx, i, txscript.StandardVerifyFlags, nil, hashes, kc.Amount, prevOuts)
				if err != nil {
					t.Fatal(err)
				}
				if err := vm.Execute(); err != nil {
					t.Fatalf("input %d does not verify: %v", i, err)
				}
			}
			weight := blockchain.GetTransactionWeight(btcutil.NewTx(tx))
			signed := (weight + 3) / 4
			// A 71-byte ECDSA signature (half the time) is a quarter vbyte
			// under the 72 bytes sized for; the rounding adds up to one.
			slack := (nP2WPKH+3)/4 + 1
			if sel.VSize < signed || sel.VSize > signed+slack {
				t.Fatalf("Selection.VSize %d, signed transaction %d vB (%d WU, %d inputs, %d p2wpkh): want %d..%d",
					sel.VSize, signed, weight, len(tx.TxIn), nP2WPKH, signed, signed+slack)
			}
			if nP2WPKH == 0 && sel.VSize != signed {
				t.Fatalf("p2tr only: Selection.VSize %d, signed %d vB: should be exact", sel.VSize, signed)
			}
			if rate := sel.Fee * 1000 / signed; rate < p.FeeRate {
				t.Fatalf("paid %d sat/kvB, asked %d", rate, p.FeeRate)
			}
			t.Log(fmt.Sprintf("%s: %d inputs, estimated %d vB, signed %d vB, fee %d, %s", tc.name, len(tx.TxIn), sel.VSize, signed, sel.Fee, sel.Algorithm))
		})
	}
}
