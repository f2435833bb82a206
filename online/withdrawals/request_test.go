package withdrawals

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// roundTrips counts the statements and batches a pool sends, each one
// round trip to the server.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (r *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (r *roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// A withdrawal request is BEGIN, one statement and COMMIT, whatever it
// carries (a fee, an idempotency key) and whether it is accepted or
// refused: the lookups, the checks, the row, the event and the posting
// travel together. Only a replay reads its stored withdrawal besides.
func TestWithdrawalRequestIsThreeRoundTrips(t *testing.T) {
	dsn := testenv.NewDatabase(t)
	f := newFixtureOn(t, dsn, 2, 0) // migrates and funds
	f.customer(t, "alice", 1_000_000)
	ctx := testenv.Ctx(t, time.Minute)

	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	trips := &roundTrips{}
	cfg.ConnConfig.Tracer = trips
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	l, err := ledger.New(store.NewRunner(pool, store.RunnerConfig{}, nil), "btc")
	if err != nil {
		t.Fatal(err)
	}
	svc, err := New(l, Config{Params: &chaincfg.RegressionNetParams, FeeSat: 300})
	if err != nil {
		t.Fatal(err)
	}
	// The first request reads the internal accounts once.
	if _, err := svc.Request(ctx, Request{Account: "alice", Address: outside, Amount: 1_000}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		req   Request
		ok    bool
		trips int64
	}{
		{"accepted", Request{Account: "alice", Address: outside, Amount: 2_000}, true, 3},
		{"accepted under a key", Request{Account: "alice", Address: outside, Amount: 3_000, TokenID: 1, IdempotencyKey: "k"}, true, 3},
		{"replayed", Request{Account: "alice", Address: outside, Amount: 3_000, TokenID: 1, IdempotencyKey: "k"}, true, 4},
		{"key reused", Request{Account: "alice", Address: outside, Amount: 4_000, TokenID: 1, IdempotencyKey: "k"}, false, 3},
		{"over the balance", Request{Account: "alice", Address: outside, Amount: 5_000_000}, false, 3},
		{"unknown account", Request{Account: "nobody", Address: outside, Amount: 1_000}, false, 3},
	} {
		before := trips.n.Load()
		_, err := svc.Request(ctx, c.req)
		if (err == nil) != c.ok {
			t.Fatalf("%s: %v", c.name, err)
		}
		if n := trips.n.Load() - before; n != c.trips {
			t.Errorf("%s: %d round trips, want %d", c.name, n, c.trips)
		}
	}
}

// The request's row, its withdrawal.requested event and its posting are
// written by one statement: the event carries what the row says, and the
// posting moves amount and fee exactly.
func TestWithdrawalRequestWritesRowEventAndPostingTogether(t *testing.T) {
	const fee = 400
	f := newFixture(t, 2, fee)
	f.customer(t, "alice", 100_000)
	ctx := testenv.Ctx(t, time.Minute)
	w, err := f.svc.Request(ctx, Request{Account: "alice", Address: outside, Amount: 25_000})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := f.svc.Get(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(stored, w) {
		t.Errorf("returned %+v, stored %+v", w, stored)
	}
	var typ string
	var got map[string]any
	var raw []byte
	if err := f.runner.Pool().QueryRow(ctx, `SELECT type, payload FROM public.events WHERE (payload->>'withdrawal_id')::bigint = $1`, w.ID).Scan(&typ, &raw); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{}
	b, _ := json.Marshal(payload(w))
	_ = json.Unmarshal(b, &want)
	if typ != EventRequested || !reflect.DeepEqual(got, want) {
		t.Errorf("event %s %v, want %s %v", typ, got, EventRequested, want)
	}
	rows, err := f.runner.Pool().Query(ctx, `SELECT a.kind, e.available_delta, e.pending_delta FROM btc.ledger_entries e
		JOIN btc.ledger_transactions t ON t.id = e.tx_id JOIN btc.accounts a ON a.id = e.account_id
		WHERE t.kind = 'withdrawal' AND t.memo = $1 ORDER BY e.available_delta`, memo(w))
	if err != nil {
		t.Fatal(err)
	}
	var entries []string
	for rows.Next() {
		var kind string
		var avail, pend int64
		if err := rows.Scan(&kind, &avail, &pend); err != nil {
			t.Fatal(err)
		}
		entries = append(entries, fmt.Sprintf("%s:%d/%d", kind, avail, pend))
	}
	if want := []string{"customer:-25400/0", "network_fees:400/0", "withdrawals_pending:25000/0"}; !reflect.DeepEqual(entries, want) {
		t.Errorf("posting %v, want %v", entries, want)
	}
	if f.available(t, "alice") != 100_000-25_000-fee {
		t.Errorf("alice has %d", f.available(t, "alice"))
	}
	if err := f.ledger.Check(ctx); err != nil {
		t.Fatal(err)
	}
}
