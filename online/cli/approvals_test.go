package cli

import "testing"

// The operator's commands with limits and approvals from the
// configuration: two approvals (the same operator twice counts once), a
// breach of the hourly outflow pausing withdrawals until `withdrawals
// resume`, and operator-scoped tokens.
func TestWithdrawalApprovalsAndBreakerCommands(t *testing.T) {
	e := newCLIEnv(t, "hot_outflow_per_hour_sat = 50000\napproval_above_sat = 20000\napprovals = 2\n", "alice")
	e.fund(e.ledger(2, e.cfg.RunnerConfig()), "alice", 100_000)
	addr := "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
	e.check([]outputCase{
		{args: []string{"withdraw", "alice", addr, "30000sat"}, want: []string{"awaiting_approval"}},
		{args: []string{"withdrawals", "approve", "--operator", "carol", "1"}, want: []string{"approvals: 1 of 2"}},
		{args: []string{"withdrawals", "approve", "--operator", "carol", "1"}, want: []string{"approvals: 1 of 2"}},
		{args: []string{"withdrawals", "approve", "1"}, wantErr: "operator"},
		{args: []string{"withdrawals", "approve", "--operator", "dave", "1"}, want: []string{"approvals: 2 of 2"}},
		{args: []string{"withdrawals", "show", "1"}, want: []string{"requested"}},
		{args: []string{"withdrawals", "breaker"}, want: []string{"running"}},
		{args: []string{"withdraw", "alice", addr, "20001sat"}, wantErr: "hot_outflow_per_hour_sat"},
		{args: []string{"withdrawals", "breaker"}, want: []string{"paused since"}},
		{args: []string{"withdraw", "alice", addr, "1000sat"}, wantErr: "paused"},
		{args: []string{"withdrawals", "resume", "--operator", "carol"}, want: []string{"resumed by carol"}},
		{args: []string{"withdrawals", "resume", "--operator", "carol"}, wantErr: "not paused"},
		{args: []string{"withdraw", "alice", addr, "1000sat"}, want: []string{"requested"}},
		{args: []string{"token", "create", "--scope", "operator", "ops"}, want: []string{"cat_"}},
		{args: []string{"token", "create", "--scope", "admin", "ops"}, wantErr: "want application or operator"},
	})
}
