package ledger

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

// pgbenchTPS runs pgbench with 32 clients for the given time on an
// equivalent schema and returns its transactions per second.
func pgbenchTPS(b *testing.B, dsn string, hot bool) float64 {
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
		DROP TABLE IF EXISTS pgb_entries, pgb_accounts;
		CREATE TABLE pgb_accounts (id int PRIMARY KEY, balance bigint NOT NULL);
		CREATE TABLE pgb_entries (id bigserial PRIMARY KEY, account_id int NOT NULL REFERENCES pgb_accounts, delta bigint NOT NULL);
		INSERT INTO pgb_accounts SELECT g, 1000000000 FROM generate_series(1, 1000) g;`); err != nil {
		b.Fatal(err)
	}
	from := `\set a random(1, 1000)`
	if hot {
		from = `\set a 1`
	}
	script := from + "\n" + `\set b random(2, 1000)
\set amt random(1, 100000)
BEGIN ISOLATION LEVEL SERIALIZABLE;
UPDATE pgb_accounts SET balance = balance - :amt WHERE id = :a;
UPDATE pgb_accounts SET balance = balance + :amt WHERE id = :b;
INSERT INTO pgb_entries (account_id, delta) VALUES (:a, -:amt), (:b, :amt);
END;
`
	dir, _ := os.MkdirTemp("", "pgbench-")
	defer os.RemoveAll(dir)
	f := filepath.Join(dir, "transfer.sql")
	if err := os.WriteFile(f, []byte(script), 0o644); err != nil {
		b.Fatal(err)
	}
	out, err := exec.Command(bin, "-n", "-c", strconv.Itoa(benchClients), "-j", "2", "-T", "8", "--max-tries=1000", "-f", f, dsn).CombinedOutput()
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

func benchTransfers(b *testing.B, hot bool) {
	env := setupBench(b)
	baseline := pgbenchTPS(b, env.dsn, hot)
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
