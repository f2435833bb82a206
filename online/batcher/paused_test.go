package batcher

import (
	"errors"
	"testing"

	"github.com/cryptoassets/cryptoassets/online/withdrawals"
)

// While the circuit breaker is tripped the batcher builds no batch, even
// for withdrawals requested before it tripped; after an operator resumes,
// the next step pays them.
func TestBatcherBuildsNoBatchWhileTheBreakerIsTripped(t *testing.T) {
	e := newEnv(t, Config{})
	e.Fund("alice", 2_000_000)
	svc, err := withdrawals.New(e.Ledger, withdrawals.Config{Params: regtest, Limits: withdrawals.Limits{HotOutflowPerHourSat: 1_000_000}})
	if err != nil {
		t.Fatal(err)
	}
	w, err := svc.Request(e.Ctx, withdrawals.Request{Account: "alice", Address: outside(t, 1), Amount: 600_000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Request(e.Ctx, withdrawals.Request{Account: "alice", Address: outside(t, 2), Amount: 400_001}); !errors.Is(err, withdrawals.ErrLimitHotOutflow) {
		t.Fatalf("request over the hourly outflow: %v", err)
	}
	e.step()
	e.step()
	if got := e.Withdrawal(w.ID); got.State != withdrawals.Requested {
		t.Fatalf("state %s while paused", got.State)
	}
	if n := e.Count(`SELECT count(*) FROM btc.batches`); n != 0 {
		t.Fatalf("%d batches built while paused", n)
	}
	if _, err := svc.Resume(e.Ctx, "carol"); err != nil {
		t.Fatal(err)
	}
	e.step()
	if got := e.Withdrawal(w.ID); got.State != withdrawals.Broadcast {
		t.Fatalf("state %s after resume", got.State)
	}
	e.invariants()
}

// A withdrawal awaiting approval is not batched until it is approved.
func TestBatcherLeavesWithdrawalsAwaitingApproval(t *testing.T) {
	e := newEnv(t, Config{})
	e.Fund("alice", 2_000_000)
	svc, err := withdrawals.New(e.Ledger, withdrawals.Config{Params: regtest, Approval: withdrawals.Approval{AboveSat: 500_000}})
	if err != nil {
		t.Fatal(err)
	}
	w, err := svc.Request(e.Ctx, withdrawals.Request{Account: "alice", Address: outside(t, 1), Amount: 600_000})
	if err != nil || w.State != withdrawals.AwaitingApproval {
		t.Fatalf("request above the threshold: %+v, %v", w, err)
	}
	e.step()
	if got := e.Withdrawal(w.ID); got.State != withdrawals.AwaitingApproval || e.Count(`SELECT count(*) FROM btc.batches`) != 0 {
		t.Fatalf("state %s before approval", got.State)
	}
	if _, err := svc.Approve(e.Ctx, w.ID, withdrawals.Decider{Operator: "carol"}); err != nil {
		t.Fatal(err)
	}
	e.step()
	if got := e.Withdrawal(w.ID); got.State != withdrawals.Broadcast {
		t.Fatalf("state %s after approval", got.State)
	}
	e.invariants()
}
