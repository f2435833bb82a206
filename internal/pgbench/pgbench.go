package pgbench

import (
	"context"
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

// Transfers is pgbench's transfer baseline on one server: a serializable
// transfer between two of 1,000 rows (two balance updates and two entry
// inserts, retried on conflict); with hot, every transfer leaves row 1, so
// all of them touch one row.
type Transfers struct {
	bin, dsn, script string
}

// NewTransfers creates the baseline's tables in dsn's database (public.pgb_*,
// replacing any earlier ones) and writes its script.
func NewTransfers(tb testing.TB, dsn string, hot bool) *Transfers {
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
	if _, err := pool.Exec(context.Background(), `
		DROP TABLE IF EXISTS public.pgb_entries, public.pgb_accounts;
		CREATE TABLE public.pgb_accounts (id int PRIMARY KEY, balance bigint NOT NULL);
		CREATE TABLE public.pgb_entries (id bigserial PRIMARY KEY, account_id int NOT NULL REFERENCES public.pgb_accounts, delta bigint NOT NULL);
		INSERT INTO public.pgb_accounts SELECT g, 1000000000 FROM generate_series(1, 1000) g;`); err != nil {
		tb.Fatal(err)
	}
	from := `\set a random(1, 1000)`
	if hot {
		from = `\set a 1`
	}
	script := from + "\n" + `\set b random(2, 1000)
\set amt random(1, 100000)
BEGIN ISOLATION LEVEL SERIALIZABLE;
UPDATE public.pgb_accounts SET balance = balance - :amt WHERE id = :a;
UPDATE public.pgb_accounts SET balance = balance + :amt WHERE id = :b;
INSERT INTO public.pgb_entries (account_id, delta) VALUES (:a, -:amt), (:b, :amt);
END;
`
	file := filepath.Join(tb.TempDir(), "transfer.sql")
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		tb.Fatal(err)
	}
	return &Transfers{bin: bin, dsn: dsn, script: file}
}

// TPS runs pgbench with clients for d (whole seconds, at least one) and
// returns its transactions per second.
func (p *Transfers) TPS(tb testing.TB, clients int, d time.Duration) float64 {
	tb.Helper()
	secs := max(1, int(d.Round(time.Second)/time.Second))
	out, err := exec.Command(p.bin, "-n", "-c", strconv.Itoa(clients), "-j", "2", "-T", strconv.Itoa(secs),
		"--max-tries=1000", "-f", p.script, p.dsn).CombinedOutput()
	if err != nil {
		tb.Fatalf("pgbench: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`tps = ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		tb.Fatalf("pgbench output without tps:\n%s", out)
	}
	tps, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		tb.Fatalf("pgbench tps %q: %v", m[1], err)
	}
	return tps
}

// TransferTPS runs the transfer baseline with clients for 8 seconds against
// dsn and returns its transactions per second.
func TransferTPS(tb testing.TB, dsn string, clients int, hot bool) float64 {
	tb.Helper()
	return NewTransfers(tb, dsn, hot).TPS(tb, clients, 8*time.Second)
}
