package withdrawals

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg"

	"github.com/cryptoassets/cryptoassets/internal/storetest"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/addresses"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// A regtest p2wpkh address nobody in the tests owns.
const outside = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"

type fixture struct {
	runner *store.Runner
	ledger *ledger.Ledger
	svc    *Service
}

func newFixture(t testing.TB, conns int32, fee int64) *fixture {
	t.Helper()
	return newFixtureOn(t, testenv.NewDatabase(t), conns, fee)
}

func newFixtureOn(t testing.TB, dsn string, conns int32, fee int64) *fixture {
	t.Helper()
	runner := storetest.RunnerOn(t, dsn, conns, "btc")
	l, err := ledger.New(runner, "btc")
	if err != nil {
		t.Fatal(err)
	}
	svc, err := New(l, Config{Params: &chaincfg.RegressionNetParams, FeeSat: fee})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{runner: runner, ledger: l, svc: svc}
}

func (f *fixture) customer(t testing.TB, name string, sat int64) {
	t.Helper()
	a, err := f.ledger.CreateAccount(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	if sat == 0 {
		return
	}
	err = f.runner.InTx(context.Background(), "fund", func(tx *store.Tx) error {
		hot, _, err := f.ledger.Internal(tx, ledger.HotWallet)
		if err != nil {
			return err
		}
		_, err = f.ledger.PostTx(tx, "test_funding", "", []ledger.Posting{{AccountID: hot, Available: -sat}, {AccountID: a.ID, Available: sat}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) available(t testing.TB, name string) int64 {
	t.Helper()
	a, err := f.ledger.GetAccount(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return a.Available
}

func (f *fixture) internal(t testing.TB, kind string) int64 {
	t.Helper()
	var sum int64
	err := f.runner.Pool().QueryRow(context.Background(),
		`SELECT coalesce(sum(b.available), 0)::bigint FROM btc.balances b JOIN btc.accounts a ON a.id = b.account_id WHERE a.kind = $1`, kind).Scan(&sum)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// N clients ask at once for withdrawals from one account whose balance
// covers exactly k of them: exactly k are accepted, the others are refused
// with insufficient funds, and the ledger's invariants hold.
func TestConcurrentWithdrawalsAcceptExactlyWhatTheBalanceCovers(t *testing.T) {
	const (
		clients = 24
		k       = 7
		each    = 10_000
		fee     = 500
	)
	f := newFixture(t, clients+2, fee)
	f.customer(t, "alice", k*(each+fee)+each/2) // not enough for k+1
	ctx := testenv.Ctx(t, 2*time.Minute)
	before := f.runner.Stats()

	var wg sync.WaitGroup
	errs := make([]error, clients)
	start := make(chan struct{})
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = f.svc.Request(ctx, Request{Account: "alice", Address: outside, Amount: each})
		}()
	}
	close(start)
	wg.Wait()

	accepted, refused := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			accepted++
		case errors.Is(err, ledger.ErrInsufficientFunds):
			refused++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if accepted != k || refused != clients-k {
		t.Fatalf("accepted %d, refused %d; want %d and %d", accepted, refused, k, clients-k)
	}
	retries := f.runner.Stats().Retries - before.Retries
	t.Logf("%d serialization retries", retries)
	if retries == 0 {
		t.Fatal("no serialization conflicts: the requests did not run concurrently, so the test proved nothing")
	}
	if got := f.available(t, "alice"); got != each/2 {
		t.Errorf("alice has %d left, want %d", got, each/2)
	}
	if got := f.internal(t, PendingAccount); got != k*each {
		t.Errorf("withdrawals_pending holds %d, want %d", got, k*each)
	}
	if got := f.internal(t, ledger.NetworkFees); got != k*fee {
		t.Errorf("network_fees holds %d, want %d", got, k*fee)
	}
	ws, err := f.svc.List(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != k {
		t.Errorf("%d withdrawals stored, want %d", len(ws), k)
	}
	if err := f.ledger.Check(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestCancelRefundsAmountAndFee(t *testing.T) {
	f := newFixture(t, 4, 700)
	f.customer(t, "alice", 100_000)
	ctx := testenv.Ctx(t, time.Minute)
	w, err := f.svc.Request(ctx, Request{Account: "alice", Address: outside, Amount: 40_000})
	if err != nil {
		t.Fatal(err)
	}
	if w.State != Requested || w.Fee != 700 || f.available(t, "alice") != 100_000-40_700 {
		t.Fatalf("after request: %+v, alice %d", w, f.available(t, "alice"))
	}
	c, err := f.svc.Cancel(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.State != Cancelled || f.available(t, "alice") != 100_000 || f.internal(t, PendingAccount) != 0 || f.internal(t, ledger.NetworkFees) != 0 {
		t.Fatalf("after cancel: %+v, alice %d, pending %d, fees %d", c, f.available(t, "alice"), f.internal(t, PendingAccount), f.internal(t, ledger.NetworkFees))
	}
	// Cancelling again refunds nothing more.
	if _, err := f.svc.Cancel(ctx, w.ID); err != nil || f.available(t, "alice") != 100_000 {
		t.Fatalf("second cancel: %v, alice %d", err, f.available(t, "alice"))
	}
	// A withdrawal that is batched can no longer be cancelled.
	w2, err := f.svc.Request(ctx, Request{Account: "alice", Address: outside, Amount: 1_000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.runner.Pool().Exec(ctx, `INSERT INTO btc.batches (id, state, txid, psbt, fee, fee_rate, vsize, locktime)
		VALUES (1, 'reserved', '\x`+strings.Repeat("11", 32)+`', '\x00', 1000, 1000, 141, 0)`); err != nil {
		t.Fatal(err)
	}
	if _, err := f.runner.Pool().Exec(ctx, `UPDATE btc.withdrawals SET state = 'batched', batch_id = 1 WHERE id = $1`, w2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Cancel(ctx, w2.ID); !errors.Is(err, ErrNotCancellable) {
		t.Fatalf("cancelling a batched withdrawal: %v", err)
	}
	if _, err := f.svc.Cancel(ctx, 999); !errors.Is(err, ErrUnknownWithdrawal) {
		t.Fatalf("cancelling an unknown withdrawal: %v", err)
	}
	var events int
	if err := f.runner.Pool().QueryRow(ctx, `SELECT count(*) FROM public.events WHERE type = 'withdrawal.cancelled'`).Scan(&events); err != nil || events != 1 {
		t.Fatalf("withdrawal.cancelled events: %d %v", events, err)
	}
	if err := f.ledger.Check(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestWithdrawalToOwnCustomerAddressIsAnInternalTransfer(t *testing.T) {
	f := newFixture(t, 4, 700)
	ctx := testenv.Ctx(t, time.Minute)
	f.customer(t, "alice", 100_000)
	f.customer(t, "bob", 0)
	key, err := addresses.ParseKey("wpkh([73c5da0a/84'/1'/0']tpubDC8msFGeGuwnKG9Upg7DM2b4DaRqg3CUZa5g8v2SRQ6K4NSkxUgd7HsL2XVWbVm39yBA4LAxysQAm397zwQSQoQgewGiYZqrA9DsP4zbQ1M)", &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	iss, err := addresses.NewIssuer(ctx, f.ledger, key)
	if err != nil {
		t.Fatal(err)
	}
	var bobs, alices addresses.Address
	err = f.runner.InTx(ctx, "addr", func(tx *store.Tx) error {
		if bobs, err = iss.NewAddressTx(tx, "bob", ""); err != nil {
			return err
		}
		alices, err = iss.NewAddressTx(tx, "alice", "")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	w, err := f.svc.Request(ctx, Request{Account: "alice", Address: bobs.Address, Amount: 30_000})
	if err != nil {
		t.Fatal(err)
	}
	if !w.Internal || w.InternalTo != "bob" || w.State != Confirmed || w.Fee != 0 {
		t.Fatalf("withdrawal: %+v", w)
	}
	if f.available(t, "alice") != 70_000 || f.available(t, "bob") != 30_000 || f.internal(t, PendingAccount) != 0 {
		t.Fatalf("balances: alice %d bob %d pending %d", f.available(t, "alice"), f.available(t, "bob"), f.internal(t, PendingAccount))
	}
	var types []string
	rows, _ := f.runner.Pool().Query(ctx, `SELECT type FROM public.events WHERE payload->>'internal' = 'true' ORDER BY seq`)
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		types = append(types, s)
	}
	if len(types) != 2 || types[0] != EventRequested || types[1] != EventConfirmed {
		t.Fatalf("events: %v", types)
	}
	if _, err := f.svc.Request(ctx, Request{Account: "alice", Address: alices.Address, Amount: 1_000}); !errors.Is(err, ledger.ErrSameAccount) {
		t.Fatalf("withdrawal to the account's own address: %v", err)
	}
	if _, err := f.svc.Cancel(ctx, w.ID); !errors.Is(err, ErrNotCancellable) {
		t.Fatalf("cancelling an internal transfer: %v", err)
	}
	if err := f.ledger.Check(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestIdempotentRequestReturnsTheSameWithdrawal(t *testing.T) {
	f := newFixture(t, 4, 0)
	ctx := testenv.Ctx(t, time.Minute)
	f.customer(t, "alice", 100_000)
	req := Request{Account: "alice", Address: outside, Amount: 10_000, IdempotencyKey: "k1"}
	a, err := f.svc.Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.svc.Request(ctx, req)
	if err != nil || b.ID != a.ID || f.available(t, "alice") != 90_000 {
		t.Fatalf("replay: %+v %v, alice %d", b, err, f.available(t, "alice"))
	}
	req.Amount = 20_000
	if _, err := f.svc.Request(ctx, req); !errors.Is(err, ErrKeyReused) {
		t.Fatalf("key reused with another amount: %v", err)
	}
	// Another token's same key is another request.
	req.TokenID = 5
	if c, err := f.svc.Request(ctx, req); err != nil || c.ID == a.ID {
		t.Fatalf("other token: %+v %v", c, err)
	}
}
