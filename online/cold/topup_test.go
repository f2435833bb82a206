package cold

import (
	"bytes"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
	"github.com/cryptoassets/cryptoassets/shared/psbt"
)

func account(t *testing.T, fill byte) *hdkeys.AccountKey {
	t.Helper()
	m, err := hdkeys.NewMaster(bytes.Repeat([]byte{fill}, 64), &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	a, err := m.Account(hdkeys.P2WPKH, 0)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func derive(t *testing.T, a *hdkeys.AccountKey, branch, index uint32) *hdkeys.Derived {
	t.Helper()
	d, err := a.Derive(branch, index)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestBuild(t *testing.T) {
	cold, hot := account(t, 1), account(t, 2)
	in := derive(t, cold, 0, 0)
	prev := wire.NewMsgTx(2)
	prev.AddTxIn(wire.NewTxIn(&wire.OutPoint{Index: 3}, nil, nil))
	prev.AddTxOut(wire.NewTxOut(1_000_000, in.PkScript))
	req := TopUp{Coins: []Coin{{Prev: prev, Vout: 0, Key: in}}, Hot: derive(t, hot, 1, 0), Change: derive(t, cold, 1, 0), Send: 600_000, Fee: 1_000}
	p, err := Build(req)
	if err != nil {
		t.Fatal(err)
	}
	s, err := psbt.Summarize(p, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	if s.Fee != 1_000 || !s.FeeVerified || len(s.Outputs) != 2 || !s.Outputs[1].ClaimedChange || s.Outputs[0].ClaimedChange {
		t.Fatalf("summary %+v", s)
	}
	if p.Inputs[0].WitnessUtxo == prev.TxOut[0] {
		t.Fatal("the witness UTXO aliases the previous transaction")
	}

	bad := []struct {
		name string
		edit func(r *TopUp)
		want string
	}{
		{"no coins", func(r *TopUp) { r.Coins = nil }, "no coins"},
		{"coin paid to another key", func(r *TopUp) { r.Coins[0].Key = derive(t, cold, 0, 1) }, "not paid to its key"},
		{"vout out of range", func(r *TopUp) { r.Coins[0].Vout = 5 }, "incomplete"},
		{"not enough", func(r *TopUp) { r.Send = 1_000_000 }, "cannot send"},
		{"nothing to send", func(r *TopUp) { r.Send = 0 }, "cannot send"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			r := req
			r.Coins = append([]Coin(nil), req.Coins...)
			tc.edit(&r)
			if _, err := Build(r); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want %q, got %v", tc.want, err)
			}
		})
	}
	// Everything spent: no change output at all.
	r := req
	r.Send = 999_000
	p, err = Build(r)
	if err != nil || len(p.UnsignedTx.TxOut) != 1 {
		t.Fatalf("exact spend: %v", err)
	}
}
