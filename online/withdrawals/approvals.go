package withdrawals

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/events"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// States and events of approvals.
const (
	AwaitingApproval = "awaiting_approval"
	Rejected         = "rejected"

	EventAwaitingApproval = "withdrawal.awaiting_approval"
	EventApproved         = "withdrawal.approved"
	EventRejected         = "withdrawal.rejected"
)

// Refusals of an operator's decision.
var (
	ErrNotAwaiting    = errors.New("withdrawal is not awaiting approval")
	ErrOwnRequest     = errors.New("a token cannot decide on a withdrawal it requested")
	ErrAlreadyDecided = errors.New("this operator already decided otherwise on this withdrawal")
)

// Approval is one asset's approval policy. A withdrawal above AboveSat (0:
// none), or to a destination no confirmed withdrawal ever paid when
// NewDestinations, waits in awaiting_approval, already debited, until
// Required (default 1) different operators approve it.
type Approval struct {
	AboveSat        int64
	NewDestinations bool
	Required        int
}

func (a Approval) any() bool { return a.AboveSat > 0 || a.NewDestinations }

func (a *Approval) check() error {
	if a.Required == 0 {
		a.Required = 1
	}
	if a.AboveSat < 0 || a.Required < 1 || a.Required > 10 {
		return fmt.Errorf("withdrawals: approval policy out of range: %+v", *a)
	}
	return nil
}

// Decider is who decides: an operator's name, and the API token it came
// with (0: the operator's CLI).
type Decider struct {
	Operator string
	TokenID  int64
}

// Decision is a withdrawal after an operator's decision.
type Decision struct {
	Withdrawal Withdrawal
	Approvals  int // approvals recorded so far
	Required   int
}

// hold puts a withdrawal the gate held into awaiting_approval, in the
// request's transaction, and emits withdrawal.awaiting_approval.
func (s *Service) hold(tx *store.Tx, w Withdrawal, adm admission) (Withdrawal, error) {
	if !adm.hold {
		return w, nil
	}
	tag, err := tx.Exec(`UPDATE `+s.schema()+`.withdrawals SET state = 'awaiting_approval' WHERE id = $1 AND state = 'requested'`, w.ID)
	if err != nil {
		return Withdrawal{}, err
	}
	if tag.RowsAffected() != 1 {
		return Withdrawal{}, fmt.Errorf("withdrawal %d: not requested when held for approval", w.ID)
	}
	w.State = AwaitingApproval
	p := payload(w)
	p["reason"], p["approvals_required"] = adm.reason, s.gate.approval.Required
	if _, err := events.Emit(tx, s.Asset(), EventAwaitingApproval, p); err != nil {
		return Withdrawal{}, err
	}
	return w, nil
}

// Approve records an operator's approval in its own transaction.
func (s *Service) Approve(ctx context.Context, id int64, by Decider) (Decision, error) {
	var d Decision
	err := s.Runner().InTx(ctx, "withdrawal-approve", func(tx *store.Tx) error {
		var err error
		d, err = s.ApproveTx(tx, id, by)
		return err
	})
	return d, err
}

// Reject records an operator's rejection and refunds, in its own transaction.
func (s *Service) Reject(ctx context.Context, id int64, by Decider) (Decision, error) {
	var d Decision
	err := s.Runner().InTx(ctx, "withdrawal-reject", func(tx *store.Tx) error {
		var err error
		d, err = s.RejectTx(tx, id, by)
		return err
	})
	return d, err
}

// ApproveTx records by's approval of a withdrawal awaiting approval; the
// one that makes the count required moves it to requested, where the
// batcher picks it up, and emits withdrawal.approved. The same operator
// approving again changes nothing.
func (s *Service) ApproveTx(tx *store.Tx, id int64, by Decider) (Decision, error) {
	w, n, err := s.decide(tx, id, by, "approve")
	if err != nil {
		return Decision{}, err
	}
	d := Decision{Withdrawal: w, Approvals: n, Required: s.gate.approval.Required}
	if n < d.Required {
		return d, nil
	}
	if _, err := tx.Exec(`UPDATE `+s.schema()+`.withdrawals SET state = 'requested', updated_at = now() WHERE id = $1 AND state = 'awaiting_approval'`, id); err != nil {
		return Decision{}, err
	}
	if d.Withdrawal, err = s.get(tx.QueryRow(s.q.get, id)); err != nil {
		return Decision{}, err
	}
	p := payload(d.Withdrawal)
	if p["approvals"], err = s.approvers(tx, id); err != nil {
		return Decision{}, err
	}
	if _, err := events.Emit(tx, s.Asset(), EventApproved, p); err != nil {
		return Decision{}, err
	}
	return d, nil
}

