package metrics_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cryptoassets/cryptoassets/internal/electiontest"
	"github.com/cryptoassets/cryptoassets/internal/storetest"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/metrics"
	"github.com/cryptoassets/cryptoassets/online/status"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// /metrics shows the lease table (holder, epoch, expiry, leader) and this
// process's election counters: alpha is elected once; its lease is then
// taken over by another instance at the next epoch, and alpha's next
// fenced transaction is refused, not committed, and counted as a fence
// refusal; the leader is the intruder now. An election nobody campaigned
// in reads leader 0 with no holder.
func TestMetricsShowLeaseHoldersTermsAndFenceRefusals(t *testing.T) {
	ctx := testenv.Ctx(t, time.Minute)
	runner := storetest.Runner(t, 8, "btc")
	if _, err := runner.Pool().Exec(ctx, `CREATE TABLE fenced_writes (n int)`); err != nil {
		t.Fatal(err)
	}
	r, err := status.New(status.Config{Pool: runner.Pool(), Assets: []status.AssetConfig{{Name: "btc", Network: "regtest"}},
		Elections: []status.ElectionSpec{{Name: "follower", Asset: "btc", Workers: []string{"follower"}}, {Name: "deliverer", Workers: []string{"deliverer"}}}})
	if err != nil {
		t.Fatal(err)
	}
	alpha, _ := electiontest.Campaign(t, runner, "follower", "btc", "alpha")
	testenv.WaitFor(t, "alpha leading", func() bool { return alpha.Epoch() != 0 })
	m := metrics.New(metrics.Options{Status: r, Runner: runner, Elections: []metrics.Election{alpha}})
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()

	const (
		leader    = `cryptoassets_election_leader{asset="btc",election="follower"}`
		epoch     = `cryptoassets_election_lease_epoch{asset="btc",election="follower"}`
		expiresIn = `cryptoassets_election_lease_expires_in_seconds{asset="btc",election="follower"}`
		terms     = `cryptoassets_election_terms_total{asset="btc",election="follower"}`
		refusals  = `cryptoassets_election_fence_refusals_total{asset="btc",election="follower"}`
		byAlpha   = `cryptoassets_election_lease_holder{asset="btc",election="follower",holder="alpha"}`
		byOther   = `cryptoassets_election_lease_holder{asset="btc",election="follower",holder="intruder"}`
		deliverer = `cryptoassets_election_leader{asset="",election="deliverer"}`
	)
	s := scrapeOf(t, srv.URL)
	for _, tc := range []struct {
		key  string
		want float64
	}{{leader, 1}, {byAlpha, 1}, {epoch, 1}, {terms, 1}, {refusals, 0}, {deliverer, 0}} {
		if got := s.must(t, tc.key); got != tc.want {
			t.Fatalf("before the takeover: %s = %v, want %v", tc.key, got, tc.want)
		}
	}
	if s.must(t, expiresIn) <= 0 {
		t.Fatalf("a renewed lease expires in %v s", s[expiresIn])
	}
	if _, ok := s.has(`cryptoassets_election_lease_holder{asset="",election="deliverer",holder=""}`); ok {
		t.Fatal("an election never held shows a holder")
	}

	// Another instance takes the lease over, as one would after alpha's
	// lease passed while alpha was frozen.
	if _, err := runner.Pool().Exec(ctx, `UPDATE public.worker_leases SET holder = 'intruder', epoch = epoch + 1,
		acquired_at = clock_timestamp(), renewed_at = clock_timestamp(), expires_at = clock_timestamp() + interval '1 hour'
		WHERE worker = 'follower' AND asset = 'btc'`); err != nil {
		t.Fatal(err)
	}
	err = alpha.Runner(runner).InTx(ctx, "stale-write", func(tx *store.Tx) error {
		_, err := tx.Exec(`INSERT INTO fenced_writes VALUES (1)`)
		return err
	})
	if !errors.Is(err, store.ErrFenced) {
		t.Fatalf("alpha's write after the takeover: %v, want ErrFenced", err)
	}
	var n int
	if err := runner.Pool().QueryRow(context.Background(), `SELECT count(*) FROM fenced_writes`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d stale writes committed (%v)", n, err)
	}
	s = scrapeOf(t, srv.URL)
	for _, tc := range []struct {
		key  string
		want float64
	}{{leader, 1}, {byOther, 1}, {epoch, 2}, {terms, 1}, {refusals, 1}} {
		if got := s.must(t, tc.key); got != tc.want {
			t.Fatalf("after the takeover: %s = %v, want %v", tc.key, got, tc.want)
		}
	}
	if _, ok := s.has(byAlpha); ok {
		t.Fatal("alpha is still shown holding the lease")
	}
}
