package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cryptoassets/cryptoassets/internal/pgbench"
	"github.com/cryptoassets/cryptoassets/internal/storetest"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// The ledger benchmarks run 32 clients against the test cluster and, beside
// them in the same run, pgbench on the same server. Each alternates in three
// rounds (each pgbench script for 3 s, then a third of the postings), so
// other work on the machine weighs on both alike.
//
//	go test ./online/ledger -run '^$' -bench 'Transfers|InternalPostings' -benchtime 5000x
const (
	benchClients  = 32
	benchAccounts = 1000
	benchRounds   = 3
)

type benchLedger struct {
	l       *Ledger
	names   []string
	ids     []int64
	dsn     string
	reasons *conflictReasons
}

func setupBench(b *testing.B) *benchLedger {
	b.Helper()
	dsn := testenv.NewDatabase(b)
	migrated := storetest.RunnerOn(b, dsn, 40, "btc")
	// The same pool, with a runner that tallies why attempts were retried.
	reasons := &conflictReasons{n: map[string]int{}}
	runner := store.NewRunner(migrated.Pool(), store.RunnerConfig{MaxAttempts: 100, BaseDelay: time.Millisecond, MaxDelay: 50 * time.Millisecond},
		slog.New(reasons))
	l, err := New(runner, "btc")
	if err != nil {
		b.Fatal(err)
	}
	env := &benchLedger{l: l, dsn: dsn, reasons: reasons}
	ctx := context.Background()
	for i := 0; i < benchAccounts; i++ {
		n := fmt.Sprintf("acct-%04d", i)
		a, err := l.CreateAccount(ctx, n)
		if err != nil {
			b.Fatal(err)
		}
		fund(b, l, n, 10*100_000_000)
		env.names = append(env.names, n)
		env.ids = append(env.ids, a.ID)
	}
	return env
}

