package batcher

import (
	"testing"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/withdrawals"
)

func (e *env) peer(other *devenv.Btcd, connect bool) {
	e.t.Helper()
	if connect {
		testenv.Connect(e.t, e.ctx, e.node, other)
	} else {
		testenv.Disconnect(e.t, e.ctx, e.node)
	}
}

func (e *env) waitFor(what string, cond func() bool) { e.t.Helper(); testenv.WaitFor(e.t, what, cond) }

func sameTip(e *env, a, b chain.Node) bool { return testenv.SameTip(e.ctx, a, b) }

// A reorganisation drops the block that confirmed a batch: the booking is
// reversed, the withdrawals go back to broadcast with a withdrawal.reorged
// event, the same bytes are sent again, and the next block confirms it
// again. On the chain, each withdrawal is paid exactly once throughout.
func TestReorgOfAConfirmedBatchSendsItAgainAndConfirmsOnce(t *testing.T) {
	e := newEnv(t, Config{ThresholdCount: 2})
	other := testenv.NewNode(t, devenv.BtcdOptions{NoMine: true})
	otherChain := chain.NewRPCNode(other.Client)
	e.peer(other, true)
	e.waitFor("the second node to sync", func() bool { return sameTip(e, e.chain, otherChain) })

	e.fund("dave", 3_000_000)
	e.waitFor("sync", func() bool { return sameTip(e, e.chain, otherChain) })
	dests := []string{outside(t, 11), outside(t, 12)}
	ws := []withdrawals.Withdrawal{e.request("dave", dests[0], 1_000_000), e.request("dave", dests[1], 400_000)}
	hotBefore := e.hotBalance()

	// Split: the batch is sent and confirmed on our side only.
	e.peer(other, false)
	e.step()
	e.mine(1)
	e.step()
	for _, w := range ws {
		if got := e.withdrawal(w.ID); got.State != withdrawals.Confirmed {
			var reasons []string
			rows, _ := e.runner.Pool().Query(e.ctx, `SELECT payload::text FROM public.events WHERE type = 'batch.not_built'`)
			for rows.Next() {
				var r string
				_ = rows.Scan(&r)
				reasons = append(reasons, r)
			}
			rows.Close()
			t.Fatalf("withdrawal %d before the reorg: %s (%v)", w.ID, got.State, reasons)
		}
	}
	if e.hotBalance() == hotBefore {
		t.Fatal("the confirmed batch was not booked")
	}
	// The other side mines a longer chain without it.
	if _, err := other.Generate(e.ctx, 2); err != nil {
		t.Fatal(err)
	}
	e.peer(other, true)
	e.waitFor("the reorg", func() bool { return sameTip(e, e.chain, otherChain) })
	e.sync()
	e.step()
	for _, w := range ws {
		if got := e.withdrawal(w.ID); got.State != withdrawals.Broadcast {
			t.Fatalf("withdrawal %d after the reorg: %s, want broadcast", w.ID, got.State)
		}
		if c, _ := e.paidOnChain(dests[0], ws[0].Amount); c != 0 {
			t.Fatalf("withdrawal %d still paid on the best chain after the reorg", w.ID)
		}
	}
	if got := e.hotBalance(); got != hotBefore {
		t.Fatalf("hot wallet %d after the reorg, %d before the batch: the booking was not reversed", got, hotBefore)
	}
	e.invariants()
	// The node has the transaction again (it was sent again, or kept from
	// the dropped block); the next block confirms it.
	e.mine(1)
	e.step()
	for i, w := range ws {
		if got := e.withdrawal(w.ID); got.State != withdrawals.Confirmed {
			t.Fatalf("withdrawal %d after the new block: %s", w.ID, got.State)
		}
		if c, m := e.paidOnChain(dests[i], w.Amount); c != 1 || m != 0 {
			t.Fatalf("withdrawal %d: paid %d times on the chain, %d in the mempool", w.ID, c, m)
		}
	}
	for typ, want := range map[string]int{EventWithdrawalBatched: 2, EventWithdrawalBroadcast: 2, EventWithdrawalConfirmed: 4, EventWithdrawalReorged: 2} {
		if n := e.count(`SELECT count(*) FROM public.events WHERE type = $1`, typ); n != want {
			t.Fatalf("%d %s events, want %d", n, typ, want)
		}
	}
	if n := e.count(`SELECT count(*) FROM btc.batches`); n != 1 {
		t.Fatalf("%d batches: the reorg must not build a second transaction", n)
	}
	e.invariants()
	if hot, coins := e.hotBalance(), e.unspentHot(); hot != -coins {
		t.Fatalf("hot wallet ledger %d, unspent hot coins %d", hot, coins)
	}
}
