package batcher

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"

	"github.com/cryptoassets/cryptoassets/internal/chainscan"
	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/storetest"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/addresses"
	"github.com/cryptoassets/cryptoassets/online/audit"
	"github.com/cryptoassets/cryptoassets/online/broadcast"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/deposits"
	"github.com/cryptoassets/cryptoassets/online/hotwallet"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/store"
	"github.com/cryptoassets/cryptoassets/online/withdrawals"
	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var regtest = &chaincfg.RegressionNetParams

// env is one asset's money-out stack on a real regtest node and a real
// PostgreSQL: follower, broadcaster, withdrawal requests and the batcher.
type env struct {
	t        *testing.T
	ctx      context.Context
	node     *devenv.Btcd
	chain    *chain.RPCNode
	faucet   *devenv.Faucet
	runner   *store.Runner
	ledger   *ledger.Ledger
	issuer   *addresses.Issuer
	signer   *hotwallet.Signer
	follower *deposits.Follower
	bc       *broadcast.Broadcaster
	w        *withdrawals.Service
	b        *Batcher
}

func newEnv(t *testing.T, cfg Config) *env { return newEnvWith(t, cfg, nil) }

// newEnvWith is newEnv with the broadcaster and the batcher talking to the
// node through wrap (to inject a fault a real node cannot produce).
func newEnvWith(t *testing.T, cfg Config, wrap func(chain.Node) chain.Node) *env {
	t.Helper()
	e := &env{t: t, ctx: testenv.Ctx(t, 5*time.Minute)}
	e.node = testenv.NewNode(t, devenv.BtcdOptions{})
	e.chain = chain.NewRPCNode(e.node.Client)
	e.faucet = devenv.NewFaucet(e.chain)
	e.runner = storetest.Runner(t, 8, "btc")
	var err error
	if e.ledger, err = ledger.New(e.runner, "btc"); err != nil {
		t.Fatal(err)
	}
	m, err := hdkeys.NewMaster(bytes.Repeat([]byte{7}, 64), regtest)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := m.Account(hdkeys.P2WPKH, 0)
	if err != nil {
		t.Fatal(err)
	}
	if e.signer, err = hotwallet.New(m, acct); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.signer.Close)
	key, err := addresses.ParseKey(acct.Descriptor(), regtest)
	if err != nil {
		t.Fatal(err)
	}
	if e.issuer, err = addresses.NewIssuer(e.ctx, e.ledger, key); err != nil {
		t.Fatal(err)
	}
	tip, _, err := e.chain.Tip(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.follower = deposits.NewFollower(e.ledger, e.chain, deposits.Config{Confirmations: 1, StartHeight: tip}, nil)
	var sender chain.Node = e.chain
	if wrap != nil {
		sender = wrap(e.chain)
	}
	if e.bc, err = broadcast.New(e.runner, "btc", sender, nil); err != nil {
		t.Fatal(err)
	}
	if e.w, err = withdrawals.New(e.ledger, withdrawals.Config{Params: regtest}); err != nil {
		t.Fatal(err)
	}
	cfg.Confirmations = max(cfg.Confirmations, 1)
	cfg.CoinConfirmations = max(cfg.CoinConfirmations, 1)
	if cfg.ThresholdCount == 0 {
		cfg.ThresholdCount = 1
	}
	if e.b, err = New(e.ledger, sender, e.issuer, e.signer, e.bc, cfg, nil); err != nil {
		t.Fatal(err)
	}
	e.sync()
	return e
}

func (e *env) sync() {
	e.t.Helper()
	if err := e.follower.SyncToTip(e.ctx); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) mine(n int) {
	e.t.Helper()
	if _, err := e.node.Generate(e.ctx, n); err != nil {
		e.t.Fatal(err)
	}
	e.sync()
}

