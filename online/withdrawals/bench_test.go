package withdrawals

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
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
	baseline := pgbenchSpreadTPS(b, dsn, clients)
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

// pgbenchSpreadTPS is the ledger benchmarks' spread baseline.
func pgbenchSpreadTPS(b *testing.B, dsn string, clients int) float64 {
	b.Helper()
	bin, err := devenv.PostgresProgram("pgbench")
	if err != nil {
		b.Fatal(err)
	}
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(context.Background(), `
		DROP TABLE IF EXISTS public.pgb_entries, public.pgb_accounts;
		CREATE TABLE public.pgb_accounts (id int PRIMARY KEY, balance bigint NOT NULL);
		CREATE TABLE public.pgb_entries (id bigserial PRIMARY KEY, account_id int NOT NULL REFERENCES public.pgb_accounts, delta bigint NOT NULL);
		INSERT INTO public.pgb_accounts SELECT g, 1000000000 FROM generate_series(1, 1000) g;`); err != nil {
		b.Fatal(err)
	}
	script := `\set a random(1, 1000)
\set b random(2, 1000)
\set amt random(1, 100000)
BEGIN ISOLATION LEVEL SERIALIZABLE;
UPDATE public.pgb_accounts SET balance = balance - :amt WHERE id = :a;
UPDATE public.pgb_accounts SET balance = balance + :amt WHERE id = :b;
INSERT INTO public.pgb_entries (account_id, delta) VALUES (:a, -:amt), (:b, :amt);
END;
`
	dir := b.TempDir()
	file := filepath.Join(dir, "transfer.sql")
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		b.Fatal(err)
	}
	out, err := exec.Command(bin, "-n", "-c", strconv.Itoa(clients), "-j", "2", "-T", "8", "--max-tries=1000", "-f", file, dsn).CombinedOutput()
	if err != nil {
		b.Fatalf("pgbench: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`tps = ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		b.Fatalf("pgbench output without tps:\n%s", out)
	}
	tps, _ := strconv.ParseFloat(string(m[1]), 64)
	return tps
}
