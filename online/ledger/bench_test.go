package ledger

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cryptoassets/cryptoassets/internal/pgbench"
	"github.com/cryptoassets/cryptoassets/internal/storetest"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
)

// The transfer benchmarks run 32 clients against the test cluster, and beside
// each the same server's pgbench TPS for an equivalent two-row serializable
// update (two balance updates and two ledger inserts, retried on conflict),
// so the ratio is measured in one run on one machine.
//
//	go test ./online/ledger -run '^$' -bench Transfers -benchtime 3000x
const (
	benchClients  = 32
	benchAccounts = 1000
)

type benchLedger struct {
	l     *Ledger
	names []string
	dsn   string
}

func setupBench(b *testing.B) *benchLedger {
	b.Helper()
	dsn := testenv.NewDatabase(b)
	l, err := New(storetest.RunnerOn(b, dsn, 40, "btc"), "btc")
	if err != nil {
		b.Fatal(err)
	}
	env := &benchLedger{l: l, dsn: dsn}
	ctx := context.Background()
	for i := 0; i < benchAccounts; i++ {
		n := fmt.Sprintf("acct-%04d", i)
		if _, err := l.CreateAccount(ctx, n); err != nil {
			b.Fatal(err)
		}
		fund(b, l, n, 10*100_000_000)
		env.names = append(env.names, n)
	}
	return env
}

func benchTransfers(b *testing.B, hot bool) {
	env := setupBench(b)
	baseline := pgbench.TransferTPS(b, env.dsn, benchClients, hot)
	ctx := context.Background()
	var seq atomic.Uint64
	var refused atomic.Int64
	b.SetParallelism((benchClients + 1) / 2) // × GOMAXPROCS(2) = 32 clients
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(seq.Add(1), 7))
		for pb.Next() {
			i := rng.IntN(benchAccounts)
			j := (i + 1 + rng.IntN(benchAccounts-1)) % benchAccounts
			if hot {
				i = 0
				j = 1 + rng.IntN(benchAccounts-1)
			}
			_, err := env.l.Transfer(ctx, TransferRequest{From: env.names[i], To: env.names[j], Amount: 1 + rng.Int64N(100_000)})
			if err != nil {
				refused.Add(1)
			}
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if refused.Load() > 0 {
		b.Fatalf("%d transfers failed", refused.Load())
	}
	tps := float64(b.N) / elapsed.Seconds()
	st := env.l.Runner().Stats()
	b.ReportMetric(float64(st.Retries)/float64(st.Commits), "retries/commit")
	b.ReportMetric(tps, "transfers/s")
	b.ReportMetric(baseline, "pgbench-tps")
	b.ReportMetric(tps/baseline, "ratio")
	if err := env.l.Check(ctx); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkTransfers(b *testing.B) {
	b.Run("spread", func(b *testing.B) { benchTransfers(b, false) })
	b.Run("one-hot-account", func(b *testing.B) { benchTransfers(b, true) })
}