// fund gives a customer account a credited deposit of each amount.
func (e *env) fund(account string, amounts ...int64) {
	e.t.Helper()
	if _, err := e.ledger.CreateAccount(e.ctx, account); err != nil && !errors.Is(err, ledger.ErrAccountExists) {
		e.t.Fatal(err)
	}
	var pays []devenv.Payment
	for _, a := range amounts {
		addrs, err := e.issuer.NewAddresses(e.ctx, account, "", 1)
		if err != nil {
			e.t.Fatal(err)
		}
		pays = append(pays, devenv.Payment{Address: addrs[0].Address, Amount: a})
	}
	if _, err := e.faucet.Pay(e.ctx, pays...); err != nil {
		e.t.Fatal(err)
	}
	e.mine(1)
}

// outside is an address of nobody in this service.
func outside(t *testing.T, i byte) string {
	t.Helper()
	a, err := btcutil.NewAddressWitnessPubKeyHash(bytes.Repeat([]byte{i}, 20), regtest)
	if err != nil {
		t.Fatal(err)
	}
	return a.EncodeAddress()
}

func (e *env) request(account, address string, amount int64) withdrawals.Withdrawal {
	e.t.Helper()
	w, err := e.w.Request(e.ctx, withdrawals.Request{Account: account, Address: address, Amount: amount})
	if err != nil {
		e.t.Fatal(err)
	}
	return w
}

