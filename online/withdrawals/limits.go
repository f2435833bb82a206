package withdrawals

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/events"
	"github.com/cryptoassets/cryptoassets/online/store"
	"github.com/cryptoassets/cryptoassets/shared/amount"
)

// Refusals by a limit, each naming its configuration key. A refused
// request changes nothing; ErrLimitHotOutflow also trips the circuit
// breaker (in a transaction of its own) and then every request is refused
// with ErrPaused until an operator resumes.
var (
	ErrLimitMaxWithdrawal = errors.New("withdrawal limit max_withdrawal_sat")
	ErrLimitAccountCount  = errors.New("withdrawal limit account_max_count")
	ErrLimitAccountAmount = errors.New("withdrawal limit account_max_sat")
	ErrLimitHotOutflow    = errors.New("withdrawal limit hot_outflow_per_hour_sat")
	ErrPaused             = errors.New("withdrawals are paused by the circuit breaker")
	ErrNotPaused          = errors.New("withdrawals are not paused")
)

// Event types of the circuit breaker.
const (
	EventPaused  = "withdrawals.paused"
	EventResumed = "withdrawals.resumed"
)

// Limits are one asset's withdrawal limits (0: none). Withdrawals to a
// customer address of this service are internal transfers: no outflow, not
// limited and not counted.
type Limits struct {
	MaxWithdrawalSat     int64         // one withdrawal's amount
	AccountWindow        time.Duration // the rolling window of the account limits (default 24h)
	AccountMaxCount      int           // withdrawals per account in the window
	AccountMaxSat        int64         // amount per account in the window
	HotOutflowPerHourSat int64         // amount the hot wallet pays out in any hour; a breach trips the breaker
}

func (l Limits) any() bool {
	return l.MaxWithdrawalSat > 0 || l.AccountMaxCount > 0 || l.AccountMaxSat > 0 || l.HotOutflowPerHourSat > 0
}

func (l *Limits) check() error {
	if l.AccountWindow == 0 {
		l.AccountWindow = 24 * time.Hour
	}
	if l.MaxWithdrawalSat < 0 || l.AccountMaxCount < 0 || l.AccountMaxSat < 0 || l.HotOutflowPerHourSat < 0 || l.AccountWindow < time.Second {
		return fmt.Errorf("withdrawals: limits out of range: %+v", *l)
	}
	return nil
}

// counted are the states whose amount left, or will leave, the hot wallet:
// not the refunded ones.
const counted = `w.internal_to IS NULL AND w.state NOT IN ('cancelled', 'rejected', 'failed')`

// gate is what a request passes before it is written: the breaker, the
// limits and the approval rules, read in one statement built for the
// configuration (nothing is read for a rule that is off).
type gate struct {
	limits   Limits
	approval Approval
	sql      string // "" when no rule is on: the request pays no round trip
}

func newGate(schema string, l Limits, a Approval) gate {
	g := gate{limits: l, approval: a}
	if !l.any() && !a.any() {
		return g
	}
	null := "NULL::bigint"
	breaker, accCount, accSum, hot, paid := "NULL::text, NULL::timestamptz", null, null, null, "true"
	if l.HotOutflowPerHourSat > 0 {
		breaker = `(SELECT reason FROM {s}.withdrawal_breaker WHERE resumed_at IS NULL), (SELECT tripped_at FROM {s}.withdrawal_breaker WHERE resumed_at IS NULL)`
		hot = `(SELECT coalesce(sum(w.amount), 0)::bigint FROM {s}.withdrawals w WHERE ` + counted + ` AND w.created_at > now() - interval '1 hour')`
	}
	window := fmt.Sprintf("make_interval(secs => %d)", int64(l.AccountWindow/time.Second))
	recent := `FROM {s}.withdrawals w, acc WHERE w.account_id = acc.id AND w.created_at > now() - ` + window + ` AND ` + counted
	if l.AccountMaxCount > 0 {
		accCount = `(SELECT count(*) ` + recent + `)`
	}
	if l.AccountMaxSat > 0 {
		accSum = `(SELECT coalesce(sum(w.amount), 0)::bigint ` + recent + `)`
	}
	if a.NewDestinations {
		paid = `EXISTS (SELECT FROM {s}.withdrawals w WHERE w.script = $2 AND w.state = 'confirmed' AND w.internal_to IS NULL)`
	}
	// A replay (the key used before) skips the rules: it gets the first answer.
	//   $1 account  $2 destination script  $3 token  $4 idempotency key
	g.sql = strings.ReplaceAll(`WITH acc AS (SELECT id FROM {s}.accounts WHERE name = $1 AND kind = 'customer')
		SELECT EXISTS (SELECT FROM {s}.withdrawals WHERE token_id = $3 AND idempotency_key = $4), EXISTS (SELECT FROM {s}.addresses WHERE script = $2), `+breaker+`, `+accCount+`, `+accSum+`, `+hot+`, `+paid, "{s}", schema)
	return g
}

// admission is what the gate decided for an accepted request.
type admission struct {
	hold   bool   // wait in awaiting_approval
	reason string // why, for the event
}

