package batcher

import (
	"testing"

	"github.com/cryptoassets/cryptoassets/online/withdrawals"
)

// Follow opens a transaction only when the stored chain has something to
// change in a batch: with no batch, with a batch waiting in the mempool,
// and with a confirmed batch the chain has not moved since, a poll begins
// none (the runner counts every transaction begun); a block that confirms
// a batch, or adds a confirmation to it, is applied by the next poll.
func TestFollowOpensNoTransactionWhenNothingChanged(t *testing.T) {
	e := newEnv(t, Config{})
	var w withdrawals.Withdrawal
	confs := func() int {
		return e.Count(`SELECT coalesce(max(confirmations), -1) FROM btc.batches`)
	}
	for _, s := range []struct {
		name   string
		before func()
		wantTx bool
		after  func() // checks what the poll left
	}{
		{name: "no batch at all"},
		{name: "a batch in the mempool", before: func() {
			e.Fund("alice", 1_000_000)
			w = e.Request("alice", outside(t, 21), 400_000)
			e.step()
		}, after: func() {
			if got := e.Withdrawal(w.ID); got.State != withdrawals.Broadcast {
				t.Fatalf("withdrawal %s, want broadcast", got.State)
			}
		}},
		{name: "the block mining it", before: func() { e.Mine(1) }, wantTx: true, after: func() {
			if got := e.Withdrawal(w.ID); got.State != withdrawals.Confirmed || confs() != 1 {
				t.Fatalf("withdrawal %s, batch at %d confirmations: want confirmed at 1", got.State, confs())
			}
		}},
		{name: "the confirmed batch, chain unchanged"},
		{name: "the confirmed batch, polled again"},
		{name: "a block more", before: func() { e.Mine(1) }, wantTx: true, after: func() {
			if n := confs(); n != 2 {
				t.Fatalf("batch at %d confirmations, want 2", n)
			}
		}},
		{name: "the confirmed batch, chain unchanged again"},
	} {
		if s.before != nil {
			s.before()
		}
		before := e.Runner.Stats()
		if err := e.b.Follow(e.Ctx); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		after := e.Runner.Stats()
		want := uint64(0)
		if s.wantTx {
			want = 1
		}
		if began := after.Attempts - before.Attempts; began != want {
			t.Fatalf("%s: the poll began %d transactions, want %d", s.name, began, want)
		}
		if s.after != nil {
			s.after()
		}
	}
	if c, m := e.PaidOnChain(outside(t, 21), w.Amount); c != 1 || m != 0 {
		t.Fatalf("the withdrawal is paid %d times on the chain, %d in the mempool", c, m)
	}
	e.invariants()
}