func (e *env) step() {
	e.t.Helper()
	if err := e.b.Step(e.ctx); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) withdrawal(id int64) withdrawals.Withdrawal {
	e.t.Helper()
	w, err := e.w.Get(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return w
}

// paidOnChain counts, by scanning every block of the node, the outputs
// paying address exactly amount.
func (e *env) paidOnChain(address string, amount int64) (confirmed, mempool int) {
	e.t.Helper()
	s, err := chainscan.EveryBlock(e.ctx, e.chain)
	if err != nil {
		e.t.Fatal(err)
	}
	script, err := chainscan.AddressScript(address, regtest)
	if err != nil {
		e.t.Fatal(err)
	}
	return s.Confirmed(script, amount), s.Unconfirmed(script, amount)
}

func (e *env) count(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.runner.Pool().QueryRow(e.ctx, q, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// invariants: the ledger balances, no coin is in two live batches, and the
// hot wallet's ledger account equals minus the coins it stands for once
// nothing is in flight.
func (e *env) invariants() {
	e.t.Helper()
	if err := e.ledger.Check(e.ctx); err != nil {
		e.t.Fatal(err)
	}
	// The ledger against the chain: every coin, every output to us, and the
	// internal accounts against the coins they stand for.
	e.sync()
	a, err := audit.New(e.runner, "btc", e.chain, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := a.Verify(e.ctx); err != nil {
		e.t.Fatal(err)
	}
	if n := e.count(`SELECT count(*) FROM (SELECT i.txid, i.vout FROM btc.batch_inputs i JOIN btc.batches b ON b.id = i.batch_id
		WHERE b.state NOT IN ('dead', 'replaced', 'rejected', 'abandoned', 'cancelled', 'expired') GROUP BY 1, 2 HAVING count(*) > 1) x`); n != 0 {
		e.t.Fatalf("%d coins are in more than one live batch", n)
	}
	if n := e.count(`SELECT count(*) FROM (SELECT withdrawal_id FROM btc.batch_withdrawals bw JOIN btc.batches b ON b.id = bw.batch_id
		WHERE b.state IN ('broadcast', 'confirmed') GROUP BY 1 HAVING count(*) > 1) x`); n != 0 {
		e.t.Fatalf("%d withdrawals are paid by more than one accepted batch", n)
	}
}

// hotBalance is the hot wallet's ledger balance (minus the coins it holds).
func (e *env) hotBalance() int64 {
	e.t.Helper()
	var v int64
	if err := e.runner.Pool().QueryRow(e.ctx, `SELECT coalesce(sum(b.available), 0)::bigint FROM btc.balances b JOIN btc.accounts a ON a.id = b.account_id WHERE a.kind = 'hot_wallet'`).Scan(&v); err != nil {
		e.t.Fatal(err)
	}
	return v
}

func (e *env) unspentHot() int64 {
	e.t.Helper()
	var v int64
	if err := e.runner.Pool().QueryRow(e.ctx, `SELECT coalesce(sum(amount), 0)::bigint FROM btc.coins WHERE wallet_id = 1 AND spent_by IS NULL`).Scan(&v); err != nil {
		e.t.Fatal(err)
	}
	return v
}

// Withdrawals requested through the service are batched into one
// transaction, signed, broadcast, mined and booked: each destination is
// paid exactly once on the chain, events follow the states, and the hot
// wallet's ledger account equals its coins afterwards.
func TestWithdrawalsBatchedSignedBroadcastConfirmed(t *testing.T) {
	e := newEnv(t, Config{ThresholdCount: 3})
	e.fund("alice", 2_000_000, 1_500_000)
	e.fund("bob", 900_000)
	dests := []string{outside(t, 1), outside(t, 2), outside(t, 3)}
	ws := []withdrawals.Withdrawal{
		e.request("alice", dests[0], 1_200_000),
		e.request("alice", dests[1], 700_000),
		e.request("bob", dests[2], 300_000),
	}
	e.step()
	if n := e.count(`SELECT count(*) FROM btc.batches`); n != 1 {
		t.Fatalf("%d batches for 3 withdrawals", n)
	}
	for _, w := range ws {
		if got := e.withdrawal(w.ID); got.State != withdrawals.Broadcast || got.BatchID == nil {
			t.Fatalf("withdrawal %d after the batch: %+v", w.ID, got)
		}
	}
	e.mine(1)
	e.step()
	for i, w := range ws {
		if got := e.withdrawal(w.ID); got.State != withdrawals.Confirmed {
			t.Fatalf("withdrawal %d after a block: %s", w.ID, got.State)
		}
		if c, m := e.paidOnChain(dests[i], w.Amount); c != 1 || m != 0 {
			t.Fatalf("withdrawal %d: paid %d times on the chain, %d in the mempool", w.ID, c, m)
		}
	}
	// Confirmed with the rest of the stack: nothing more happens.
	e.mine(2)
	e.step()
	e.step()
	if n := e.count(`SELECT count(*) FROM btc.batches`); n != 1 {
		t.Fatalf("%d batches after more steps", n)
	}
	for _, typ := range []string{EventWithdrawalBatched, EventWithdrawalBroadcast, EventWithdrawalConfirmed} {
		if n := e.count(`SELECT count(*) FROM public.events WHERE type = $1`, typ); n != 3 {
			t.Fatalf("%d %s events, want 3", n, typ)
		}
	}
	e.invariants()
	if hot, coins := e.hotBalance(), e.unspentHot(); hot != -coins {
		t.Fatalf("hot wallet ledger %d, unspent hot coins %d", hot, coins)
	}
	if pending := e.count(`SELECT coalesce(sum(b.available), 0)::int FROM btc.balances b JOIN btc.accounts a ON a.id = b.account_id WHERE a.kind = 'withdrawals_pending'`); pending != 0 {
		t.Fatalf("withdrawals_pending holds %d after every withdrawal confirmed", pending)
	}
	// The batch's transaction has the skeleton the rules ask for.
	var raw []byte
	if err := e.runner.Pool().QueryRow(e.ctx, `SELECT raw_tx FROM btc.broadcasts WHERE kind = 'withdrawal'`).Scan(&raw); err != nil {
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
	e.fund("carol", 500_000)
	// The ledger lets carol ask for what she has; move coins out from
	// under the hot wallet by paying a first withdrawal of almost all.
	w := e.request("carol", outside(t, 4), 499_000)
	e.step()
	e.step()
	if got := e.withdrawal(w.ID); got.State != withdrawals.Requested {
		t.Fatalf("state %s: a batch was built without the fee", got.State)
	}
	if n := e.count(`SELECT count(*) FROM btc.batches`); n != 0 {
		t.Fatalf("%d batches", n)
	}
	if n := e.count(`SELECT count(*) FROM btc.coins WHERE reserved_by IS NOT NULL`); n != 0 {
		t.Fatalf("%d coins reserved", n)
	}
	if n := e.count(`SELECT count(*) FROM public.events WHERE type = $1`, EventBatchNotBuilt); n != 1 {
		t.Fatalf("%d batch.not_built events, want 1", n)
	}
	e.invariants()
}