// run measures op with 32 clients in benchRounds rounds, each after the
// baselines' own round, and reports the figure as unit, the first baseline
// as "baseline-"+unit, their ratio, each further baseline under its name,
// and the retries per commit of both sides.
func (env *benchLedger) run(b *testing.B, unit string, baselines []baseline, op func(rng *rand.Rand) error) {
	ctx := context.Background()
	before := env.l.Runner().Stats()
	env.reasons.reset()
	sums := make([]float64, len(baselines))
	pgRetries := make([]float64, len(baselines))
	pgTxns := make([]float64, len(baselines))
	pgServer := make([]time.Duration, len(baselines))
	pgClient := make([]time.Duration, len(baselines))
	var server, client time.Duration
	cpu := newCPUMeter(b, env.l.Runner().Pool())
	var failed atomic.Int64
	var firstErr atomic.Value
	var elapsed time.Duration
	updates, hot := env.balanceUpdates(b)
	b.ResetTimer()
	for r := range benchRounds {
		b.StopTimer()
		for i, bl := range baselines {
			reaped, child := cpu.reapedWhenGone(b), children()
			res := bl.script.Run(b, benchClients, 3*time.Second)
			pgServer[i] += cpu.reapedWhenGone(b) - reaped
			pgClient[i] += children() - child
			sums[i] += res.TPS / benchRounds
			pgRetries[i] += res.RetriesPerCommit / benchRounds
			pgTxns[i] += res.Transactions
		}
		backends, own := cpu.backends(b), self()
		b.StartTimer()
		n := int64(b.N*(r+1)/benchRounds - b.N*r/benchRounds)
		var taken atomic.Int64
		var wg sync.WaitGroup
		var probe sync.WaitGroup
		if r == benchRounds-1 {
			// What the running postings hold, a moment into the last round.
			probe.Add(1)
			go func() {
				defer probe.Done()
				time.Sleep(300 * time.Millisecond)
				b.Logf("locks held mid-round: %s", env.locks())
			}()
		}
		start := time.Now()
		for c := range benchClients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(r), uint64(c)))
				for taken.Add(1) <= n {
					if err := op(rng); err != nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err)
					}
				}
			}()
		}
		wg.Wait()
		elapsed += time.Since(start)
		b.StopTimer()
		probe.Wait()
		server += spent(backends, cpu.backends(b))
		client += self() - own
		b.StartTimer()
	}
	b.StopTimer()
	if failed.Load() > 0 {
		b.Fatalf("%d of %d failed, the first: %v", failed.Load(), b.N, firstErr.Load())
	}
	rate := float64(b.N) / elapsed.Seconds()
	st := env.l.Runner().Stats()
	b.ReportMetric(float64(st.Retries-before.Retries)/float64(st.Commits-before.Commits), "retries/commit")
	b.ReportMetric(rate, unit)
	b.ReportMetric(sums[0], "baseline-"+unit)
	b.ReportMetric(rate/sums[0], "ratio")
	for i, bl := range baselines {
		if i > 0 {
			b.ReportMetric(sums[i], bl.name+"-"+unit)
		}
		b.ReportMetric(pgRetries[i], bl.name+"-retries/commit")
	}
	if cpu != nil {
		// CPU per operation, server and client, of each side: what the
		// ratio comes to when the cores are shared with other work.
		op := strings.TrimSuffix(unit, "s/s")
		b.ReportMetric(float64(server.Microseconds())/float64(b.N), "server-cpu-µs/"+op)
		b.ReportMetric(float64(client.Microseconds())/float64(b.N), "client-cpu-µs/"+op)
		for i, bl := range baselines {
			b.ReportMetric(float64(pgServer[i].Microseconds())/pgTxns[i], bl.name+"-server-cpu-µs/"+op)
			b.ReportMetric(float64(pgClient[i].Microseconds())/pgTxns[i], bl.name+"-client-cpu-µs/"+op)
		}
	}
	// The backends report their table statistics within a second.
	time.Sleep(1500 * time.Millisecond)
	updates2, hot2 := env.balanceUpdates(b)
	b.Logf("balance rows updated %d times, %d of them HOT (no index entry added)", updates2-updates, hot2-hot)
	if s := env.reasons.String(); s != "" {
		b.Logf("retried attempts by reason: %s", s)
	}
	if err := env.l.Check(ctx); err != nil {
		b.Fatal(err)
	}
}

// locks summarizes pg_locks for the benchmark's database: each kind of
// lock on each relation (predicate locks included), with how many are
// held and how many waited for.
func (env *benchLedger) locks() string {
	rows, err := env.l.Runner().Pool().Query(context.Background(), `
		SELECT l.locktype || ' ' || l.mode || coalesce(' on ' || c.relname, '') || CASE WHEN l.granted THEN '' ELSE ' (waiting)' END, count(*)
		FROM pg_locks l LEFT JOIN pg_class c ON c.oid = l.relation
		WHERE l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) OR l.locktype = 'transactionid'
		GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 12`)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var what string
		var n int
		if err := rows.Scan(&what, &n); err != nil {
			return err.Error()
		}
		out = append(out, fmt.Sprintf("%d× %s", n, what))
	}
	return strings.Join(out, "; ")
}

// balanceUpdates is how many times balance rows were updated so far, and
// how many of those were HOT updates.
func (env *benchLedger) balanceUpdates(b *testing.B) (updates, hot int64) {
	b.Helper()
	if err := env.l.Runner().Pool().QueryRow(context.Background(),
		`SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relid = 'btc.balances'::regclass`).Scan(&updates, &hot); err != nil {
		b.Fatal(err)
	}
	return updates, hot
}

type baseline struct {
	name   string
	script *pgbench.Transfers
}

