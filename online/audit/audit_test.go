package audit

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/storetest"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/batcher"
	"github.com/cryptoassets/cryptoassets/online/batcher/batchertest"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var regtest = batchertest.Regtest

// outside is an address of nobody in this service.
var outside = batchertest.Outside

// flatFee is the withdrawal fee the env's customers pay (to network_fees).
const flatFee = 1_000

// minDeposit: smaller outputs to a customer address are ignored deposits
// (coins no ledger posting stands for: surplus).
const minDeposit = 10_000

// env is a whole money-out stack on a real regtest node and a real
// PostgreSQL (batchertest.Stack with the batcher on top), with an auditor.
type env struct {
	t *testing.T
	*batchertest.Stack
	b *batcher.Batcher
	a *Auditor
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, Stack: batchertest.New(t, batchertest.Options{MinDeposit: minDeposit, FeeSat: flatFee})}
	var err error
	if e.b, err = batcher.New(e.Ledger, e.Chain, e.Issuer, e.Signer, e.BC, batcher.Config{Confirmations: 1, CoinConfirmations: 1, ThresholdCount: 1}, nil); err != nil {
		t.Fatal(err)
	}
	if e.a, err = New(e.Runner, "btc", e.Chain, nil); err != nil {
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

// rescan runs `cryptoassets rescan --from-height H` (in process), H read
// by the query.
func (e *env) rescan(heightQuery string) {
	e.t.Helper()
	var h int32
	if err := e.Runner.Pool().QueryRow(e.Ctx, heightQuery).Scan(&h); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.Follower.Rescan(e.Ctx, h, nil); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) audit() *Result {
	e.t.Helper()
	r, err := e.a.Audit(e.Ctx, Options{FromHeight: -1})
	if err != nil {
		e.t.Fatal(err)
	}
	if !r.Settled {
		e.t.Fatalf("audit not settled: %s", r.Unsettled)
	}
	return r
}

// subjects lists what the mismatches name.
func subjects(r *Result) []string {
	var s []string
	for _, m := range r.Mismatches {
		s = append(s, m.Subject())
	}
	slices.Sort(s)
	return s
}

func (e *env) requireClean(r *Result) {
	e.t.Helper()
	if err := e.a.Verify(e.Ctx); err != nil {
		e.t.Fatal(err)
	}
	if !r.OK() {
		var d []string
		for _, m := range r.Mismatches {
			d = append(d, m.Subject()+": "+m.Detail)
		}
		e.t.Fatalf("the audit found %d mismatches:\n  %s", len(r.Mismatches), strings.Join(d, "\n  "))
	}
	if err := e.Ledger.Check(e.Ctx); err != nil {
		e.t.Fatal(err)
	}
}

// outpoint reads the (txid, vout) the query selects.
func (e *env) outpoint(q string, args ...any) wire.OutPoint {
	e.t.Helper()
	var txid []byte
	var vout int32
	if err := e.Runner.Pool().QueryRow(e.Ctx, q, args...).Scan(&txid, &vout); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	return wire.OutPoint{Hash: chainhash.Hash(txid), Index: uint32(vout)}
}

// stray posts sat from the account named from to the one named to,
// behind the ledger's back: a tampered entry.
func (e *env) stray(from, to string, sat int64) {
	e.t.Helper()
	e.Exec(`WITH t AS (INSERT INTO btc.ledger_transactions (kind, memo) VALUES ('tampered', '') RETURNING id)
		INSERT INTO btc.ledger_entries (tx_id, account_id, slot, available_delta, pending_delta)
		SELECT t.id, a.id, 0, v.d, 0 FROM t, (VALUES ($1::text, $3::bigint), ($2::text, -$3::bigint)) AS v(name, d)
		JOIN btc.accounts a ON a.name = v.name`, from, to, sat)
}

// strayed is stray as a tampering step, or its undoing.
func (e *env) strayed(from, to string, sat int64) func() {
	return func() { e.stray(from, to, sat) }
}

// A tamperCase changes the stored books behind the service's back, and
// undoes it; the audit names exactly want in between, its first
// mismatch's detail saying wantDetail when given.
type tamperCase struct {
	name       string
	tamper     func()
	undo       func()
	want       []string
	wantDetail string
}

// tamperEach runs each case as a subtest: tampered, audited, undone, and
// audited clean again. Table public.saved_coins holds the coin rows a case
// takes away, for its undoing; it is emptied before each case.
func (e *env) tamperEach(t *testing.T, cases []tamperCase) {
	e.Exec(`CREATE TABLE public.saved_coins (LIKE btc.coins)`)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.Exec(`DELETE FROM public.saved_coins`)
			c.tamper()
			r := e.audit()
			if got := subjects(r); !slices.Equal(got, c.want) {
				t.Errorf("mismatches %q, want %q", got, c.want)
			}
			if c.wantDetail != "" && !strings.Contains(r.Mismatches[0].Detail, c.wantDetail) {
				t.Errorf("detail %q does not say %q", r.Mismatches[0].Detail, c.wantDetail)
			}
			c.undo()
			if r := e.audit(); !r.OK() {
				t.Fatalf("still %q after undoing", subjects(r))
			}
		})
	}
}

