package withdrawals

import (
	"context"
	"fmt"
	"math/rand/v2"
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
//
//	go test ./online/withdrawals -run '^$' -bench WithdrawalRequests -benchtime 3000x
func BenchmarkWithdrawalRequests(b *testing.B) {
	const clients, accounts = 32, 1000
	dsn := testenv.NewDatabase(b)
	f := newFixtureOn(b, dsn, 40, 0)
	names := make([]string, accounts)
	for i := range names {
		names[i] = fmt.Sprintf("acct-%04d", i)
		f.customer(b, names[i], 100*100_000_000)
	}
	baseline := pgbench.TransferTPS(b, dsn, clients, false)
	ctx := context.Background()
	before := f.runner.Stats()
	var seq atomic.Uint64
	var failed atomic.Int64
	b.SetParallelism((clients + 1) / 2) // × GOMAXPROCS(2) = 32 clients
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(seq.Add(1), 11))
		for pb.Next() {
			_, err := f.svc.Request(ctx, Request{Account: names[rng.IntN(accounts)], Address: outside, Amount: 1000 + rng.Int64N(100_000)})
			if err != nil {
				failed.Add(1)
			}
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if failed.Load() > 0 {
		b.Fatalf("%d requests failed", failed.Load())
	}
	rate := float64(b.N) / elapsed.Seconds()
	st := f.runner.Stats()
	b.ReportMetric(float64(st.Retries-before.Retries)/float64(st.Commits-before.Commits), "retries/commit")
	b.ReportMetric(rate, "withdrawals/s")
	b.ReportMetric(baseline, "pgbench-tps")
	b.ReportMetric(rate/baseline, "ratio")
	if err := f.ledger.Check(ctx); err != nil {
		b.Fatal(err)
	}
}