// RejectTx records by's rejection, refunds the amount and the fee in the
// same transaction (like a cancellation) and emits withdrawal.rejected.
func (s *Service) RejectTx(tx *store.Tx, id int64, by Decider) (Decision, error) {
	w, n, err := s.decide(tx, id, by, "reject")
	if err != nil {
		return Decision{}, err
	}
	if w.State == Rejected {
		return Decision{Withdrawal: w, Approvals: n, Required: s.gate.approval.Required}, nil
	}
	var accountID int64
	if err := tx.QueryRow(s.q.accountOf, id).Scan(&accountID); err != nil {
		return Decision{}, err
	}
	pending, _, err := s.ledger.Internal(tx, PendingAccount)
	if err != nil {
		return Decision{}, err
	}
	postings := []ledger.Posting{{AccountID: pending, Available: -w.Amount}, {AccountID: accountID, Available: w.Amount + w.Fee}}
	if w.Fee > 0 {
		fees, _, err := s.ledger.Internal(tx, ledger.NetworkFees)
		if err != nil {
			return Decision{}, err
		}
		postings = append(postings, ledger.Posting{AccountID: fees, Available: -w.Fee})
	}
	txID, err := s.ledger.PostTx(tx, "withdrawal_refund", fmt.Sprintf("withdrawal %d rejected by %s", id, by.Operator), postings)
	if err != nil {
		return Decision{}, err
	}
	if _, err := tx.Exec(`UPDATE `+s.schema()+`.withdrawals SET state = 'rejected', refund_tx_id = $2, updated_at = now() WHERE id = $1 AND state = 'awaiting_approval'`, id, txID); err != nil {
		return Decision{}, err
	}
	if w, err = s.get(tx.QueryRow(s.q.get, id)); err != nil {
		return Decision{}, err
	}
	p := payload(w)
	p["operator"] = by.Operator
	if _, err := events.Emit(tx, s.Asset(), EventRejected, p); err != nil {
		return Decision{}, err
	}
	return Decision{Withdrawal: w, Approvals: n, Required: s.gate.approval.Required}, nil
}

// decide checks that by may decide on withdrawal id and records the
// decision. It returns the withdrawal and the approvals recorded. A
// decision the operator already made is returned unchanged.
func (s *Service) decide(tx *store.Tx, id int64, by Decider, decision string) (Withdrawal, int, error) {
	by.Operator = strings.TrimSpace(by.Operator)
	if by.Operator == "" || len(by.Operator) > 100 {
		return Withdrawal{}, 0, errors.New("operator: want 1 to 100 characters naming who decides")
	}
	w, err := s.get(tx.QueryRow(s.q.get, id))
	if err != nil {
		return Withdrawal{}, 0, err
	}
	var requester *int64
	if err := tx.QueryRow(`SELECT token_id FROM `+s.schema()+`.withdrawals WHERE id = $1`, id).Scan(&requester); err != nil {
		return Withdrawal{}, 0, err
	}
	if by.TokenID != 0 && requester != nil && *requester == by.TokenID {
		return Withdrawal{}, 0, fmt.Errorf("%w: withdrawal %d was requested with this token; another operator's token must decide", ErrOwnRequest, id)
	}
	var prior string
	err = tx.QueryRow(`SELECT decision FROM `+s.schema()+`.withdrawal_approvals WHERE withdrawal_id = $1 AND operator = $2`, id, by.Operator).Scan(&prior)
	switch {
	case err == nil && prior != decision:
		return Withdrawal{}, 0, fmt.Errorf("%w: %q chose to %s withdrawal %d", ErrAlreadyDecided, by.Operator, prior, id)
	case err == nil:
		n, err := s.approvalCount(tx, id)
		return w, n, err // the same decision again: counted once
	case !errors.Is(err, pgx.ErrNoRows):
		return Withdrawal{}, 0, err
	}
	if w.State != AwaitingApproval {
		return Withdrawal{}, 0, fmt.Errorf("%w: withdrawal %d is %s", ErrNotAwaiting, id, w.State)
	}
	var token *int64
	if by.TokenID != 0 {
		token = &by.TokenID
	}
	if _, err := tx.Exec(`INSERT INTO `+s.schema()+`.withdrawal_approvals (withdrawal_id, operator, token_id, decision) VALUES ($1, $2, $3, $4)`,
		id, by.Operator, token, decision); err != nil {
		return Withdrawal{}, 0, err
	}
	n, err := s.approvalCount(tx, id)
	return w, n, err
}

func (s *Service) approvalCount(tx *store.Tx, id int64) (int, error) {
	var n int
	err := tx.QueryRow(`SELECT count(*) FROM `+s.schema()+`.withdrawal_approvals WHERE withdrawal_id = $1 AND decision = 'approve'`, id).Scan(&n)
	return n, err
}

func (s *Service) approvers(tx *store.Tx, id int64) ([]string, error) {
	rows, err := tx.Query(`SELECT operator FROM `+s.schema()+`.withdrawal_approvals WHERE withdrawal_id = $1 AND decision = 'approve' ORDER BY at, operator`, id)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// Approvals lists the decisions recorded on a withdrawal.
func (s *Service) Approvals(ctx context.Context, id int64) ([]ApprovalRecord, error) {
	rows, err := s.Runner().Pool().Query(ctx, `SELECT operator, decision, at FROM `+s.schema()+`.withdrawal_approvals WHERE withdrawal_id = $1 ORDER BY at, operator`, id)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[ApprovalRecord])
}

// ApprovalRecord is one recorded decision.
type ApprovalRecord struct {
	Operator string
	Decision string
	At       time.Time
}