// busy builds a history with every kind of posting: credited deposits, a
// seen deposit, an ignored dust output, a confirmed batch, a batch in
// flight, a cancelled withdrawal and an internal transfer. It returns the
// txid of the confirmed batch.
func (e *env) busy() chainhash.Hash {
	e.t.Helper()
	e.Pay("alice", 3_000_000, 1_000_000)
	e.Pay("bob", 2_000_000)
	e.Mine(1)
	e.Pay("alice", 5_000) // below minDeposit: an ignored output, surplus
	e.Mine(1)

	// A confirmed batch, booked.
	e.Request("alice", outside(e.t, 1), 1_200_000)
	e.step()
	e.Mine(1)
	e.step()
	var confirmed []byte
	if err := e.Runner.Pool().QueryRow(e.Ctx, `SELECT txid FROM btc.batches WHERE state = 'confirmed'`).Scan(&confirmed); err != nil {
		e.t.Fatalf("no confirmed batch: %v", err)
	}
	// A cancelled withdrawal (refunded with its fee) and an internal one.
	c := e.Request("bob", outside(e.t, 2), 100_000)
	if _, err := e.W.Cancel(e.Ctx, c.ID); err != nil {
		e.t.Fatal(err)
	}
	if w := e.Request("bob", e.Address("carol"), 50_000); !w.Internal {
		e.t.Fatalf("a withdrawal to carol's address is not internal: %+v", w)
	}
	// A batch in flight: in the mempool, seen by the follower.
	e.Request("bob", outside(e.t, 3), 700_000)
	e.step()
	e.Sync()
	// A deposit seen in the mempool.
	e.Pay("dave", 400_000)
	e.Sync()
	return chainhash.Hash(confirmed)
}

