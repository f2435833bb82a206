package batcher

import (
	"testing"

	"github.com/btcsuite/btcd/btcutil"

	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/audit"
	"github.com/cryptoassets/cryptoassets/online/batcher/batchertest"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/withdrawals"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var regtest = batchertest.Regtest

// outside is an address of nobody in this service.
var outside = batchertest.Outside

// env is one asset's money-out stack on a real regtest node and a real
// PostgreSQL (batchertest.Stack: follower, broadcaster, withdrawal
// requests) with the batcher under test on top.
type env struct {
	t *testing.T
	*batchertest.Stack
	b *Batcher
}

func newEnv(t *testing.T, cfg Config) *env { return newEnvWith(t, cfg, nil) }

// newEnvWith is newEnv with the broadcaster and the batcher talking to the
// node through wrap (to inject a fault a real node cannot produce).
func newEnvWith(t *testing.T, cfg Config, wrap func(chain.Node) chain.Node) *env {
	t.Helper()
	e := &env{t: t, Stack: batchertest.New(t, batchertest.Options{Wrap: wrap})}
	cfg.Confirmations = max(cfg.Confirmations, 1)
	cfg.CoinConfirmations = max(cfg.CoinConfirmations, 1)
	if cfg.ThresholdCount == 0 {
		cfg.ThresholdCount = 1
	}
	var err error
	if e.b, err = New(e.Ledger, e.Sender, e.Issuer, e.Signer, e.BC, cfg, nil); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) step() {
	e.t.Helper()
	if err := e.b.Step(e.Ctx); err != nil {
		e.t.Fatal(err)
	}
}

// invariants: the ledger balances, no coin is in two live batches, and the
// hot wallet's ledger account equals minus the coins it stands for once
// nothing is in flight.
func (e *env) invariants() {
	e.t.Helper()
	if err := e.Ledger.Check(e.Ctx); err != nil {
		e.t.Fatal(err)
	}
	// The ledger against the chain: every coin, every output to us, and the
	// internal accounts against the coins they stand for.
	e.Sync()
	a, err := audit.New(e.Runner, "btc", e.Chain, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := a.Verify(e.Ctx); err != nil {
		e.t.Fatal(err)
	}
	if n := e.Count(`SELECT count(*) FROM (SELECT i.txid, i.vout FROM btc.batch_inputs i JOIN btc.batches b ON b.id = i.batch_id
		WHERE b.state NOT IN ('dead', 'replaced', 'rejected', 'abandoned', 'cancelled', 'expired') GROUP BY 1, 2 HAVING count(*) > 1) x`); n != 0 {
		e.t.Fatalf("%d coins are in more than one live batch", n)
	}
	if n := e.Count(`SELECT count(*) FROM (SELECT withdrawal_id FROM btc.batch_withdrawals bw JOIN btc.batches b ON b.id = bw.batch_id
		WHERE b.state IN ('broadcast', 'confirmed') GROUP BY 1 HAVING count(*) > 1) x`); n != 0 {
		e.t.Fatalf("%d withdrawals are paid by more than one accepted batch", n)
	}
}

// availableSQL sums the available balances of the internal accounts of a
// kind; unspentSQL sums the unspent coins of wallet 1 (hot) or 2 (cold).
const (
	availableSQL = `SELECT coalesce(sum(b.available), 0)::bigint FROM btc.balances b JOIN btc.accounts a ON a.id = b.account_id WHERE a.kind = $1`
	unspentSQL   = `SELECT coalesce(sum(amount), 0)::bigint FROM btc.coins WHERE wallet_id = $1 AND spent_by IS NULL`
)

// hotBalance is the hot wallet's ledger balance (minus the coins it holds).
func (e *env) hotBalance() int64 { e.t.Helper(); return e.Sum(availableSQL, "hot_wallet") }

func (e *env) unspentHot() int64 { e.t.Helper(); return e.Sum(unspentSQL, 1) }

// Withdrawals requested through the service are batched into one
// transaction, signed, broadcast, mined and booked: each destination is
// paid exactly once on the chain, events follow the states, and the hot
// wallet's ledger account equals its coins afterwards.
func TestWithdrawalsBatchedSignedBroadcastConfirmed(t *testing.T) {
	e := newEnv(t, Config{ThresholdCount: 3})
	e.Fund("alice", 2_000_000, 1_500_000)
	e.Fund("bob", 900_000)
	dests := []string{outside(t, 1), outside(t, 2), outside(t, 3)}
	ws := []withdrawals.Withdrawal{
		e.Request("alice", dests[0], 1_200_000),
		e.Request("alice", dests[1], 700_000),
		e.Request("bob", dests[2], 300_000),
	}
	e.step()
	if n := e.Count(`SELECT count(*) FROM btc.batches`); n != 1 {
		t.Fatalf("%d batches for 3 withdrawals", n)
	}
	for _, w := range ws {
		if got := e.Withdrawal(w.ID); got.State != withdrawals.Broadcast || got.BatchID == nil {
			t.Fatalf("withdrawal %d after the batch: %+v", w.ID, got)
		}
	}
	e.Mine(1)
	e.step()
	for i, w := range ws {
		if got := e.Withdrawal(w.ID); got.State != withdrawals.Confirmed {
			t.Fatalf("withdrawal %d after a block: %s", w.ID, got.State)
		}
		if c, m := e.PaidOnChain(dests[i], w.Amount); c != 1 || m != 0 {
			t.Fatalf("withdrawal %d: paid %d times on the chain, %d in the mempool", w.ID, c, m)
		}
	}
	// Confirmed with the rest of the stack: nothing more happens.
	e.Mine(2)
	e.step()
	e.step()
	if n := e.Count(`SELECT count(*) FROM btc.batches`); n != 1 {
		t.Fatalf("%d batches after more steps", n)
	}
	for _, typ := range []string{EventWithdrawalBatched, EventWithdrawalBroadcast, EventWithdrawalConfirmed} {
		if n := e.Count(`SELECT count(*) FROM public.events WHERE type = $1`, typ); n != 3 {
			t.Fatalf("%d %s events, want 3", n, typ)
		}
	}
	e.invariants()
	if hot, coins := e.hotBalance(), e.unspentHot(); hot != -coins {
		t.Fatalf("hot wallet ledger %d, unspent hot coins %d", hot, coins)
	}
	if pending := e.Sum(availableSQL, "withdrawals_pending"); pending != 0 {
		t.Fatalf("withdrawals_pending holds %d after every withdrawal confirmed", pending)
	}
	// The batch's transaction has the skeleton the rules ask for.
	var raw []byte
	if err := e.Runner.Pool().QueryRow(e.Ctx, `SELECT raw_tx FROM btc.broadcasts WHERE kind = 'withdrawal'`).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	tx, err := btcutil.NewTxFromBytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	if tx.MsgTx().Version != 2 || tx.MsgTx().LockTime == 0 {
		t.Fatalf("version %d, locktime %d", tx.MsgTx().Version, tx.MsgTx().LockTime)
	}
	for i, in := range tx.MsgTx().TxIn {
		if in.Sequence != 0xfffffffd {
			t.Fatalf("input %d sequence %x: not signalling RBF", i, in.Sequence)
		}
	}
}

// A withdrawal larger than what the hot wallet can spend is not batched:
// a batch.not_built event says why, once, and nothing is reserved.
func TestBatchNotBuiltWhenTheHotWalletCannotPay(t *testing.T) {
	e := newEnv(t, Config{})
	e.Fund("carol", 500_000)
	// The ledger lets carol ask for what she has; move coins out from
	// under the hot wallet by paying a first withdrawal of almost all.
	w := e.Request("carol", outside(t, 4), 499_000)
	e.step()
	e.step()
	if got := e.Withdrawal(w.ID); got.State != withdrawals.Requested {
		t.Fatalf("state %s: a batch was built without the fee", got.State)
	}
	if n := e.Count(`SELECT count(*) FROM btc.batches`); n != 0 {
		t.Fatalf("%d batches", n)
	}
	if n := e.Count(`SELECT count(*) FROM btc.coins WHERE reserved_by IS NOT NULL`); n != 0 {
		t.Fatalf("%d coins reserved", n)
	}
	if n := e.Count(`SELECT count(*) FROM public.events WHERE type = $1`, EventBatchNotBuilt); n != 1 {
		t.Fatalf("%d batch.not_built events, want 1", n)
	}
	e.invariants()
}
