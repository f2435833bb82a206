package batcher

import (
	"errors"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/chainhash"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/withdrawals"
)

type batchRow struct {
	id    int64
	state string
	txid  chainhash.Hash
	fee   int64
	rate  int64
}

func (e *env) batches() []batchRow {
	e.t.Helper()
	rows, err := e.Runner.Pool().Query(e.Ctx, `SELECT id, state, txid, fee, fee_rate FROM btc.batches ORDER BY id`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []batchRow
	for rows.Next() {
		var r batchRow
		var txid []byte
		if err := rows.Scan(&r.id, &r.state, &txid, &r.fee, &r.rate); err != nil {
			e.t.Fatal(err)
		}
		r.txid = chainhash.Hash(txid)
		out = append(out, r)
	}
	return out
}

func (e *env) inMempool(txid chainhash.Hash) bool {
	e.t.Helper()
	ids, err := e.Chain.MempoolTxids(e.Ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, id := range ids {
		if id == txid {
			return true
		}
	}
	return false
}

func (e *env) networkFees() int64 { e.t.Helper(); return e.Sum(availableSQL, "network_fees") }

// An operator bumps a stuck batch: the replacement pays the same
// withdrawals at a higher rate from the change, the node swaps it in, and
// when it confirms the old version becomes replaced and the ledger books
// the fee of the version that confirmed. Bumps that cannot be made are
// refused with the reason and change nothing.
func TestOperatorFeeBumpReplacesTheBatchAndBooksTheFeeThatConfirmed(t *testing.T) {
	e := newEnv(t, Config{DeadlineBlocks: -1, MaxFee: 100_000})
	e.Fund("fay", 2_000_000)
	dest := outside(t, 41)
	w := e.Request("fay", dest, 800_000)
	e.step()
	bs := e.batches()
	if len(bs) != 1 || bs[0].state != Broadcast {
		t.Fatalf("batches %+v", bs)
	}
	first := bs[0]
	for _, tc := range []struct {
		name string
		txid chainhash.Hash
		rate int64
		want error
	}{
		{"a lower rate", first.txid, first.rate - 1000, ErrCannotBump},
		{"the same rate", first.txid, first.rate, ErrCannotBump},
		{"over the budget", first.txid, 1_000_000, ErrCannotBump},
		{"an unknown transaction", chainhash.Hash{1}, first.rate * 2, ErrNotBumpable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := e.b.RequestBump(e.Ctx, tc.txid, tc.rate, "op"); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if n := e.Count(`SELECT count(*) FROM btc.batches WHERE bump_fee_rate IS NOT NULL`); n != 0 {
				t.Fatal("a refused bump was recorded")
			}
		})
	}
	bumped := first.rate*2 + 1000
	if _, err := e.b.RequestBump(e.Ctx, first.txid, bumped, "op"); err != nil {
		t.Fatal(err)
	}
	e.step()
	bs = e.batches()
	if len(bs) != 2 || bs[1].state != Broadcast || bs[1].rate != bumped || bs[1].fee <= first.fee {
		t.Fatalf("after the bump: %+v", bs)
	}
	second := bs[1]
	if e.inMempool(first.txid) || !e.inMempool(second.txid) {
		t.Fatalf("mempool: first %v, second %v; want the replacement only", e.inMempool(first.txid), e.inMempool(second.txid))
	}
	if got := e.Withdrawal(w.ID); got.State != withdrawals.Broadcast || *got.BatchID != second.id {
		t.Fatalf("withdrawal after the bump: %+v", got)
	}
	feesBefore := e.networkFees()
	e.Mine(1)
	e.step()
	e.step()
	bs = e.batches()
	if bs[0].state != Replaced || bs[1].state != Confirmed {
		t.Fatalf("after the block: %+v", bs)
	}
	if got := e.Withdrawal(w.ID); got.State != withdrawals.Confirmed || *got.BatchID != second.id {
		t.Fatalf("withdrawal: %+v", got)
	}
	if got := feesBefore - e.networkFees(); got != second.fee {
		t.Fatalf("network fees booked %d, the confirmed version paid %d", got, second.fee)
	}
	if c, m := e.PaidOnChain(dest, w.Amount); c != 1 || m != 0 {
		t.Fatalf("paid %d times on the chain, %d in the mempool", c, m)
	}
	if _, err := e.b.RequestBump(e.Ctx, second.txid, bumped*2, "op"); !errors.Is(err, ErrNotBumpable) {
		t.Fatalf("bumping a confirmed batch: %v", err)
	}
	if n := e.Count(`SELECT count(*) FROM public.events WHERE type = $1`, EventBatchBumped); n != 1 {
		t.Fatalf("%d batch.bumped events", n)
	}
	e.invariants()
	if hot, coins := e.hotBalance(), e.unspentHot(); hot != -coins {
		t.Fatalf("hot wallet ledger %d, unspent hot coins %d", hot, coins)
	}
}

// While a batch waits in the mempool, blocks that leave it out raise its
// rate along the line from its first rate to its budget: one bump per
// block, each under the budget, the last at the budget's rate by the
// deadline.
func TestAutomaticBumpRaisesTheRateEachBlockWithinTheBudget(t *testing.T) {
	e := newEnv(t, Config{DeadlineBlocks: 2, MaxFee: 20_000})
	other := testenv.NewNode(t, devenv.BtcdOptions{NoMine: true})
	otherChain := chain.NewRPCNode(other.Client)
	e.Peer(other, true)
	e.WaitFor("the second node to sync", func() bool { return e.SameTip(e.Chain, otherChain) })
	e.Fund("gus", 3_000_000)
	e.WaitFor("sync", func() bool { return e.SameTip(e.Chain, otherChain) })
	dest := outside(t, 51)
	w := e.Request("gus", dest, 1_000_000)
	e.Peer(other, false)
	e.step()
	// Blocks without the batch: mined by the other node, which never saw it.
	for round := 1; round <= 5; round++ {
		if _, err := other.Generate(e.Ctx, 1); err != nil {
			t.Fatal(err)
		}
		e.Peer(other, true)
		e.WaitFor("the other node's block", func() bool { return e.SameTip(e.Chain, otherChain) })
		e.Peer(other, false)
		e.Sync()
		e.step()
	}
	bs := e.batches()
	if len(bs) != 3 {
		t.Fatalf("%d versions after 5 blocks with a 2-block deadline, want 3 (the first, then one per block until the budget, then none): %+v", len(bs), bs)
	}
	for i := 1; i < len(bs); i++ {
		if bs[i].rate <= bs[i-1].rate || bs[i].fee <= bs[i-1].fee {
			t.Fatalf("version %d does not pay more than %d: %+v", i, i-1, bs)
		}
		if bs[i].fee > 20_000 {
			t.Fatalf("version %d pays %d, over the 20000 sat budget", i, bs[i].fee)
		}
	}
	last := bs[len(bs)-1]
	// The line stops at the budget: the last version pays it, to within
	// the rounding of one rate step, and never more.
	if last.fee < 20_000-200 {
		t.Fatalf("the last version pays %d, short of the 20000 sat budget the line ends at by the deadline", last.fee)
	}
	// An operator cannot take the chain past the budget either.
	if _, err := e.b.RequestBump(e.Ctx, last.txid, last.rate*2, "op"); !errors.Is(err, ErrCannotBump) {
		t.Fatalf("a bump over the budget: %v", err)
	}
	if !e.inMempool(last.txid) {
		t.Fatal("the newest version is not in the mempool")
	}
	e.Mine(1)
	e.step()
	e.step()
	if got := e.Withdrawal(w.ID); got.State != withdrawals.Confirmed {
		t.Fatalf("withdrawal: %s", got.State)
	}
	if c, _ := e.PaidOnChain(dest, w.Amount); c != 1 {
		t.Fatalf("paid %d times on the chain", c)
	}
	e.invariants()
}
