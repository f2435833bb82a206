package withdrawals

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"

	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/addresses"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// otherOutside is another regtest p2wpkh address nobody in the tests owns.
func otherOutside(t testing.TB, b byte) string {
	t.Helper()
	a, err := btcutil.NewAddressWitnessPubKeyHash(bytes.Repeat([]byte{b}, 20), &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	return a.EncodeAddress()
}

// customerAddress issues a new receive address of a customer account.
func (f *fixture) customerAddress(t testing.TB, account string) string {
	t.Helper()
	ctx := context.Background()
	key, err := addresses.ParseKey("wpkh([73c5da0a/84'/1'/0']tpubDC8msFGeGuwnKG9Upg7DM2b4DaRqg3CUZa5g8v2SRQ6K4NSkxUgd7HsL2XVWbVm39yBA4LAxysQAm397zwQSQoQgewGiYZqrA9DsP4zbQ1M)", &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	iss, err := addresses.NewIssuer(ctx, f.ledger, key)
	if err != nil {
		t.Fatal(err)
	}
	var a addresses.Address
	if err := f.runner.InTx(ctx, "addr", func(tx *store.Tx) (err error) { a, err = iss.NewAddressTx(tx, account, ""); return err }); err != nil {
		t.Fatal(err)
	}
	return a.Address
}

// withRules gives the fixture a service with these limits and approvals.
func (f *fixture) withRules(t testing.TB, l Limits, a Approval) *Service {
	t.Helper()
	svc, err := New(f.ledger, Config{Params: &chaincfg.RegressionNetParams, FeeSat: f.svc.cfg.FeeSat, Limits: l, Approval: a})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// snapshot is what a refused request must leave as it was.
type snapshot struct {
	withdrawals, events, ledgerTxs, breaker int64
	alice, pending                          int64
}

func (f *fixture) snapshot(t testing.TB) snapshot {
	t.Helper()
	var s snapshot
	err := f.runner.Pool().QueryRow(context.Background(), `SELECT (SELECT count(*) FROM btc.withdrawals), (SELECT count(*) FROM public.events),
		(SELECT count(*) FROM btc.ledger_transactions), (SELECT count(*) FROM btc.withdrawal_breaker)`).Scan(&s.withdrawals, &s.events, &s.ledgerTxs, &s.breaker)
	if err != nil {
		t.Fatal(err)
	}
	s.alice, s.pending = f.available(t, "alice"), f.internal(t, PendingAccount)
	return s
}

// Each limit refuses a request over it with an error naming the rule, the
// limit and the figure, and the refused request changes nothing.
func TestLimitsRefuseNamingTheRuleAndChangeNothing(t *testing.T) {
	for _, c := range []struct {
		name   string
		limits Limits
		before []int64 // accepted requests first
		amount int64
		err    error
		says   []string
	}{
		{"max per withdrawal", Limits{MaxWithdrawalSat: 50_000}, nil, 50_001, ErrLimitMaxWithdrawal,
			[]string{"max_withdrawal_sat", "0.00050001 BTC requested", "at most 0.00050000 BTC"}},
		{"account count", Limits{AccountMaxCount: 2}, []int64{1_000, 1_000}, 1_000, ErrLimitAccountCount,
			[]string{"account_max_count", `"alice" has made 2 withdrawals in the last 24h0m0s`, "at most 2"}},
		{"account amount", Limits{AccountMaxSat: 30_000, AccountWindow: time.Hour}, []int64{20_000}, 10_001, ErrLimitAccountAmount,
			[]string{"account_max_sat", "0.00020000 BTC in the last 1h0m0s", "0.00010001 BTC more", "limit of 0.00030000 BTC"}},
		{"hot wallet outflow", Limits{HotOutflowPerHourSat: 25_000}, []int64{20_000}, 5_001, ErrLimitHotOutflow,
			[]string{"hot_outflow_per_hour_sat", "paid out 0.00020000 BTC in the last hour", "limit of 0.00025000 BTC"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, 4, 300)
			f.customer(t, "alice", 1_000_000)
			ctx := testenv.Ctx(t, time.Minute)
			svc := f.withRules(t, c.limits, Approval{})
			for _, sat := range c.before {
				if _, err := svc.Request(ctx, Request{Account: "alice", Address: outside, Amount: sat}); err != nil {
					t.Fatal(err)
				}
			}
			at := f.snapshot(t)
			_, err := svc.Request(ctx, Request{Account: "alice", Address: outside, Amount: c.amount})
			if !errors.Is(err, c.err) {
				t.Fatalf("got %v, want %v", err, c.err)
			}
			for _, s := range c.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("%q does not say %q", err, s)
				}
			}
			after := f.snapshot(t)
			if c.err == ErrLimitHotOutflow {
				at.breaker, at.events = at.breaker+1, at.events+1 // the breaker's own transaction
			}
			if after != at {
				t.Fatalf("the refusal changed something: before %+v, after %+v", at, after)
			}
			// Just under the limit passes (not for the hot wallet: it tripped).
			if c.err != ErrLimitHotOutflow {
				under := c.amount
				if c.err == ErrLimitAccountCount {
					if _, err := f.runner.Pool().Exec(ctx, `UPDATE btc.withdrawals SET created_at = now() - interval '25 hours' WHERE id = (SELECT min(id) FROM btc.withdrawals)`); err != nil {
						t.Fatal(err)
					}
				} else {
					under--
				}
				if _, err := svc.Request(ctx, Request{Account: "alice", Address: outside, Amount: under}); err != nil {
					t.Fatalf("a request at the limit: %v", err)
				}
			}
			if err := f.ledger.Check(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// The account limits look back over a rolling window: once the earlier
// withdrawals are older than it, a request passes again. Cancelled ones
// do not count.
func TestAccountWindowLetsARequestThroughOnceTheWindowPassed(t *testing.T) {
	f := newFixture(t, 4, 0)
	f.customer(t, "alice", 1_000_000)
	ctx := testenv.Ctx(t, time.Minute)
	svc := f.withRules(t, Limits{AccountMaxCount: 1, AccountMaxSat: 60_000, AccountWindow: 2 * time.Hour}, Approval{})
	w, err := svc.Request(ctx, Request{Account: "alice", Address: outside, Amount: 50_000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Request(ctx, Request{Account: "alice", Address: outside, Amount: 1_000}); !errors.Is(err, ErrLimitAccountCount) {
		t.Fatalf("second request inside the window: %v", err)
	}
	if _, err := f.runner.Pool().Exec(ctx, `UPDATE btc.withdrawals SET created_at = now() - interval '119 minutes' WHERE id = $1`, w.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Request(ctx, Request{Account: "alice", Address: outside, Amount: 1_000}); !errors.Is(err, ErrLimitAccountCount) {
		t.Fatalf("just inside the window: %v", err)
	}
	if _, err := f.runner.Pool().Exec(ctx, `UPDATE btc.withdrawals SET created_at = now() - interval '121 minutes' WHERE id = $1`, w.ID); err != nil {
		t.Fatal(err)
	}
	w2, err := svc.Request(ctx, Request{Account: "alice", Address: outside, Amount: 55_000})
	if err != nil {
		t.Fatalf("after the window passed: %v", err)
	}
	// A cancelled withdrawal gives its place back.
	if _, err := svc.Cancel(ctx, w2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Request(ctx, Request{Account: "alice", Address: outside, Amount: 60_000}); err != nil {
		t.Fatalf("after a cancellation: %v", err)
	}
}

// A replayed request (its idempotency key used before) gets its first
// answer even when the limit it used up would refuse a new one.
func TestLimitsLetAReplayGetItsFirstAnswer(t *testing.T) {
	f := newFixture(t, 4, 0)
	f.customer(t, "alice", 1_000_000)
	ctx := testenv.Ctx(t, time.Minute)
	svc := f.withRules(t, Limits{AccountMaxCount: 1}, Approval{})
	req := Request{Account: "alice", Address: outside, Amount: 5_000, TokenID: 3, IdempotencyKey: "once"}
	w, err := svc.Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := svc.Request(ctx, req)
	if err != nil || again.ID != w.ID {
		t.Fatalf("replay: %+v, %v", again, err)
	}
}

// The hot wallet's hourly limit trips the circuit breaker: requests are
// refused with ErrPaused, the batcher's check says paused, and only an
// operator's resume clears it, with an event each way.
func TestCircuitBreakerTripsPausesAndOnlyResumeClears(t *testing.T) {
	f := newFixture(t, 4, 0)
	f.customer(t, "alice", 1_000_000)
	ctx := testenv.Ctx(t, time.Minute)
	svc := f.withRules(t, Limits{HotOutflowPerHourSat: 100_000}, Approval{})
	paused := func() bool {
		t.Helper()
		var p bool
		if err := f.runner.InTx(ctx, "paused", func(tx *store.Tx) (err error) { p, err = Paused(tx, "btc"); return err }); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if _, err := svc.Request(ctx, Request{Account: "alice", Address: outside, Amount: 60_000}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Resume(ctx, "carol"); !errors.Is(err, ErrNotPaused) {
		t.Fatalf("resume while running: %v", err)
	}
	if _, err := svc.Request(ctx, Request{Account: "alice", Address: outside, Amount: 40_001}); !errors.Is(err, ErrLimitHotOutflow) {
		t.Fatalf("request over the hourly outflow: %v", err)
	}
	b, err := svc.BreakerState(ctx)
	if err != nil || !b.Paused || !strings.Contains(b.Reason, "hot_outflow_per_hour_sat") || !paused() {
		t.Fatalf("breaker after the breach: %+v, %v", b, err)
	}
	// Paused: even a small request is refused, and nothing is written.
	at := f.snapshot(t)
	_, err = svc.Request(ctx, Request{Account: "alice", Address: outside, Amount: 1_000})
	if !errors.Is(err, ErrPaused) || !strings.Contains(err.Error(), "withdrawals resume") {
		t.Fatalf("request while paused: %v", err)
	}
	if after := f.snapshot(t); after != at {
		t.Fatalf("a paused request changed something: %+v → %+v", at, after)
	}
	// Time alone does not resume it.
	if _, err := f.runner.Pool().Exec(ctx, `UPDATE btc.withdrawals SET created_at = now() - interval '2 hours'`); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Request(ctx, Request{Account: "alice", Address: outside, Amount: 1_000}); !errors.Is(err, ErrPaused) || !paused() {
		t.Fatalf("after the hour passed: %v", err)
	}
	if _, err := svc.Resume(ctx, " "); err == nil {
		t.Fatal("resume with no operator name")
	}
	if _, err := svc.Resume(ctx, "carol"); err != nil {
		t.Fatal(err)
	}
	if paused() {
		t.Fatal("still paused after resume")
	}
	if _, err := svc.Request(ctx, Request{Account: "alice", Address: outside, Amount: 1_000}); err != nil {
		t.Fatalf("after resume: %v", err)
	}
	var types []string
	var by string
	if err := f.runner.Pool().QueryRow(ctx, `SELECT array_agg(type ORDER BY seq) FILTER (WHERE type LIKE 'withdrawals.%'),
		(SELECT resumed_by FROM btc.withdrawal_breaker) FROM public.events`).Scan(&types, &by); err != nil {
		t.Fatal(err)
	}
	if strings.Join(types, ",") != EventPaused+","+EventResumed || by != "carol" {
		t.Fatalf("events %v, resumed by %q", types, by)
	}
}

// Withdrawals to a customer address of ours are internal transfers: not
// outflow, so no limit refuses or counts them.
func TestInternalTransfersAreNotOutflow(t *testing.T) {
	f := newFixture(t, 4, 0)
	ctx := testenv.Ctx(t, time.Minute)
	f.customer(t, "alice", 100_000)
	f.customer(t, "bob", 0)
	bobs := f.customerAddress(t, "bob")
	svc := f.withRules(t, Limits{MaxWithdrawalSat: 1_000, AccountMaxCount: 1, HotOutflowPerHourSat: 1_000}, Approval{AboveSat: 500})
	for range 2 {
		w, err := svc.Request(ctx, Request{Account: "alice", Address: bobs, Amount: 30_000})
		if err != nil || !w.Internal || w.State != Confirmed {
			t.Fatalf("internal transfer: %+v, %v", w, err)
		}
	}
	if _, err := svc.Request(ctx, Request{Account: "alice", Address: outside, Amount: 1_000}); err != nil {
		t.Fatalf("an outside withdrawal after internal transfers: %v", err)
	}
}

// Concurrent requests from one account racing its rolling-window count:
// exactly the limit is accepted, and the race really happened.
func TestConcurrentRequestsNeverPassTheAccountWindow(t *testing.T) {
	const clients, limit = 16, 5
	f := newFixture(t, clients+2, 0)
	f.customer(t, "alice", 10_000_000)
	ctx := testenv.Ctx(t, 2*time.Minute)
	svc := f.withRules(t, Limits{AccountMaxCount: limit}, Approval{})
	before := f.runner.Stats()
	errs := race(clients, func(i int) error {
		_, err := svc.Request(ctx, Request{Account: "alice", Address: outside, Amount: 10_000})
		return err
	})
	accepted := 0
	for _, err := range errs {
		switch {
		case err == nil:
			accepted++
		case !errors.Is(err, ErrLimitAccountCount):
			t.Errorf("unexpected error: %v", err)
		}
	}
	retries := f.runner.Stats().Retries - before.Retries
	t.Logf("%d accepted, %d serialization retries", accepted, retries)
	if retries == 0 {
		t.Fatal("no serialization conflicts: the requests did not race")
	}
	if accepted != limit || f.available(t, "alice") != 10_000_000-limit*10_000 {
		t.Fatalf("accepted %d (want %d), alice %d", accepted, limit, f.available(t, "alice"))
	}
	if err := f.ledger.Check(ctx); err != nil {
		t.Fatal(err)
	}
}

// Concurrent requests from different accounts racing the hot wallet's
// hourly outflow never pass it in sum; the first breach trips the breaker.
func TestConcurrentRequestsNeverPassTheHotOutflow(t *testing.T) {
	const clients, each, limit = 16, 10_000, 55_000
	f := newFixture(t, clients+2, 0)
	names := make([]string, clients)
	for i := range names {
		names[i] = "c" + string(rune('a'+i))
		f.customer(t, names[i], 100_000)
	}
	ctx := testenv.Ctx(t, 2*time.Minute)
	svc := f.withRules(t, Limits{HotOutflowPerHourSat: limit}, Approval{})
	before := f.runner.Stats()
	errs := race(clients, func(i int) error {
		_, err := svc.Request(ctx, Request{Account: names[i], Address: outside, Amount: each})
		return err
	})
	accepted := 0
	for _, err := range errs {
		switch {
		case err == nil:
			accepted++
		case !errors.Is(err, ErrLimitHotOutflow) && !errors.Is(err, ErrPaused):
			t.Errorf("unexpected error: %v", err)
		}
	}
	retries := f.runner.Stats().Retries - before.Retries
	t.Logf("%d accepted, %d serialization retries", accepted, retries)
	if retries == 0 {
		t.Fatal("no serialization conflicts: the requests did not race")
	}
	if accepted*each > limit || f.internal(t, PendingAccount) != int64(accepted*each) {
		t.Fatalf("accepted %d × %d against a limit of %d; pending %d", accepted, each, limit, f.internal(t, PendingAccount))
	}
	if accepted != limit/each {
		t.Errorf("accepted %d, want %d: the limit refused more than it had to", accepted, limit/each)
	}
	if b, err := svc.BreakerState(ctx); err != nil || !b.Paused {
		t.Fatalf("breaker: %+v, %v", b, err)
	}
}

// race runs fn(0..n-1) at once and returns their errors.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}
