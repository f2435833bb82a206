package coins

import (
	"bytes"
	"math"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

var (
	hotScript    = append([]byte{0x00, 0x14}, bytes.Repeat([]byte{1}, 20)...)
	changeScript = append([]byte{0x00, 0x14}, bytes.Repeat([]byte{2}, 20)...)
	coldScript   = append([]byte{0x51, 0x20}, bytes.Repeat([]byte{3}, 32)...)
	otherScript  = append([]byte{0x00, 0x14}, bytes.Repeat([]byte{9}, 20)...)
)

func testLookup(script []byte) (Watched, bool) {
	switch {
	case bytes.Equal(script, hotScript):
		return Watched{AddressID: 1, WalletID: 1}, true
	case bytes.Equal(script, changeScript):
		return Watched{AddressID: 2, WalletID: 1}, true
	case bytes.Equal(script, coldScript):
		return Watched{AddressID: 3, WalletID: 2}, true
	}
	return Watched{}, false
}

func spendTx(ins []wire.OutPoint, outs ...*wire.TxOut) *wire.MsgTx {
	tx := wire.NewMsgTx(2)
	for i := range ins {
		tx.AddTxIn(wire.NewTxIn(&ins[i], nil, nil))
	}
	for _, o := range outs {
		tx.AddTxOut(o)
	}
	return tx
}

func coinbaseTx(outs ...*wire.TxOut) *wire.MsgTx {
	return spendTx([]wire.OutPoint{{Index: math.MaxUint32}}, outs...)
}

func TestMatchFindsOurOutputsAndEverySpend(t *testing.T) {
	a := wire.OutPoint{Hash: chainhash.Hash{1}, Index: 0}
	b := wire.OutPoint{Hash: chainhash.Hash{2}, Index: 5}
	pay := spendTx([]wire.OutPoint{a, b}, wire.NewTxOut(5000, otherScript), wire.NewTxOut(7000, hotScript), wire.NewTxOut(300, changeScript))
	cb := coinbaseTx(wire.NewTxOut(50_0000_0000, coldScript))
	for _, tc := range []struct {
		name       string
		txs        []*wire.MsgTx
		wantOuts   []Output
		wantSpends []Spend
	}{
		{"nothing", nil, nil, nil},
		{"a payment to a customer address and to change", []*wire.MsgTx{pay},
			[]Output{{OutPoint: wire.OutPoint{Hash: pay.TxHash(), Index: 1}, WalletID: 1, AddressID: 1, Amount: 7000, Script: hotScript},
				{OutPoint: wire.OutPoint{Hash: pay.TxHash(), Index: 2}, WalletID: 1, AddressID: 2, Amount: 300, Script: changeScript}},
			[]Spend{{OutPoint: a, By: pay.TxHash()}, {OutPoint: b, By: pay.TxHash()}}},
		{"a coinbase paying the cold wallet spends nothing", []*wire.MsgTx{cb},
			[]Output{{OutPoint: wire.OutPoint{Hash: cb.TxHash()}, WalletID: 2, AddressID: 3, Amount: 50_0000_0000, Script: coldScript, Coinbase: true}}, nil},
		{"a duplicated transaction counts once", []*wire.MsgTx{pay, nil, pay},
			[]Output{{OutPoint: wire.OutPoint{Hash: pay.TxHash(), Index: 1}, WalletID: 1, AddressID: 1, Amount: 7000, Script: hotScript},
				{OutPoint: wire.OutPoint{Hash: pay.TxHash(), Index: 2}, WalletID: 1, AddressID: 2, Amount: 300, Script: changeScript}},
			[]Spend{{OutPoint: a, By: pay.TxHash()}, {OutPoint: b, By: pay.TxHash()}}},
		{"zero, negative and impossible amounts are not coins", []*wire.MsgTx{spendTx(nil,
			wire.NewTxOut(0, hotScript), wire.NewTxOut(-1, hotScript), wire.NewTxOut(maxAmount+1, hotScript))}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Match(tc.txs, testLookup)
			if len(got.Outputs) != len(tc.wantOuts) || len(got.Spends) != len(tc.wantSpends) {
				t.Fatalf("got %+v", got)
			}
			for i, o := range tc.wantOuts {
				g := got.Outputs[i]
				if g.OutPoint != o.OutPoint || g.WalletID != o.WalletID || g.AddressID != o.AddressID || g.Amount != o.Amount ||
					!bytes.Equal(g.Script, o.Script) || g.Coinbase != o.Coinbase {
					t.Fatalf("output %d: got %+v, want %+v", i, g, o)
				}
			}
			for i, s := range tc.wantSpends {
				if got.Spends[i] != s {
					t.Fatalf("spend %d: got %+v, want %+v", i, got.Spends[i], s)
				}
			}
		})
	}
}

// FuzzMatchCoins feeds the matcher arbitrary transactions: it must never
// panic, and what it returns must always fit the coins table (amounts and
// scripts in range, each outpoint once, each outpoint spent once), so no
// block content can make the follower's write fail.
func FuzzMatchCoins(f *testing.F) {
	var seed bytes.Buffer
	pay := spendTx([]wire.OutPoint{{Hash: chainhash.Hash{1}}}, wire.NewTxOut(7000, hotScript), wire.NewTxOut(1, changeScript))
	_ = pay.Serialize(&seed)
	_ = pay.Serialize(&seed)
	_ = coinbaseTx(wire.NewTxOut(1, coldScript)).Serialize(&seed)
	f.Add(seed.Bytes())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		var txs []*wire.MsgTx
		for r.Len() > 0 && len(txs) < 50 {
			var tx wire.MsgTx
			if err := tx.Deserialize(r); err != nil {
				break
			}
			txs = append(txs, &tx)
		}
		got := Match(txs, testLookup)
		outs := map[wire.OutPoint]bool{}
		for _, o := range got.Outputs {
			if outs[o.OutPoint] {
				t.Fatalf("outpoint %v twice", o.OutPoint)
			}
			outs[o.OutPoint] = true
			if o.Amount <= 0 || o.Amount > maxAmount || len(o.Script) == 0 || len(o.Script) > maxScript || o.OutPoint.Index > math.MaxInt32 {
				t.Fatalf("bad coin %+v", o)
			}
			if w, ok := testLookup(o.Script); !ok || w.AddressID != o.AddressID || w.WalletID != o.WalletID {
				t.Fatalf("coin %+v of a script not watched", o)
			}
		}
		spent := map[wire.OutPoint]bool{}
		for _, s := range got.Spends {
			if spent[s.OutPoint] || s.OutPoint.Index > math.MaxInt32 {
				t.Fatalf("bad spend %+v", s)
			}
			spent[s.OutPoint] = true
		}
	})
}
