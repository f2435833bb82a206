package cli

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/cryptoassets/cryptoassets/online/config"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// The operator's commands with limits and approvals from the
// configuration: two approvals (the same operator twice counts once), a
// breach of the hourly outflow pausing withdrawals until `withdrawals
// resume`, and operator-scoped tokens.
func TestWithdrawalApprovalsAndBreakerCommands(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	ctx := context.Background()
	conf := writeConfig(t, "btc")
	f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("hot_outflow_per_hour_sat = 50000\napproval_above_sat = 20000\napprovals = 2\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, args := range [][]string{{"migrate"}, {"account", "create", "alice"}} {
		if out, err := run(t, conf, args...); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	cfg, err := config.LoadFromOS(conf)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := store.Open(ctx, cfg.Database.URL, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	l, err := ledger.New(store.NewRunner(pool, cfg.RunnerConfig(), nil), "btc")
	if err != nil {
		t.Fatal(err)
	}
	a, err := l.GetAccount(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Runner().InTx(ctx, "fund", func(tx *store.Tx) error {
		hot, _, err := l.Internal(tx, ledger.HotWallet)
		if err != nil {
			return err
		}
		_, err = l.PostTx(tx, "test_funding", "", []ledger.Posting{{AccountID: hot, Available: -100_000}, {AccountID: a.ID, Available: 100_000}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	addr := "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
	for _, s := range []struct {
		args          []string
		want, wantErr string
	}{
		{[]string{"withdraw", "alice", addr, "30000sat"}, "awaiting_approval", ""},
		{[]string{"withdrawals", "approve", "--operator", "carol", "1"}, "approvals: 1 of 2", ""},
		{[]string{"withdrawals", "approve", "--operator", "carol", "1"}, "approvals: 1 of 2", ""},
		{[]string{"withdrawals", "approve", "1"}, "", "operator"},
		{[]string{"withdrawals", "approve", "--operator", "dave", "1"}, "approvals: 2 of 2", ""},
		{[]string{"withdrawals", "show", "1"}, "requested", ""},
		{[]string{"withdrawals", "breaker"}, "running", ""},
		{[]string{"withdraw", "alice", addr, "20001sat"}, "", "hot_outflow_per_hour_sat"},
		{[]string{"withdrawals", "breaker"}, "paused since", ""},
		{[]string{"withdraw", "alice", addr, "1000sat"}, "", "paused"},
		{[]string{"withdrawals", "resume", "--operator", "carol"}, "resumed by carol", ""},
		{[]string{"withdrawals", "resume", "--operator", "carol"}, "", "not paused"},
		{[]string{"withdraw", "alice", addr, "1000sat"}, "requested", ""},
		{[]string{"token", "create", "--scope", "operator", "ops"}, "cat_", ""},
		{[]string{"token", "create", "--scope", "admin", "ops"}, "", "want application or operator"},
	} {
		out, err := run(t, conf, s.args...)
		switch {
		case s.wantErr != "" && (err == nil || !strings.Contains(err.Error()+out, s.wantErr)):
			t.Fatalf("%v: want error %q, got %v\n%s", s.args, s.wantErr, err, out)
		case s.wantErr == "" && err != nil:
			t.Fatalf("%v: %v\n%s", s.args, err, out)
		case !strings.Contains(out, s.want):
			t.Fatalf("%v: want %q in\n%s", s.args, s.want, out)
		}
	}
}
