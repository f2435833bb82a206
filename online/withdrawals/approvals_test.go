package withdrawals

import (
	"errors"
	"github.com/cryptoassets/cryptoassets/online/store"
	"sync"
	"testing"
	"time"

	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/ledger"
)

// A withdrawal above approval_above_sat waits in awaiting_approval, already
// debited; with approvals = 2 two different operators must approve (the
// same one twice counts once), and the requester's token can never approve.
func TestApprovalsHoldUntilEnoughDifferentOperatorsApprove(t *testing.T) {
	for _, required := range []int{1, 2} {
		f := newFixture(t, 4, 300)
		f.customer(t, "alice", 1_000_000)
		ctx := testenv.Ctx(t, time.Minute)
		svc := f.withRules(t, Limits{}, Approval{AboveSat: 100_000, Required: required})
		small, err := svc.Request(ctx, Request{Account: "alice", Address: outside, Amount: 100_000})
		if err != nil || small.State != Requested {
			t.Fatalf("at the threshold: %+v, %v", small, err)
		}
		w, err := svc.Request(ctx, Request{Account: "alice", Address: outside, Amount: 100_001, TokenID: 7, IdempotencyKey: "big"})
		if err != nil || w.State != AwaitingApproval {
			t.Fatalf("above the threshold: %+v, %v", w, err)
		}
		if f.available(t, "alice") != 1_000_000-200_601 || f.internal(t, PendingAccount) != 200_001 {
			t.Fatalf("not debited at request time: alice %d", f.available(t, "alice"))
		}
		if _, err := svc.Approve(ctx, w.ID, Decider{Operator: "mallory", TokenID: 7}); !errors.Is(err, ErrOwnRequest) {
			t.Fatalf("the requester's token approving: %v", err)
		}
		if _, err := svc.Cancel(ctx, w.ID); !errors.Is(err, ErrNotCancellable) {
			t.Fatalf("cancel while awaiting approval: %v", err)
		}
		d, err := svc.Approve(ctx, w.ID, Decider{Operator: "carol", TokenID: 8})
		if err != nil {
			t.Fatal(err)
		}
		if required == 2 {
			if d.Withdrawal.State != AwaitingApproval || d.Approvals != 1 {
				t.Fatalf("after one of two: %+v", d)
			}
			if d, err = svc.Approve(ctx, w.ID, Decider{Operator: "carol"}); err != nil || d.Approvals != 1 || d.Withdrawal.State != AwaitingApproval {
				t.Fatalf("the same operator again: %+v, %v", d, err)
			}
			if _, err := svc.Reject(ctx, w.ID, Decider{Operator: "carol"}); !errors.Is(err, ErrAlreadyDecided) {
				t.Fatalf("the same operator rejecting after approving: %v", err)
			}
			if d, err = svc.Approve(ctx, w.ID, Decider{Operator: "dave"}); err != nil {
				t.Fatal(err)
			}
		}
		if d.Withdrawal.State != Requested || d.Approvals != required {
			t.Fatalf("approvals %d of %d: %+v", d.Approvals, required, d)
		}
		var decisions, approved int
		if err := f.runner.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM btc.withdrawal_approvals WHERE withdrawal_id = $1),
			(SELECT count(*) FROM public.events WHERE type = $2)`, w.ID, EventApproved).Scan(&decisions, &approved); err != nil {
			t.Fatal(err)
		}
		if decisions != required || approved != 1 {
			t.Fatalf("%d decisions recorded, %d approved events", decisions, approved)
		}
		if err := f.ledger.Check(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// A rejection refunds the amount and the fee in the same transaction.
func TestRejectRefundsAmountAndFee(t *testing.T) {
	f := newFixture(t, 4, 300)
	f.customer(t, "alice", 1_000_000)
	ctx := testenv.Ctx(t, time.Minute)
	svc := f.withRules(t, Limits{}, Approval{AboveSat: 1_000})
	w, err := svc.Request(ctx, Request{Account: "alice", Address: outside, Amount: 50_000})
	if err != nil || w.State != AwaitingApproval {
		t.Fatalf("%+v, %v", w, err)
	}
	d, err := svc.Reject(ctx, w.ID, Decider{Operator: "carol"})
	if err != nil || d.Withdrawal.State != Rejected {
		t.Fatalf("reject: %+v, %v", d, err)
	}
	if f.available(t, "alice") != 1_000_000 || f.internal(t, PendingAccount) != 0 || f.internal(t, ledger.NetworkFees) != 0 {
		t.Fatalf("not refunded: alice %d", f.available(t, "alice"))
	}
	if _, err := svc.Approve(ctx, w.ID, Decider{Operator: "dave"}); !errors.Is(err, ErrNotAwaiting) {
		t.Fatalf("approving a rejected withdrawal: %v", err)
	}
	if d, err := svc.Reject(ctx, w.ID, Decider{Operator: "carol"}); err != nil || f.available(t, "alice") != 1_000_000 || d.Withdrawal.State != Rejected {
		t.Fatalf("rejecting again: %v, alice %d", err, f.available(t, "alice"))
	}
	if err := f.ledger.Check(ctx); err != nil {
		t.Fatal(err)
	}
}

// With approve_new_destinations, only a destination no confirmed
// withdrawal has paid waits for approval.
func TestNewDestinationsWaitForApproval(t *testing.T) {
	f := newFixture(t, 4, 0)
	f.customer(t, "alice", 1_000_000)
	ctx := testenv.Ctx(t, time.Minute)
	svc := f.withRules(t, Limits{}, Approval{NewDestinations: true})
	w, err := svc.Request(ctx, Request{Account: "alice", Address: outside, Amount: 10_000})
	if err != nil || w.State != AwaitingApproval {
		t.Fatalf("a new destination: %+v, %v", w, err)
	}
	if _, err := f.runner.Pool().Exec(ctx, `UPDATE btc.withdrawals SET state = 'confirmed' WHERE id = $1`, w.ID); err != nil {
		t.Fatal(err)
	}
	if w, err = svc.Request(ctx, Request{Account: "alice", Address: outside, Amount: 10_000}); err != nil || w.State != Requested {
		t.Fatalf("a destination paid before: %+v, %v", w, err)
	}
	if w, err = svc.Request(ctx, Request{Account: "alice", Address: otherOutside(t, 9), Amount: 10_000}); err != nil || w.State != AwaitingApproval {
		t.Fatalf("another new destination: %+v, %v", w, err)
	}
}

// Two operators approving at once where two are required: the withdrawal
// becomes requested exactly once, with one withdrawal.approved event.
func TestConcurrentApprovalsCountBoth(t *testing.T) {
	f := newFixture(t, 6, 0)
	f.customer(t, "alice", 10_000_000)
	ctx := testenv.Ctx(t, time.Minute)
	svc := f.withRules(t, Limits{}, Approval{AboveSat: 1, Required: 2})
	collisions := uint64(0)
	for round := range 10 {
		w, err := svc.Request(ctx, Request{Account: "alice", Address: outside, Amount: 10_000})
		if err != nil {
			t.Fatal(err)
		}
		before := f.runner.Stats()
		// Both transactions take their snapshot (no approval yet) before
		// either approves, on their first attempt, so they really collide.
		var ready sync.WaitGroup
		ready.Add(2)
		errs := race(2, func(i int) error {
			first := true
			return f.runner.InTx(ctx, "test-approve", func(tx *store.Tx) error {
				var n int
				if err := tx.QueryRow(`SELECT count(*) FROM btc.withdrawal_approvals WHERE withdrawal_id = $1`, w.ID).Scan(&n); err != nil {
					return err
				}
				if first {
					first = false
					ready.Done()
					ready.Wait()
				}
				_, err := svc.ApproveTx(tx, w.ID, Decider{Operator: []string{"carol", "dave"}[i]})
				return err
			})
		})
		collisions += f.runner.Stats().Retries - before.Retries
		if errs[0] != nil || errs[1] != nil {
			t.Fatalf("round %d: %v, %v", round, errs[0], errs[1])
		}
		var state string
		var approved int
		if err := f.runner.Pool().QueryRow(ctx, `SELECT state, (SELECT count(*) FROM public.events WHERE type = $2 AND (payload->>'withdrawal_id')::bigint = $1)
			FROM btc.withdrawals WHERE id = $1`, w.ID, EventApproved).Scan(&state, &approved); err != nil {
			t.Fatal(err)
		}
		if state != Requested || approved != 1 {
			t.Fatalf("round %d: state %s, %d approved events", round, state, approved)
		}
	}
	t.Logf("%d serialization retries over 10 rounds", collisions)
	if collisions == 0 {
		t.Fatal("no serialization conflicts: the approvals never ran together")
	}
}