// admit runs the gate inside the request's transaction: a refusal names the
// rule, the limit and the figure, and the request writes nothing.
func (s *Service) admit(tx *store.Tx, req Request, d Destination) (admission, error) {
	g := s.gate
	if g.sql == "" {
		return admission{}, nil
	}
	var (
		replay, own     bool
		pausedReason    *string
		pausedAt        *time.Time
		count, sum, hot *int64
		paidBefore      bool
	)
	if err := tx.QueryRow(g.sql, req.Account, d.Script, keyOwner(req), nullable(req.IdempotencyKey)).Scan(&replay, &own, &pausedReason, &pausedAt, &count, &sum, &hot, &paidBefore); err != nil {
		return admission{}, err
	}
	if replay {
		return admission{}, nil // the first answer is given again
	}
	if pausedReason != nil {
		return admission{}, fmt.Errorf("%w since %s (%s): an operator resumes with `cryptoassets withdrawals resume --asset %s --operator NAME`",
			ErrPaused, pausedAt.UTC().Format(time.RFC3339), *pausedReason, s.Asset())
	}
	if own {
		return admission{}, nil // an internal transfer, or refused by the request itself
	}
	l := g.limits
	btc := amount.FormatBTC
	switch {
	case l.MaxWithdrawalSat > 0 && req.Amount > l.MaxWithdrawalSat:
		return admission{}, fmt.Errorf("%w: %s BTC requested, at most %s BTC per withdrawal", ErrLimitMaxWithdrawal, btc(req.Amount), btc(l.MaxWithdrawalSat))
	case count != nil && *count+1 > int64(l.AccountMaxCount):
		return admission{}, fmt.Errorf("%w: account %q has made %d withdrawals in the last %s, at most %d are allowed",
			ErrLimitAccountCount, truncate(req.Account, 64), *count, l.AccountWindow, l.AccountMaxCount)
	case sum != nil && *sum+req.Amount > l.AccountMaxSat:
		return admission{}, fmt.Errorf("%w: account %q has withdrawn %s BTC in the last %s; %s BTC more would pass the limit of %s BTC",
			ErrLimitAccountAmount, truncate(req.Account, 64), btc(*sum), l.AccountWindow, btc(req.Amount), btc(l.AccountMaxSat))
	case hot != nil && *hot+req.Amount > l.HotOutflowPerHourSat:
		return admission{}, fmt.Errorf("%w: the hot wallet has paid out %s BTC in the last hour; %s BTC more would pass the limit of %s BTC",
			ErrLimitHotOutflow, btc(*hot), btc(req.Amount), btc(l.HotOutflowPerHourSat))
	}
	a := g.approval
	switch {
	case a.AboveSat > 0 && req.Amount > a.AboveSat:
		return admission{hold: true, reason: fmt.Sprintf("amount above approval_above_sat (%s BTC)", btc(a.AboveSat))}, nil
	case a.NewDestinations && !paidBefore:
		return admission{hold: true, reason: "destination never paid before"}, nil
	}
	return admission{}, nil
}

// TripOnBreach trips the circuit breaker, in a transaction of its own,
// when refusal is a breach of hot_outflow_per_hour_sat; for any other
// error it does nothing. Whoever ran the refused request calls it after
// that transaction rolled back.
func (s *Service) TripOnBreach(ctx context.Context, refusal error) error {
	if !errors.Is(refusal, ErrLimitHotOutflow) {
		return nil
	}
	reason := truncate(refusal.Error(), 900)
	return s.Runner().InTx(ctx, "withdrawals-pause", func(tx *store.Tx) error {
		var at time.Time
		err := tx.QueryRow(`INSERT INTO `+s.schema()+`.withdrawal_breaker (reason) VALUES ($1) ON CONFLICT DO NOTHING RETURNING tripped_at`, reason).Scan(&at)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // already tripped
		}
		if err != nil {
			return err
		}
		_, err = events.Emit(tx, s.Asset(), EventPaused, map[string]any{"reason": reason, "tripped_at": at})
		return err
	})
}

// Breaker is the circuit breaker's state.
type Breaker struct {
	Paused    bool
	TrippedAt time.Time // when Paused
	Reason    string    // when Paused
}

// BreakerState reads the circuit breaker (for metrics and the CLI).
func (s *Service) BreakerState(ctx context.Context) (Breaker, error) {
	var b Breaker
	err := s.Runner().Pool().QueryRow(ctx, `SELECT tripped_at, reason FROM `+s.schema()+`.withdrawal_breaker WHERE resumed_at IS NULL`).Scan(&b.TrippedAt, &b.Reason)
	if errors.Is(err, pgx.ErrNoRows) {
		return Breaker{}, nil
	}
	b.Paused = err == nil
	return b, err
}

// Paused says inside tx whether the asset's circuit breaker is tripped: the
// batcher builds no batch while it is.
func Paused(tx *store.Tx, asset string) (bool, error) {
	var paused bool
	err := tx.QueryRow(`SELECT EXISTS (SELECT FROM ` + pgx.Identifier{asset}.Sanitize() + `.withdrawal_breaker WHERE resumed_at IS NULL)`).Scan(&paused)
	return paused, err
}

// Resume clears a tripped circuit breaker, recording the operator, and
// emits withdrawals.resumed.
func (s *Service) Resume(ctx context.Context, operator string) (Breaker, error) {
	operator = strings.TrimSpace(operator)
	if operator == "" || len(operator) > 100 {
		return Breaker{}, errors.New("operator: want 1 to 100 characters naming who resumes")
	}
	var b Breaker
	err := s.Runner().InTx(ctx, "withdrawals-resume", func(tx *store.Tx) error {
		err := tx.QueryRow(`UPDATE `+s.schema()+`.withdrawal_breaker SET resumed_at = now(), resumed_by = $1 WHERE resumed_at IS NULL RETURNING tripped_at, reason`,
			operator).Scan(&b.TrippedAt, &b.Reason)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotPaused
		}
		if err != nil {
			return err
		}
		_, err = events.Emit(tx, s.Asset(), EventResumed, map[string]any{"operator": operator, "tripped_at": b.TrippedAt, "reason": b.Reason})
		return err
	})
	return b, err
}

func (s *Service) schema() string { return pgx.Identifier{s.Asset()}.Sanitize() }
