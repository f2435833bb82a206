package batcher

import (
	"errors"
	"slices"
	"testing"

	"github.com/btcsuite/btcd/btcutil"

	"github.com/cryptoassets/cryptoassets/internal/chainscan"
)

// The operator's reader of batches, over batches the real batcher built,
// signed and sent to a real node: one confirmed (two withdrawals), one
// broadcast and not yet mined. What Get says is checked against the
// transaction's own bytes: each payment's vout pays that withdrawal.
func TestReaderListsAndShowsBatchesTheBatcherBuilt(t *testing.T) {
	e := newEnv(t, Config{})
	e.Fund("alice", 2_000_000)
	w1 := e.Request("alice", outside(t, 11), 400_000)
	w2 := e.Request("alice", outside(t, 12), 300_000)
	e.step()
	e.Mine(1)
	e.step()
	w3 := e.Request("alice", outside(t, 13), 200_000)
	e.step()

	r := NewReader(e.Runner, "btc")
	var ids []int64
	if err := e.Runner.Pool().QueryRow(e.Ctx, `SELECT array_agg(id ORDER BY id) FROM btc.batches`).Scan(&ids); err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 {
		t.Fatalf("batches %v, want 2", ids)
	}
	first, second := ids[0], ids[1]

	for _, c := range []struct {
		name    string
		f       ListFilter
		want    []int64
		wantErr string
	}{
		{"every batch, newest first", ListFilter{}, []int64{second, first}, ""},
		{"confirmed", ListFilter{State: Confirmed}, []int64{first}, ""},
		{"broadcast", ListFilter{State: Broadcast}, []int64{second}, ""},
		{"a state with none", ListFilter{State: Dead}, nil, ""},
		{"before the second", ListFilter{Before: second}, []int64{first}, ""},
		{"one page", ListFilter{Limit: 1}, []int64{second}, ""},
		{"an unknown state", ListFilter{State: "paid"}, nil, `batch state "paid": use one of reserved, broadcasting, broadcast, confirmed, rejected, abandoned, dead`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := r.List(e.Ctx, c.f)
			if c.wantErr != "" {
				if err == nil || err.Error() != c.wantErr {
					t.Fatalf("error %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var gotIDs []int64
			for _, s := range got {
				gotIDs = append(gotIDs, s.ID)
			}
			if !slices.Equal(gotIDs, c.want) {
				t.Fatalf("ids %v, want %v", gotIDs, c.want)
			}
		})
	}

	sums, err := r.List(e.Ctx, ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if s := sums[1]; s.Withdrawals != 2 || s.Paid != 700_000 || s.BlockHeight == nil || s.Confirmations != 1 || s.Fee <= 0 || s.VSize <= 0 || s.FeeRate <= 0 {
		t.Fatalf("confirmed batch summary %+v", s)
	}
	if s := sums[0]; s.Withdrawals != 1 || s.Paid != 200_000 || s.BlockHeight != nil || s.Confirmations != 0 {
		t.Fatalf("broadcast batch summary %+v", s)
	}

	e.Mine(2) // the first batch's confirmations move with the chain
	b, err := r.Get(e.Ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	if b.State != Confirmed || b.Confirmations != 3 || b.BlockHash == nil || b.Broadcast == nil || b.Broadcast.ClosedAt == nil ||
		(b.Broadcast.Outcome != "accepted" && b.Broadcast.Outcome != "already_known") || len(b.Inputs) == 0 || len(b.ReplacedBy) != 0 || b.Replaces != nil {
		t.Fatalf("first batch %+v, broadcast %+v", b, b.Broadcast)
	}
	var raw []byte
	if err := e.Runner.Pool().QueryRow(e.Ctx, `SELECT raw_tx FROM btc.broadcasts WHERE id = $1`, b.Broadcast.ID).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	tx, err := btcutil.NewTxFromBytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	if *tx.Hash() != b.TxID {
		t.Fatalf("batch txid %s, broadcast record's bytes %s", b.TxID, tx.Hash())
	}
	if len(tx.MsgTx().TxIn) != len(b.Inputs) {
		t.Fatalf("%d inputs shown, the transaction has %d", len(b.Inputs), len(tx.MsgTx().TxIn))
	}
	for _, in := range b.Inputs {
		if in.SpentBy == nil || *in.SpentBy != b.TxID || in.Amount <= 0 {
			t.Fatalf("input %s:%d spent by %v, amount %d", in.TxID, in.Vout, in.SpentBy, in.Amount)
		}
	}
	if len(b.Payments) != 2 {
		t.Fatalf("payments %+v", b.Payments)
	}
	for i, w := range []struct {
		id     int64
		addr   string
		amount int64
	}{{w1.ID, w1.Address, w1.Amount}, {w2.ID, w2.Address, w2.Amount}} {
		p := b.Payments[slices.IndexFunc(b.Payments, func(p Payment) bool { return p.WithdrawalID == w.id })]
		script, err := chainscan.AddressScript(w.addr, regtest)
		if err != nil {
			t.Fatal(err)
		}
		out := tx.MsgTx().TxOut[p.Vout]
		if string(out.PkScript) != string(script) || out.Value != w.amount || p.State != "confirmed" || p.Account != "alice" {
			t.Fatalf("payment %d %+v: output %d pays %x %d", i, p, p.Vout, out.PkScript, out.Value)
		}
	}
	// What integrators read (withdrawals.Payment, the API's txid and vout)
	// is the same output, at the same depth.
	for _, p := range b.Payments {
		got, err := e.W.Payment(e.Ctx, p.WithdrawalID)
		if err != nil {
			t.Fatal(err)
		}
		if got == nil || got.TxID != b.TxID || got.Vout != p.Vout || got.BatchID != first || got.BlockHeight == nil ||
			*got.BlockHeight != *b.BlockHeight || got.Confirmations != 3 {
			t.Fatalf("withdrawal %d's payment %+v, the batch says %s:%d at %d", p.WithdrawalID, got, b.TxID, p.Vout, *b.BlockHeight)
		}
	}
	unbatched := e.Request("alice", outside(t, 14), 100_000)
	ps, err := e.W.Payments(e.Ctx, []int64{w1.ID, w3.ID, unbatched.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ps[unbatched.ID]; ok || len(ps) != 2 || ps[w3.ID].BlockHeight != nil || ps[w3.ID].Confirmations != 0 || ps[w1.ID].TxID != b.TxID {
		t.Fatalf("payments %+v", ps)
	}
	if p, err := e.W.Payment(e.Ctx, unbatched.ID); err != nil || p != nil {
		t.Fatalf("a requested withdrawal's payment: %+v %v", p, err)
	}
	if b.ChangeVout != nil && (*b.ChangeAmount != tx.MsgTx().TxOut[*b.ChangeVout].Value) {
		t.Fatalf("change %d at %d, the output holds %d", *b.ChangeAmount, *b.ChangeVout, tx.MsgTx().TxOut[*b.ChangeVout].Value)
	}

	b2, err := r.Get(e.Ctx, second)
	if err != nil {
		t.Fatal(err)
	}
	if len(b2.Payments) != 1 || b2.Payments[0].WithdrawalID != w3.ID || b2.Payments[0].State != "broadcast" || b2.BlockHash != nil {
		t.Fatalf("second batch %+v", b2)
	}
	if _, err := r.Get(e.Ctx, second+100); !errors.Is(err, ErrUnknownBatch) {
		t.Fatalf("an unknown batch: %v", err)
	}
}