// The audit passes on a busy real history (deposits seen and credited, an
// ignored output, a confirmed batch, one in flight, a cancelled and an
// internal withdrawal), with the in-flight batch reported as such and the
// reserves adding up; and a batch the node holds in its mempool before the
// follower has seen it is in flight, not a mismatch.
func TestAuditPassesOnABusyHistory(t *testing.T) {
	e := newEnv(t)
	e.busy()
	r := e.audit()
	e.requireClean(r)
	if len(r.InFlight) != 1 || r.InFlight[0].PaidSat != 700_000 || r.InFlight[0].FeeSat <= 0 {
		t.Fatalf("in flight: %+v, want the one batch paying 700000", r.InFlight)
	}
	if r.SurplusSat != 5_000 {
		t.Fatalf("surplus %d, want the ignored 5000 sat output", r.SurplusSat)
	}
	if r.CoinsChecked == 0 || r.BlocksScanned < 4 {
		t.Fatalf("checked %d coins and %d blocks", r.CoinsChecked, r.BlocksScanned)
	}
	res := r.Reserves
	if res.CustomersPending != 400_000 || res.WithdrawalsPending != 700_000 {
		t.Fatalf("reserves %+v: want dave's 400000 pending and bob's 700000 in withdrawals_pending", res)
	}
	if res.Liabilities != res.CustomersAvailable+res.CustomersPending+res.WithdrawalsPending || res.Held != res.HotCoins+res.ColdCoins+res.InFlight {
		t.Fatalf("reserves do not add up: %+v", res)
	}
	// Held = owed + surplus + flat fees - network fees the service paid.
	if res.Ratio == "" || res.Held-res.Liabilities != r.SurplusSat+r.Ledger["network_fees"] {
		t.Fatalf("held %d, owed %d, surplus %d, network_fees %d, ratio %q", res.Held, res.Liabilities, r.SurplusSat, r.Ledger["network_fees"], res.Ratio)
	}

	// Everything confirmed, then the next batch, sent but not yet seen by
	// the follower: its coins are reserved, still unspent in our tables, and
	// nothing is a mismatch (Bitcoin Core's gettxout counts the mempool
	// spend, and the coin is then reported as spent by a transaction of
	// ours in the mempool; btcd's does not).
	e.Mine(1)
	e.step()
	e.requireClean(e.audit())
	e.Request("alice", outside(e.t, 4), 300_000)
	e.step()
	if n := e.Count(`SELECT count(*) FROM btc.batches WHERE state = 'broadcast' AND block_hash IS NULL`); n != 1 {
		t.Fatalf("%d batches broadcast and unmined, want 1", n)
	}
	e.requireClean(e.audit())
	e.Sync()
	e.Mine(1)
	e.step()
	e.requireClean(e.audit())
}

// Each kind of tampering is caught and named: a coin row deleted, a spent
// coin marked unspent, a stray ledger entry between internal accounts or
// between a customer and withdrawals_pending. After each is undone (the
// coin rows by the runbook's rescan) the audit passes again.
func TestAuditNamesEachTampering(t *testing.T) {
	e := newEnv(t)
	batchTxid := e.busy()
	e.requireClean(e.audit())

	// A credited deposit's coin, unspent; and a coin the confirmed batch spent.
	unspent := e.outpoint(`SELECT c.txid, c.vout FROM btc.coins c JOIN btc.deposits d ON d.txid = c.txid AND d.vout = c.vout
		WHERE d.state = 'credited' AND c.spent_by IS NULL ORDER BY c.amount DESC LIMIT 1`)
	spent := e.outpoint(`SELECT txid, vout FROM btc.coins WHERE spent_by = $1 LIMIT 1`, batchTxid[:])
	stray := e.strayed
	e.tamperEach(t, []tamperCase{
		{
			name: "coin row deleted",
			tamper: func() {
				e.Exec(`WITH d AS (DELETE FROM btc.coins WHERE txid = $1 AND vout = $2 RETURNING *) INSERT INTO public.saved_coins SELECT * FROM d`, unspent.Hash[:], int32(unspent.Index))
			},
			undo: func() { e.rescan(`SELECT block_height FROM public.saved_coins`) }, // the runbook's command
			want: []string{DepositWithoutCoin + " " + unspent.String(), HotWalletCoins + " hot_wallet total", OutputNotInCoins + " " + unspent.String()},
		},
		{
			name: "spent coin marked unspent",
			tamper: func() {
				e.Exec(`WITH d AS (SELECT * FROM btc.coins WHERE txid = $1 AND vout = $2) INSERT INTO public.saved_coins SELECT * FROM d`, spent.Hash[:], int32(spent.Index))
				e.Exec(`UPDATE btc.coins SET spent_by = NULL, spent_block = NULL, spent_height = NULL WHERE txid = $1 AND vout = $2`, spent.Hash[:], int32(spent.Index))
			},
			undo: func() { e.rescan(`SELECT spent_height FROM public.saved_coins`) },
			want: []string{CoinSpentOnNode + " " + spent.String(), HotWalletCoins + " hot_wallet total"},
		},
		{
			name:   "stray entry between two internal accounts",
			tamper: stray("internal:hot_wallet", "internal:network_fees", 12_345),
			undo:   stray("internal:network_fees", "internal:hot_wallet", 12_345),
			want: []string{AccountBalance + " hot_wallet available", AccountBalance + " network_fees available",
				HotWalletCoins + " hot_wallet total"},
			wantDetail: "off by +12345",
		},
		{
			name:   "stray entry from a customer into withdrawals_pending",
			tamper: stray("internal:withdrawals_pending", "alice", 777),
			undo:   stray("alice", "internal:withdrawals_pending", 777),
			want:   []string{AccountBalance + " withdrawals_pending available"},
		},
	})
}

