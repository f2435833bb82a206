package cli

import (
	"strings"
	"testing"
)

// `withdraw` debits the account, a replay under the same key debits nothing
// more, a refusal is kept under its key, `withdrawals list|show` print it and `withdrawals cancel` refunds it.
func TestWithdrawCommandsRequestReplayCancel(t *testing.T) {
	e := newCLIEnv(t, "", "alice")
	ctx, l := e.ctx, e.ledger(2, e.cfg.RunnerConfig())
	e.fund(l, "alice", 100_000)
	balance := func() int64 {
		t.Helper()
		a, err := l.GetAccount(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		return a.Available
	}
	addr := "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
	for range 2 {
		out, err := e.run("withdraw", "--idempotency-key", "ticket-1", "alice", addr, "30000sat")
		if err != nil || !strings.Contains(out, "withdrawal 1  requested") {
			t.Fatalf("withdraw: %v\n%s", err, out)
		}
		if b := balance(); b != 70_000 {
			t.Fatalf("balance %d after withdraw", b)
		}
	}
	if out, err := e.run("withdraw", "--idempotency-key", "ticket-1", "alice", addr, "40000sat"); err == nil || !strings.Contains(err.Error(), "used for a different request") {
		t.Fatalf("key reused: %v\n%s", err, out)
	}
	if out, err := e.run("withdraw", "alice", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "30000sat"); err == nil || !strings.Contains(err.Error(), "mainnet address") {
		t.Fatalf("wrong network: %v\n%s", err, out)
	}
	// A refusal under a key is kept: the same key never debits later.
	for i, want := range []string{"insufficient funds", "refusal stored under this idempotency key"} {
		out, err := e.run("withdraw", "--idempotency-key", "ticket-2", "alice", addr, "0.5")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("over the balance, run %d: %v\n%s", i+1, err, out)
		}
	}
	if out, err := e.run("withdrawals", "list"); err != nil || strings.Count(out, "withdrawal ") != 1 {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if out, err := e.run("withdrawals", "show", "1"); err != nil || !strings.Contains(out, addr) {
		t.Fatalf("show: %v\n%s", err, out)
	}
	if out, err := e.run("withdrawals", "cancel", "1"); err != nil || !strings.Contains(out, "cancelled") || balance() != 100_000 {
		t.Fatalf("cancel: %v\n%s\nbalance %d", err, out, balance())
	}
	if out, err := e.run("withdrawals", "show", "7"); err == nil || !strings.Contains(err.Error(), "unknown withdrawal") {
		t.Fatalf("show unknown: %v\n%s", err, out)
	}
}
