package pgbench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
)

// Transfers is one pgbench script on one server: a serializable transfer
// between two rows of a table (two balance updates and two entry inserts,
// retried on conflict).
type Transfers struct {
	bin, dsn, script string
}

// customers is the number of customer rows of every baseline's table.
const customers = 1000

// NewTransfers creates the transfer baseline's tables in dsn's database
// (public.pgb_*, replacing any earlier ones) and writes its script: a
// transfer between two of 1,000 rows; with hot, every transfer leaves row 1,
// so all of them touch one row.
func NewTransfers(tb testing.TB, dsn string, hot bool) *Transfers {
	tb.Helper()
	from := `\set a random(1, 1000)`
	if hot {
		from = `\set a 1`
	}
	return newScript(tb, dsn, "pgb", customers, from+"\n"+`\set b random(2, 1000)`)
}

// NewInternal creates the customer <-> internal baseline's tables in dsn's
// database (public.pgbi_*, replacing any earlier ones) and writes its
// script: the shape of a deposit credit or a withdrawal, a transfer between
// one of 1,000 customer rows and one of an internal account's slots rows,
// the slot chosen at random, the direction alternating.
func NewInternal(tb testing.TB, dsn string, slots int) *Transfers {
	tb.Helper()
	return newScript(tb, dsn, "pgbi", customers+slots, fmt.Sprintf(`\set c random(1, %d)
\set s random(%d, %d)
\if random(0, 1) = 0
\set a :c
\set b :s
\else
\set a :s
\set b :c
\endif`, customers, customers+1, customers+slots))
}

// newScript creates prefix_accounts of rows rows and prefix_entries, and a
// script that sets :a and :b with pick and moves a random amount from :a to
// :b.
func newScript(tb testing.TB, dsn, prefix string, rows int, pick string) *Transfers {
	tb.Helper()
	bin, err := devenv.PostgresProgram("pgbench")
	if err != nil {
		tb.Fatal(err)
	}
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		tb.Fatal(err)
	}
	defer pool.Close()
	accounts, entries := "public."+prefix+"_accounts", "public."+prefix+"_entries"
	if _, err := pool.Exec(context.Background(), fmt.Sprintf(`
		DROP TABLE IF EXISTS %[2]s, %[1]s;
		CREATE TABLE %[1]s (id int PRIMARY KEY, balance bigint NOT NULL);
		CREATE TABLE %[2]s (id bigserial PRIMARY KEY, account_id int NOT NULL REFERENCES %[1]s, delta bigint NOT NULL);
		INSERT INTO %[1]s SELECT g, 1000000000 FROM generate_series(1, %[3]d) g;`, accounts, entries, rows)); err != nil {
		tb.Fatal(err)
	}
	script := pick + "\n" + fmt.Sprintf(`\set amt random(1, 100000)
BEGIN ISOLATION LEVEL SERIALIZABLE;
UPDATE %[1]s SET balance = balance - :amt WHERE id = :a;
UPDATE %[1]s SET balance = balance + :amt WHERE id = :b;
INSERT INTO %[2]s (account_id, delta) VALUES (:a, -:amt), (:b, :amt);
END;
`, accounts, entries)
	file := filepath.Join(tb.TempDir(), prefix+".sql")
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		tb.Fatal(err)
	}
	return &Transfers{bin: bin, dsn: dsn, script: file}
}

// TPS runs pgbench with clients for d (whole seconds, at least one) and
// returns its transactions per second.
func (p *Transfers) TPS(tb testing.TB, clients int, d time.Duration) float64 {
	return p.Run(tb, clients, d).TPS
}

// Result is what one pgbench run reports.
type Result struct {
	TPS              float64 // transactions per second
	Transactions     float64 // transactions committed
	RetriesPerCommit float64 // serialization failures retried, per committed transaction
}

// Run is TPS with the rest of pgbench's report.
func (p *Transfers) Run(tb testing.TB, clients int, d time.Duration) Result {
	tb.Helper()
	secs := max(1, int(d.Round(time.Second)/time.Second))
	out, err := exec.Command(p.bin, "-n", "-c", strconv.Itoa(clients), "-j", "2", "-T", strconv.Itoa(secs),
		"--max-tries=1000", "-f", p.script, p.dsn).CombinedOutput()
	if err != nil {
		tb.Fatalf("pgbench: %v\n%s", err, out)
	}
	r := Result{
		TPS:          number(tb, out, `tps = ([0-9.]+)`),
		Transactions: number(tb, out, `number of transactions actually processed: ([0-9]+)`),
	}
	if m := regexp.MustCompile(`total number of retries: ([0-9]+)`).FindSubmatch(out); m != nil && r.Transactions > 0 {
		n, _ := strconv.ParseFloat(string(m[1]), 64)
		r.RetriesPerCommit = n / r.Transactions
	}
	return r
}

func number(tb testing.TB, out []byte, re string) float64 {
	tb.Helper()
	m := regexp.MustCompile(re).FindSubmatch(out)
	if m == nil {
		tb.Fatalf("pgbench output without %s:\n%s", re, out)
	}
	f, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		tb.Fatalf("pgbench %q: %v", m[1], err)
	}
	return f
}

// TransferTPS runs the transfer baseline with clients for 8 seconds against
// dsn and returns its transactions per second.
func TransferTPS(tb testing.TB, dsn string, clients int, hot bool) float64 {
	tb.Helper()
	return NewTransfers(tb, dsn, hot).TPS(tb, clients, 8*time.Second)
}