// A coin spent behind the service's back, with the hot key, directly on the
// node, is named as spent by a transaction we did not build, in the mempool
// and once mined, and the hot wallet no longer equals its coins; while the
// follower is a block behind the result is not settled.
func TestAuditNamesACoinSpentBehindTheServicesBack(t *testing.T) {
	e := newEnv(t)
	e.busy()
	e.Mine(1)
	e.step()
	e.requireClean(e.audit())

	var txid, script []byte
	var vout int32
	var amount int64
	var branch int16
	var idx int32
	if err := e.Runner.Pool().QueryRow(e.Ctx, `SELECT c.txid, c.vout, c.amount, c.script, a.branch, a.idx FROM btc.coins c
		JOIN btc.addresses a ON a.id = c.address_id JOIN btc.deposits d ON d.txid = c.txid AND d.vout = c.vout
		WHERE d.state = 'credited' AND c.spent_by IS NULL AND c.reserved_by IS NULL ORDER BY c.amount DESC LIMIT 1`).
		Scan(&txid, &vout, &amount, &script, &branch, &idx); err != nil {
		t.Fatal(err)
	}
	op := wire.OutPoint{Hash: chainhash.Hash(txid), Index: uint32(vout)}
	acct, err := e.Master.Account(hdkeys.P2WPKH, 0)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := e.Master.PrivKey(append(slices.Clone(acct.Origin.Path), uint32(branch), uint32(idx)))
	if err != nil {
		t.Fatal(err)
	}
	thief, err := btcutil.DecodeAddress(outside(t, 9), regtest)
	if err != nil {
		t.Fatal(err)
	}
	thiefScript, err := txscript.PayToAddrScript(thief)
	if err != nil {
		t.Fatal(err)
	}
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(wire.NewTxIn(&op, nil, nil))
	tx.AddTxOut(wire.NewTxOut(amount-2_000, thiefScript))
	fetcher := txscript.NewCannedPrevOutputFetcher(script, amount)
	wit, err := txscript.WitnessSignature(tx, txscript.NewTxSigHashes(tx, fetcher), 0, amount, script, txscript.SigHashAll, priv, true)
	if err != nil {
		t.Fatal(err)
	}
	tx.TxIn[0].Witness = wit
	if _, err := e.Chain.Broadcast(e.Ctx, tx); err != nil {
		t.Fatal(err)
	}

	e.Sync()
	want := []string{CoinSpentByUnknown + " " + op.String(), HotWalletCoins + " hot_wallet total"}
	r := e.audit()
	if got := subjects(r); !slices.Equal(got, want) {
		t.Fatalf("with the spend in the mempool: %q, want %q", got, want)
	}
	if !strings.Contains(r.Mismatches[0].Detail, tx.TxHash().String()) {
		t.Fatalf("the mismatch does not name the spender %s: %s", tx.TxHash(), r.Mismatches[0].Detail)
	}
	// Mined, before the follower reads the block: the node says the coin
	// is spent, our tables say it is spent in the mempool; the result is
	// not settled (serve waits for the follower before raising an alert).
	if _, err := e.Node.Generate(e.Ctx, 1); err != nil {
		t.Fatal(err)
	}
	r, err = e.a.Audit(e.Ctx, Options{FromHeight: -1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Settled || r.Unsettled == "" {
		t.Fatalf("settled %v (%q) with the follower a block behind", r.Settled, r.Unsettled)
	}
	e.Sync()
	if got := subjects(e.audit()); !slices.Equal(got, want) {
		t.Fatalf("with the spend mined: %q, want %q", got, want)
	}
}

// serve's worker raises audit.mismatch once per distinct set of
// mismatches, not at every run; a set that clears and comes back is
// raised again; an unsettled result (the follower behind) raises nothing.
func TestWorkerEmitsAuditMismatchOncePerDistinctSet(t *testing.T) {
	e := newEnv(t)
	e.Pay("alice", 1_000_000)
	e.Mine(1)
	w := NewWorker(e.a, time.Minute)
	w.settleWait = 10 * time.Millisecond
	events := func() int {
		return e.Count(`SELECT count(*) FROM public.events WHERE type = $1`, EventMismatch)
	}
	step := func(want int) {
		t.Helper()
		if err := w.Step(e.Ctx); err != nil {
			t.Fatal(err)
		}
		if got := events(); got != want {
			t.Fatalf("%d audit.mismatch events, want %d", got, want)
		}
	}
	stray := e.stray
	step(0)
	stray("internal:withdrawals_pending", "alice", 500)
	step(1)
	step(1)
	stray("internal:withdrawals_pending", "alice", 1) // the same set, other amounts
	step(1)
	stray("internal:hot_wallet", "internal:network_fees", 300)
	step(2)
	if last := w.Auditor.LastResult(); last == nil || len(last.Mismatches) != 4 {
		t.Fatalf("last result: %+v", last)
	}
	var payload string
	if err := e.Runner.Pool().QueryRow(e.Ctx, `SELECT payload::text FROM public.events WHERE type = $1 ORDER BY seq DESC LIMIT 1`, EventMismatch).Scan(&payload); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"account_balance network_fees available"`, `"account_balance withdrawals_pending available"`, `"count": 4`} {
		if !strings.Contains(payload, s) {
			t.Fatalf("the event does not say %s: %s", s, payload)
		}
	}
	stray("internal:network_fees", "internal:hot_wallet", 300)
	stray("alice", "internal:withdrawals_pending", 501)
	step(2)
	// The follower a block behind while a mismatch exists: nothing raised.
	stray("internal:withdrawals_pending", "alice", 500)
	if _, err := e.Node.Generate(e.Ctx, 1); err != nil {
		t.Fatal(err)
	}
	step(2)
	if last := w.Auditor.LastResult(); last.Settled {
		t.Fatal("the last result is settled with the follower behind")
	}
	e.Sync()
	step(3)
}

// Before the follower's first block there is nothing to audit: the audit
// says so, and serve's worker waits without an alert.
func TestAuditBeforeTheFollowerStartedSaysSo(t *testing.T) {
	ctx := testenv.Ctx(t, time.Minute)
	node := testenv.NewNode(t, devenv.BtcdOptions{})
	runner := storetest.Runner(t, 4, "btc")
	a, err := New(runner, "btc", chain.NewRPCNode(node.Client), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Audit(ctx, Options{FromHeight: -1}); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("audit before the follower started: %v", err)
	}
	if err := NewWorker(a, time.Minute).Step(ctx); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("worker step: %v", err)
	}
	var n int
	if err := runner.Pool().QueryRow(ctx, `SELECT count(*) FROM public.events`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d events (%v)", n, err)
	}
}
