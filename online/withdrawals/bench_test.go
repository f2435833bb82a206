package withdrawals

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cryptoassets/cryptoassets/internal/pgbench"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
)

// BenchmarkWithdrawalRequests runs 32 clients requesting withdrawals from
// 1000 accounts, beside the same server's pgbench TPS for the ledger's
// spread baseline (a two-row serializable update and two inserts between
// random accounts, retried on conflict), so the ratio comes from one run.
// The two alternate in three rounds (pgbench for 3 s, then a third of the
// requests), so other work on the machine weighs on both alike.
//
//	go test ./online/withdrawals -run '^$' -bench WithdrawalRequests -benchtime 3000x
func BenchmarkWithdrawalRequests(b *testing.B) {
	const clients, accounts, rounds = 32, 1000, 3
	dsn := testenv.NewDatabase(b)
	f := newFixtureOn(b, dsn, 40, 0)
	names := make([]string, accounts)
	for i := range names {
		names[i] = fmt.Sprintf("acct-%04d", i)
		f.customer(b, names[i], 100*100_000_000)
	}
	pg := pgbench.NewTransfers(b, dsn, false)
	ctx := context.Background()
	before := f.runner.Stats()
	var failed atomic.Int64
	var baseline float64
	var elapsed time.Duration
	b.ResetTimer()
	for r := range rounds {
		b.StopTimer()
		baseline += pg.TPS(b, clients, 3*time.Second) / rounds
		b.StartTimer()
		n := int64(b.N*(r+1)/rounds - b.N*r/rounds)
		var taken atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(r), uint64(c)))
				for taken.Add(1) <= n {
					_, err := f.svc.Request(ctx, Request{Account: names[rng.IntN(accounts)], Address: outside, Amount: 1000 + rng.Int64N(100_000)})
					if err != nil {
						failed.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		elapsed += time.Since(start)
	}
	b.StopTimer()
	if failed.Load() > 0 {
		b.Fatalf("%d requests failed", failed.Load())
	}
	rate := float64(b.N) / elapsed.Seconds()
	st := f.runner.Stats()
	b.ReportMetric(float64(st.Retries-before.Retries)/float64(st.Commits-before.Commits), "retries/commit")
	b.ReportMetric(rate, "withdrawals/s")
	// The baseline is pgbench's spread transfers per second on the same
	// server (internal/pgbench): what the database does without us.
	b.ReportMetric(baseline, "baseline-withdrawals/s")
	b.ReportMetric(rate/baseline, "ratio")
	if err := f.ledger.Check(ctx); err != nil {
		b.Fatal(err)
	}
}
