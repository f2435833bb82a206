package batcher

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/withdrawals"
)

// lostSends wraps the real node and loses the first n sendrawtransaction
// requests before they reach it, as a connection cut before the request
// was read would.
type lostSends struct {
	chain.Node
	n atomic.Int32
}

func (l *lostSends) Broadcast(ctx context.Context, tx *wire.MsgTx) (h chainhash.Hash, err error) {
	if l.n.Add(-1) >= 0 {
		return h, errors.New("connection reset by peer (injected)")
	}
	return l.Node.Broadcast(ctx, tx)
}

func (l *lostSends) EstimateFeeRate(ctx context.Context, blocks int) (int64, error) {
	return l.Node.(chain.FeeEstimator).EstimateFeeRate(ctx, blocks)
}

// An operator abandons a batch the node never received. Its withdrawals are
// paid again only by a transaction that spends its inputs, so the two
// conflict: after the replacement is mined, the abandoned bytes are
// refused by the node, and the chain pays each withdrawal exactly once.
func TestAbandonedBatchIsPaidAgainOnlyByAConflictingTransaction(t *testing.T) {
	lost := &lostSends{}
	lost.n.Store(1 << 20)
	e := newEnvWith(t, Config{ThresholdCount: 2}, func(n chain.Node) chain.Node { lost.Node = n; return lost })
	e.Fund("erin", 1_000_000, 800_000)
	dests := []string{outside(t, 21), outside(t, 22)}
	ws := []withdrawals.Withdrawal{e.Request("erin", dests[0], 600_000), e.Request("erin", dests[1], 500_000)}
	e.step()
	var first struct {
		id, record int64
		raw        []byte
	}
	if err := e.Runner.Pool().QueryRow(e.Ctx, `SELECT b.id, r.id, r.raw_tx FROM btc.batches b JOIN btc.broadcasts r ON r.txid = b.txid
		WHERE r.closed_at IS NULL`).Scan(&first.id, &first.record, &first.raw); err != nil {
		t.Fatalf("the first batch's record is not open: %v", err)
	}
	// The replacement rule holds in the database too: a batch paying these
	// withdrawals without spending an input of the first is refused.
	if _, err := e.Runner.Pool().Exec(e.Ctx, `WITH b AS (INSERT INTO btc.batches (state, txid, psbt, fee, fee_rate, vsize, locktime)
			VALUES ('reserved', '\x`+string(bytes.Repeat([]byte("ab"), 32))+`', '\x00', 1000, 1000, 200, 0) RETURNING id)
		INSERT INTO btc.batch_withdrawals (batch_id, withdrawal_id, vout) SELECT b.id, $1, 0 FROM b`, ws[0].ID); err == nil ||
		!strings.Contains(err.Error(), "without spending an input of batch") {
		t.Fatalf("a second batch paying a withdrawal without conflicting with the first: %v", err)
	}
	// Nothing is built again while the first is merely unresolved.
	e.step()
	if n := e.Count(`SELECT count(*) FROM btc.batches`); n != 1 {
		t.Fatalf("%d batches while the first is unresolved", n)
	}
	if _, err := e.BC.Abandon(e.Ctx, first.record, "test-operator"); err != nil {
		t.Fatalf("abandon: %v", err)
	}
	lost.n.Store(0)
	e.step()
	var second struct {
		id       int64
		replaces *int64
	}
	if err := e.Runner.Pool().QueryRow(e.Ctx, `SELECT id, replaces FROM btc.batches WHERE id <> $1`, first.id).Scan(&second.id, &second.replaces); err != nil {
		t.Fatalf("no replacement: %v", err)
	}
	if second.replaces == nil || *second.replaces != first.id {
		t.Fatalf("batch %d replaces %v, want %d", second.id, second.replaces, first.id)
	}
	if n := e.Count(`SELECT count(*) FROM btc.batch_inputs a JOIN btc.batch_inputs b ON a.txid = b.txid AND a.vout = b.vout
		WHERE a.batch_id = $1 AND b.batch_id = $2`, first.id, second.id); n == 0 {
		t.Fatal("the replacement spends no input of the abandoned batch")
	}
	e.Mine(1)
	e.step()
	for i, w := range ws {
		if got := e.Withdrawal(w.ID); got.State != withdrawals.Confirmed || *got.BatchID != second.id {
			t.Fatalf("withdrawal %d: %+v", w.ID, got)
		}
		if c, m := e.PaidOnChain(dests[i], w.Amount); c != 1 || m != 0 {
			t.Fatalf("withdrawal %d: paid %d times on the chain, %d in the mempool", w.ID, c, m)
		}
	}
	// The abandoned bytes can never pay them again.
	var old wire.MsgTx
	if err := old.Deserialize(bytes.NewReader(first.raw)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Chain.Broadcast(e.Ctx, &old); err == nil {
		t.Fatal("the node accepted the abandoned transaction after its replacement was mined")
	}
	e.Mine(1)
	for i, w := range ws {
		if c, _ := e.PaidOnChain(dests[i], w.Amount); c != 1 {
			t.Fatalf("withdrawal %d paid %d times", w.ID, c)
		}
	}
	e.invariants()
	if hot, coins := e.hotBalance(), e.unspentHot(); hot != -coins {
		t.Fatalf("hot wallet ledger %d, unspent hot coins %d", hot, coins)
	}
}