func benchTransfers(b *testing.B, hot bool) {
	env := setupBench(b)
	name := "pgbench"
	if hot {
		name = "pgbench-hot"
	}
	ctx := context.Background()
	env.run(b, "transfers/s", []baseline{{name, pgbench.NewTransfers(b, env.dsn, hot)}}, func(rng *rand.Rand) error {
		i := rng.IntN(benchAccounts)
		j := (i + 1 + rng.IntN(benchAccounts-1)) % benchAccounts
		if hot {
			i = 0
			j = 1 + rng.IntN(benchAccounts-1)
		}
		_, err := env.l.Transfer(ctx, TransferRequest{From: env.names[i], To: env.names[j], Amount: 1 + rng.Int64N(100_000)})
		return err
	})
}

// BenchmarkTransfers is 32 clients making transfers between customer
// accounts beside pgbench's equivalent two-row serializable update
// (--max-tries=1000): "spread" between random accounts of 1,000, and
// "one-hot-account" with every transfer leaving the same account (pgbench's
// leaving the same row). A ratio is the ledger's rate over pgbench's: higher
// is better; the spread target is 0.5.
func BenchmarkTransfers(b *testing.B) {
	b.Run("spread", func(b *testing.B) { benchTransfers(b, false) })
	b.Run("one-hot-account", func(b *testing.B) { benchTransfers(b, true) })
}

// BenchmarkInternalPostings is 32 clients posting between a customer and
// the hot wallet, the shape of every deposit credit and withdrawal: PostTx
// in its own serializable transaction, alternately crediting and debiting
// one of 1,000 customers against one of the hot wallet's slots. Beside it,
// in the same run: pgbench's spread figure (BenchmarkTransfers' baseline,
// "baseline-postings/s") and a pgbench script of the same shape (one of
// 1,000 customer rows and one of the hot wallet's number of slot rows, the
// slot at random, the same inserts: "pgbench-internal-postings/s"). The
// ratio is postings/s over the spread figure: higher is better, the target
// 0.5.
func BenchmarkInternalPostings(b *testing.B) {
	env := setupBench(b)
	ctx := context.Background()
	var hot int64
	var slots int
	if err := env.l.Runner().InTx(ctx, "hot", func(tx *store.Tx) (err error) {
		hot, slots, err = env.l.Internal(tx, HotWallet)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	b.Logf("hot wallet slots: %d", slots)
	env.run(b, "postings/s", []baseline{
		{"pgbench", pgbench.NewTransfers(b, env.dsn, false)},
		{"pgbench-internal", pgbench.NewInternal(b, env.dsn, slots)},
	}, func(rng *rand.Rand) error {
		c := env.ids[rng.IntN(benchAccounts)]
		amt := 1 + rng.Int64N(100_000)
		if rng.IntN(2) == 0 {
			amt = -amt
		}
		return env.l.Runner().InTx(ctx, "internal-posting", func(tx *store.Tx) error {
			_, err := env.l.PostTx(tx, "bench", "", []Posting{{AccountID: c, Available: amt}, {AccountID: hot, Available: -amt}})
			return err
		})
	})
}

// conflictReasons is a slog handler counting the runner's retried attempts
// by the server's message and reason code.
type conflictReasons struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *conflictReasons) Enabled(context.Context, slog.Level) bool { return true }
func (c *conflictReasons) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *conflictReasons) WithGroup(string) slog.Handler            { return c }

func (c *conflictReasons) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != "err" {
			return true
		}
		reason := fmt.Sprint(a.Value.Any())
		var pg *pgconn.PgError
		if err, ok := a.Value.Any().(error); ok && errors.As(err, &pg) {
			reason = pg.Code + " " + pg.Message
			if pg.Detail != "" {
				reason += " (" + strings.TrimPrefix(pg.Detail, "Reason code: ") + ")"
			}
		}
		c.mu.Lock()
		c.n[reason]++
		c.mu.Unlock()
		return false
	})
	return nil
}

func (c *conflictReasons) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.n)
}

func (c *conflictReasons) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := make([]string, 0, len(c.n))
	for k := range c.n {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return c.n[keys[i]] > c.n[keys[j]] })
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = fmt.Sprintf("%d× %s", c.n[k], k)
	}
	return strings.Join(out, "; ")
}
