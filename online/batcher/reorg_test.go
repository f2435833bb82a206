package batcher

import (
	"errors"
	"testing"

	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/withdrawals"
)

// A reorganisation drops the block that confirmed a batch: the booking is
// reversed, the withdrawals go back to broadcast with a withdrawal.reorged
// event, the same bytes are sent again, and the next block confirms it
// again. On the chain, each withdrawal is paid exactly once throughout.
func TestReorgOfAConfirmedBatchSendsItAgainAndConfirmsOnce(t *testing.T) {
	e := newEnv(t, Config{ThresholdCount: 2})
	other := e.NewFork()

	e.Fund("dave", 3_000_000)
	other.Synced("sync")
	dests := []string{outside(t, 11), outside(t, 12)}
	ws := []withdrawals.Withdrawal{e.Request("dave", dests[0], 1_000_000), e.Request("dave", dests[1], 400_000)}
	hotBefore := e.hotBalance()

	// Split: the batch is sent and confirmed on our side only.
	other.Split()
	e.step()
	e.Mine(1)
	e.step()
	for _, w := range ws {
		if got := e.Withdrawal(w.ID); got.State != withdrawals.Confirmed {
			var reasons []string
			rows, _ := e.Runner.Pool().Query(e.Ctx, `SELECT payload::text FROM public.events WHERE type = 'batch.not_built'`)
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
	other.Mine(2)
	other.Join("the reorg")
	e.Sync()
	e.step()
	for _, w := range ws {
		if got := e.Withdrawal(w.ID); got.State != withdrawals.Broadcast {
			t.Fatalf("withdrawal %d after the reorg: %s, want broadcast", w.ID, got.State)
		}
		if c, _ := e.PaidOnChain(dests[0], ws[0].Amount); c != 0 {
			t.Fatalf("withdrawal %d still paid on the best chain after the reorg", w.ID)
		}
	}
	if got := e.hotBalance(); got != hotBefore {
		t.Fatalf("hot wallet %d after the reorg, %d before the batch: the booking was not reversed", got, hotBefore)
	}
	e.invariants()
	// The node has the transaction again (it was sent again, or kept from
	// the dropped block); the next block confirms it.
	e.Mine(1)
	e.step()
	for i, w := range ws {
		if got := e.Withdrawal(w.ID); got.State != withdrawals.Confirmed {
			t.Fatalf("withdrawal %d after the new block: %s", w.ID, got.State)
		}
		if c, m := e.PaidOnChain(dests[i], w.Amount); c != 1 || m != 0 {
			t.Fatalf("withdrawal %d: paid %d times on the chain, %d in the mempool", w.ID, c, m)
		}
	}
	for typ, want := range map[string]int{EventWithdrawalBatched: 2, EventWithdrawalBroadcast: 2, EventWithdrawalConfirmed: 4, EventWithdrawalReorged: 2} {
		if n := e.Count(`SELECT count(*) FROM public.events WHERE type = $1`, typ); n != want {
			t.Fatalf("%d %s events, want %d", n, typ, want)
		}
	}
	if n := e.Count(`SELECT count(*) FROM btc.batches`); n != 1 {
		t.Fatalf("%d batches: the reorg must not build a second transaction", n)
	}
	e.invariants()
	if hot, coins := e.hotBalance(), e.unspentHot(); hot != -coins {
		t.Fatalf("hot wallet ledger %d, unspent hot coins %d", hot, coins)
	}
}

// A reorganisation drops the blocks that confirmed a sweep and the top-up
// that spends the sweep's cold output: both bookings are reversed, both
// go back to broadcast with their reorged events, the same bytes are sent
// again (the sweep first, the top-up spends it), and the next block
// confirms both again, each booked once. The sweep is not bumped meanwhile:
// a replacement would take the exported top-up's input from under it.
func TestReorgOfConfirmedSweepAndTopUpBooksBackAndConfirmsOnce(t *testing.T) {
	e := newEnv(t, Config{})
	other := e.NewFork()
	e.Fund("ida", 5_000_000)
	other.Synced("sync")
	cold := e.newCold()
	hot0, cold0, fees0 := e.hotBalance(), e.balance(ledger.ColdWallet), e.networkFees()

	// Split: the sweep and the top-up confirm on our side only.
	other.Split()
	const x, y = 3_000_000, 1_000_000
	sweep, err := e.b.Sweep(e.Ctx, x, cold.dest())
	if err != nil {
		t.Fatal(err)
	}
	e.Mine(1)
	e.step()
	topup := cold.export(y)
	cold.importSigned(topup)
	e.Mine(1)
	e.step()
	s, u := e.batch(sweep), e.batch(topup)
	if s.state != Confirmed || u.state != Confirmed {
		t.Fatalf("before the reorg: sweep %s, top-up %s", s.state, u.state)
	}
	booked := func() (hot, cold, fees int64) {
		return e.hotBalance() - hot0, e.balance(ledger.ColdWallet) - cold0, e.networkFees() - fees0
	}
	wantHot, wantCold, wantFees := x+s.fee-y, -x+y+u.fee, -s.fee-u.fee
	if h, c, f := booked(); h != wantHot || c != wantCold || f != wantFees {
		t.Fatalf("booked hot %d cold %d fees %d, want %d %d %d", h, c, f, wantHot, wantCold, wantFees)
	}
	e.invariants()

	other.Mine(3)
	other.Join("the reorg")
	e.Sync()
	e.step()
	for _, id := range []int64{sweep, topup} {
		if got := e.batch(id); got.state != Broadcast || got.ledgerTx != nil || got.confirmations != 0 {
			t.Fatalf("batch %d after the reorg: %+v, want broadcast and not booked", id, got)
		}
	}
	if h, c, f := booked(); h != 0 || c != 0 || f != 0 {
		t.Fatalf("after the reorg the ledger still books hot %d cold %d fees %d", h, c, f)
	}
	if c, _ := e.PaidOnChain(s.transferAddr, x); c != 0 {
		t.Fatal("the sweep is still on the best chain after the reorg")
	}
	for _, typ := range []string{EventSweepReorged, EventTopupReorged} {
		if n := len(e.payloads(typ)); n != 1 {
			t.Fatalf("%d %s events, want 1", n, typ)
		}
	}
	e.invariants() // both in flight: sent again, in the mempool

	e.Mine(1)
	e.step()
	for _, id := range []int64{sweep, topup} {
		if got := e.batch(id); got.state != Confirmed || got.ledgerTx == nil {
			t.Fatalf("batch %d after the new block: %+v", id, got)
		}
	}
	if h, c, f := booked(); h != wantHot || c != wantCold || f != wantFees {
		t.Fatalf("booked again hot %d cold %d fees %d, want %d %d %d", h, c, f, wantHot, wantCold, wantFees)
	}
	if c, m := e.PaidOnChain(s.transferAddr, x); c != 1 || m != 0 {
		t.Fatalf("the sweep pays the cold address %d times on the chain, %d in the mempool", c, m)
	}
	if c, m := e.PaidOnChain(u.transferAddr, y); c != 1 || m != 0 {
		t.Fatalf("the top-up pays the hot address %d times on the chain, %d in the mempool", c, m)
	}
	for kind, want := range map[string]int{"sweep.booked": 2, "sweep.reorged": 1, "cold.topup_booked": 2, "cold.topup_reorged": 1} {
		if n := e.Count(`SELECT count(*) FROM btc.ledger_transactions WHERE kind = $1`, kind); n != want {
			t.Fatalf("%d %s ledger transactions, want %d", n, kind, want)
		}
	}
	if n := e.Count(`SELECT count(*) FROM btc.batches`); n != 2 {
		t.Fatalf("%d batches: the reorg must build no other transaction (no bump of the sweep under its top-up)", n)
	}
	if n := e.Count(`SELECT count(*) FROM btc.coins WHERE spent_by IS NULL AND reserved_by IS NOT NULL`); n != 0 {
		t.Fatalf("%d unspent coins still reserved", n)
	}
	e.invariants()
	e.walletsBooked()
}

// A reorganisation drops the block of a sweep whose cold output an
// exported top-up spends: the sweep is back in the mempool, but it is not
// bumped, by hand or by its fee line, since a replacement would take the
// input of the top-up being signed on the air-gapped machine from under it.
// Once the top-up is cancelled the sweep can be bumped again.
func TestSweepUnderAnOpenTopupIsNotBumpedAfterAReorg(t *testing.T) {
	e := newEnv(t, Config{DeadlineBlocks: -1, MaxFee: 100_000})
	other := e.NewFork()
	e.Fund("kim", 3_000_000)
	other.Synced("sync")
	cold := e.newCold()

	other.Split()
	id, err := e.b.Sweep(e.Ctx, 2_000_000, cold.dest())
	if err != nil {
		t.Fatal(err)
	}
	e.Mine(1)
	e.step()
	sweep := e.batch(id)
	topup := cold.export(500_000)
	if n := e.Count(`SELECT count(*) FROM btc.batch_inputs WHERE batch_id = $1 AND txid = $2`, topup, sweep.txid[:]); n != 1 {
		t.Fatalf("the top-up spends %d outputs of the sweep, want 1", n)
	}
	other.Mine(2)
	other.Join("the reorg")
	e.Sync()
	e.step()
	if got := e.batch(id); got.state != Broadcast || !e.inMempool(sweep.txid) {
		t.Fatalf("sweep after the reorg: %s, in the mempool %v", got.state, e.inMempool(sweep.txid))
	}
	rate := sweep.fee*1000/150 + 5000 // well above its rate
	if _, err := e.b.RequestBump(e.Ctx, sweep.txid, rate, "op"); !errors.Is(err, ErrNotBumpable) {
		t.Fatalf("bump of a sweep under an exported top-up: %v", err)
	}
	if _, err := cold.TopUps.Cancel(e.Ctx, topup, "op"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.RequestBump(e.Ctx, sweep.txid, rate, "op"); err != nil {
		t.Fatalf("bump once the top-up is cancelled: %v", err)
	}
	e.step()
	if n := e.Count(`SELECT count(*) FROM btc.batches WHERE replaces = $1 AND state = 'broadcast'`, id); n != 1 {
		t.Fatal("the sweep was not bumped once its top-up was cancelled")
	}
	e.Mine(1)
	e.step()
	if got := e.batch(id); got.state != Replaced {
		t.Fatalf("the first version after its bump confirmed: %s", got.state)
	}
	e.invariants()
	e.walletsBooked()
}
