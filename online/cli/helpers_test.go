package cli

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/config"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// cliEnv is a configuration (asset btc, on a node nobody asks) naming a
// fresh database, migrated, and the accounts a test created with
// `account create`.
type cliEnv struct {
	t    *testing.T
	ctx  context.Context
	conf string
	cfg  *config.Config
}

// newCLIEnv writes the configuration, with extra appended (the asset's own
// settings: limits, approvals), runs migrate and creates each account
// through the command line.
func newCLIEnv(t *testing.T, extra string, accounts ...string) *cliEnv {
	t.Helper()
	t.Setenv("DATABASE_URL", "")
	e := &cliEnv{t: t, ctx: context.Background(), conf: writeConfig(t, "btc")}
	if extra != "" {
		f, err := os.OpenFile(e.conf, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.WriteString(extra)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	cmds := [][]string{{"migrate"}}
	for _, a := range accounts {
		cmds = append(cmds, []string{"account", "create", a})
	}
	for _, args := range cmds {
		if out, err := e.run(args...); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	var err error
	if e.cfg, err = config.LoadFromOS(e.conf); err != nil {
		t.Fatal(err)
	}
	return e
}

// run runs the command line with the test's configuration.
func (e *cliEnv) run(args ...string) (string, error) {
	e.t.Helper()
	return run(e.t, e.conf, args...)
}

// ledger opens btc's ledger on the database, through a pool of conns
// connections and a runner of rc (e.cfg.RunnerConfig() for the configured
// one), closed when the test ends.
func (e *cliEnv) ledger(conns int32, rc store.RunnerConfig) *ledger.Ledger {
	e.t.Helper()
	pool, err := store.Open(e.ctx, e.cfg.Database.URL, conns)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(pool.Close)
	l, err := ledger.New(store.NewRunner(pool, rc, nil), "btc")
	if err != nil {
		e.t.Fatal(err)
	}
	return l
}

// fund credits account sat from the hot wallet's ledger account, as a
// deposit would, without a coin behind it.
func (e *cliEnv) fund(l *ledger.Ledger, account string, sat int64) {
	e.t.Helper()
	a, err := l.GetAccount(e.ctx, account)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := l.Runner().InTx(e.ctx, "fund", func(tx *store.Tx) error {
		hot, _, err := l.Internal(tx, ledger.HotWallet)
		if err != nil {
			return err
		}
		_, err = l.PostTx(tx, "test_funding", "", []ledger.Posting{{AccountID: hot, Available: -sat}, {AccountID: a.ID, Available: sat}})
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
}

// db connects to the database directly, to put in the rows the printing
// commands read; closed when the test ends.
func (e *cliEnv) db() *pgx.Conn {
	e.t.Helper()
	db, err := pgx.Connect(e.ctx, e.cfg.Database.URL)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { db.Close(context.Background()) })
	return db
}

// outputCase is a command line and the strings its output holds (want)
// and does not (notWant), or the error it fails with (wantErr).
type outputCase struct {
	args    []string
	want    []string
	notWant []string
	wantErr string
}

// check runs each case in order.
func (e *cliEnv) check(cases []outputCase) {
	e.t.Helper()
	for _, s := range cases {
		out, err := e.run(s.args...)
		if s.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), s.wantErr) {
				e.t.Fatalf("%v: want error %q, got %v\n%s", s.args, s.wantErr, err, out)
			}
			continue
		}
		if err != nil {
			e.t.Fatalf("%v: %v\n%s", s.args, err, out)
		}
		for _, w := range s.want {
			if !strings.Contains(out, w) {
				e.t.Fatalf("%v: no %q in\n%s", s.args, w, out)
			}
		}
		for _, w := range s.notWant {
			if strings.Contains(out, w) {
				e.t.Fatalf("%v: %q in\n%s", s.args, w, out)
			}
		}
	}
}
