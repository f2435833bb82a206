package withdrawals

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/mempool"
	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/events"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/store"
	"github.com/cryptoassets/cryptoassets/shared/amount"
)

// Errors callers branch on. Their messages are meant for people.
var (
	ErrInvalidAddress     = errors.New("malformed address")
	ErrWrongNetwork       = errors.New("address for another network")
	ErrUnsupportedAddress = errors.New("unsupported address")
	ErrDust               = errors.New("amount below the dust limit")
	ErrOwnAddress         = errors.New("destination is an internal address of this service")
	ErrUnknownWithdrawal  = errors.New("unknown withdrawal")
	ErrNotCancellable     = errors.New("withdrawal can no longer be cancelled")
	ErrKeyReused          = errors.New("this idempotency key was used for a different withdrawal: use a new key for a new operation")
)

// PendingAccount is the kind of the internal account that holds requested
// withdrawals until they are paid.
const PendingAccount = "withdrawals_pending"

// Event types.
const (
	EventRequested = "withdrawal.requested"
	EventConfirmed = "withdrawal.confirmed"
	EventCancelled = "withdrawal.cancelled"
)

// States of a withdrawal.
const (
	Requested = "requested"
	Batched   = "batched"
	Broadcast = "broadcast"
	Confirmed = "confirmed"
	Cancelled = "cancelled"
	Failed    = "failed"
)

// Config is one asset's withdrawal settings.
type Config struct {
	Params   *chaincfg.Params
	FeeSat   int64          // flat fee taken from the customer per withdrawal (0: none)
	RelayFee btcutil.Amount // sat per 1000 vbytes for the dust rule (0: btcd's default, 1000)
	Limits   Limits         // limits.go
	Approval Approval       // approvals.go
}

// Service handles one asset's withdrawal requests.
type Service struct {
	ledger *ledger.Ledger
	cfg    Config
	q      queries
	gate   gate // limits, breaker and approvals (limits.go)
}

// New returns the withdrawal service of the ledger's asset.
func New(l *ledger.Ledger, cfg Config) (*Service, error) {
	if cfg.Params == nil {
		return nil, errors.New("withdrawals: no chain parameters")
	}
	if cfg.FeeSat < 0 || cfg.FeeSat > amount.MaxSat {
		return nil, fmt.Errorf("withdrawals: fee %d out of range", cfg.FeeSat)
	}
	if cfg.RelayFee <= 0 {
		cfg.RelayFee = mempool.DefaultMinRelayTxFee
	}
	if err := errors.Join(cfg.Limits.check(), cfg.Approval.check()); err != nil {
		return nil, err
	}
	return &Service{ledger: l, cfg: cfg, q: newQueries(l), gate: newGate(pgx.Identifier{l.Asset()}.Sanitize(), cfg.Limits, cfg.Approval)}, nil
}

// Asset is the schema of the service's asset.
func (s *Service) Asset() string { return s.ledger.Asset() }

// Runner is the transaction runner the service uses.
func (s *Service) Runner() *store.Runner { return s.ledger.Runner() }

// Request is a customer's request to be paid Amount satoshis at Address.
type Request struct {
	Account string
	Address string
	Amount  int64
	// TokenID and IdempotencyKey, when the key is set, record who asked
	// under which key: a second request with the same pair returns the
	// first withdrawal (ErrKeyReused if it asked for something else).
	TokenID        int64
	IdempotencyKey string
}

// Withdrawal is a stored withdrawal.
type Withdrawal struct {
	ID         int64
	Account    string
	Address    string
	Amount     int64
	Fee        int64
	State      string
	Internal   bool   // paid by a ledger transfer to InternalTo, no chain transaction
	InternalTo string // the receiving customer account, when Internal
	BatchID    *int64
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Check validates what can be validated without the database: the
// destination and the amount.
func (s *Service) Check(address string, sat int64) (Destination, error) {
	if err := amount.Check(sat); err != nil {
		return Destination{}, err
	}
	d, err := ParseDestination(address, s.cfg.Params)
	if err != nil {
		return Destination{}, err
	}
	if limit := DustLimit(d.Script, s.cfg.RelayFee); sat < limit {
		return Destination{}, fmt.Errorf("%w: %d sat to a %s address; the smallest payment it relays is %d sat", ErrDust, sat, d.Type, limit)
	}
	return d, nil
}

// Request records a withdrawal in its own serializable transaction.
func (s *Service) Request(ctx context.Context, req Request) (Withdrawal, error) {
	var w Withdrawal
	err := s.Runner().InTx(ctx, "withdrawal-request", func(tx *store.Tx) error {
		var err error
		w, err = s.RequestTx(tx, req)
		return err
	})
	return w, errors.Join(err, s.TripOnBreach(ctx, err))
}

// RequestTx records a withdrawal inside tx: it debits the customer, credits
// withdrawals_pending (and network_fees with the fee), stores the request and
// emits withdrawal.requested. A destination that is a customer address of
// ours is paid by a ledger transfer instead.
func (s *Service) RequestTx(tx *store.Tx, req Request) (Withdrawal, error) {
	d, err := s.Check(req.Address, req.Amount)
	if err != nil {
		return Withdrawal{}, err
	}
	adm, err := s.admit(tx, req, d) // limits and approvals (limits.go)
	if err != nil {
		return Withdrawal{}, err
	}
	fee := s.cfg.FeeSat
	pending, pendingSlot, err := s.ledger.InternalSlot(tx, PendingAccount)
	if err != nil {
		return Withdrawal{}, err
	}
	var fees int64
	var feesSlot int16
	if fee > 0 {
		if fees, feesSlot, err = s.ledger.InternalSlot(tx, ledger.NetworkFees); err != nil {
			return Withdrawal{}, err
		}
	}
	w := Withdrawal{Account: req.Account, Address: d.Address, Amount: req.Amount, Fee: fee, State: Requested}
	p := payload(w)
	delete(p, "withdrawal_id") // the statement adds it
	event, err := json.Marshal(p)
	if err != nil {
		return Withdrawal{}, err
	}
	// One round trip: the statement writes only when every check below
	// would pass, and returns what it found so the refusal can be named.
	var (
		accountID, ownerID, newID, available *int64
		kind                                 *string
		own                                  bool
		priorID, priorAccount, priorAmount   *int64
		priorAddress                         *string
		created, updated                     *time.Time
	)
	err = tx.QueryRow(s.q.request, req.Account, d.Address, d.Script, req.Amount, fee, keyOwner(req), nullable(req.IdempotencyKey),
		pending, pendingSlot, fees, feesSlot, s.ledger.Asset(), event).
		Scan(&accountID, &kind, &available, &own, &ownerID, &priorID, &priorAccount, &priorAddress, &priorAmount, &newID, &created, &updated)
	if err != nil {
		return Withdrawal{}, ledger.PostingError("withdrawal", err)
	}
	switch {
	case priorID != nil:
		// The key was used before: the same request gets the same answer.
		if accountID == nil || *priorAccount != *accountID || *priorAddress != d.Address || *priorAmount != req.Amount {
			return Withdrawal{}, ErrKeyReused
		}
		return s.get(tx.QueryRow(s.q.get, *priorID))
	case accountID == nil:
		return Withdrawal{}, fmt.Errorf("%w: %q", ledger.ErrUnknownAccount, truncate(req.Account, 64))
	case *kind != ledger.Customer:
		return Withdrawal{}, fmt.Errorf("%w: withdrawals are paid from customer accounts", ledger.ErrInternalAccount)
	case own && ownerID == nil:
		return Withdrawal{}, fmt.Errorf("%w: %s is a change or internal address, not a customer's", ErrOwnAddress, d.Address)
	case own:
		var ownerName string
		if err := tx.QueryRow(s.q.accountName, *ownerID).Scan(&ownerName); err != nil {
			return Withdrawal{}, err
		}
		return s.internal(tx, req, d, *accountID, *ownerID, ownerName)
	case newID == nil:
		return Withdrawal{}, fmt.Errorf("%w: %q has %s BTC available, %s BTC requested (%s BTC plus a fee of %s BTC)", ledger.ErrInsufficientFunds,
			req.Account, amount.FormatBTC(*available), amount.FormatBTC(req.Amount+fee), amount.FormatBTC(req.Amount), amount.FormatBTC(fee))
	}
	w.ID, w.CreatedAt, w.UpdatedAt = *newID, *created, *updated
	return s.hold(tx, w, adm) // approvals.go
}

// internal pays a withdrawal to a customer address of ours by a ledger
// transfer: no chain transaction, no fee.
func (s *Service) internal(tx *store.Tx, req Request, d Destination, from, to int64, toName string) (Withdrawal, error) {
	if from == to {
		return Withdrawal{}, fmt.Errorf("%w: %s is an address of account %q itself", ledger.ErrSameAccount, d.Address, req.Account)
	}
	w := Withdrawal{Account: req.Account, Address: d.Address, Amount: req.Amount, State: Confirmed, Internal: true, InternalTo: toName}
	if err := tx.QueryRow(s.q.insert, from, d.Address, d.Script, req.Amount, 0, to, Confirmed, keyOwner(req), nullable(req.IdempotencyKey)).
		Scan(&w.ID, &w.CreatedAt, &w.UpdatedAt); err != nil {
		return Withdrawal{}, err
	}
	if _, err := s.ledger.TransferTx(tx, ledger.TransferRequest{From: req.Account, To: toName, Amount: req.Amount, Memo: memo(w)}); err != nil {
		return Withdrawal{}, err
	}
	for _, typ := range []string{EventRequested, EventConfirmed} {
		if _, err := events.Emit(tx, s.ledger.Asset(), typ, payload(w)); err != nil {
			return Withdrawal{}, err
		}
	}
	return w, nil
}

// Cancel cancels a requested withdrawal in its own transaction.
func (s *Service) Cancel(ctx context.Context, id int64) (Withdrawal, error) {
	var w Withdrawal
	err := s.Runner().InTx(ctx, "withdrawal-cancel", func(tx *store.Tx) error {
		var err error
		w, err = s.CancelTx(tx, id)
		return err
	})
	return w, err
}

// CancelTx cancels a withdrawal that is still requested and refunds the
// amount and the fee in the same transaction. Cancelling a cancelled
// withdrawal returns it unchanged.
func (s *Service) CancelTx(tx *store.Tx, id int64) (Withdrawal, error) {
	w, err := s.get(tx.QueryRow(s.q.get, id))
	if err != nil {
		return Withdrawal{}, err
	}
	switch w.State {
	case Cancelled:
		return w, nil
	case Requested:
	default:
		return Withdrawal{}, fmt.Errorf("%w: withdrawal %d is %s", ErrNotCancellable, id, w.State)
	}
	var accountID int64
	if err := tx.QueryRow(s.q.accountOf, id).Scan(&accountID); err != nil {
		return Withdrawal{}, err
	}
	pending, _, err := s.ledger.Internal(tx, PendingAccount)
	if err != nil {
		return Withdrawal{}, err
	}
	postings := []ledger.Posting{{AccountID: pending, Available: -w.Amount}, {AccountID: accountID, Available: w.Amount + w.Fee}}
	if w.Fee > 0 {
		fees, _, err := s.ledger.Internal(tx, ledger.NetworkFees)
		if err != nil {
			return Withdrawal{}, err
		}
		postings = append(postings, ledger.Posting{AccountID: fees, Available: -w.Fee})
	}
	txID, err := s.ledger.PostTx(tx, "withdrawal_refund", fmt.Sprintf("withdrawal %d cancelled", id), postings)
	if err != nil {
		return Withdrawal{}, err
	}
	tag, err := tx.Exec(s.q.cancel, id, txID)
	if err != nil {
		return Withdrawal{}, err
	}
	if tag.RowsAffected() != 1 {
		return Withdrawal{}, fmt.Errorf("%w: withdrawal %d changed state", ErrNotCancellable, id)
	}
	w, err = s.get(tx.QueryRow(s.q.get, id))
	if err != nil {
		return Withdrawal{}, err
	}
	if _, err := events.Emit(tx, s.ledger.Asset(), EventCancelled, payload(w)); err != nil {
		return Withdrawal{}, err
	}
	return w, nil
}

// Get returns one withdrawal.
func (s *Service) Get(ctx context.Context, id int64) (Withdrawal, error) {
	return s.get(s.Runner().Pool().QueryRow(ctx, s.q.get, id))
}

// List lists withdrawals in id order after the one with id after (0 for the
// first page), at most limit (1 to 1000, else 100) of them.
func (s *Service) List(ctx context.Context, after int64, limit int) ([]Withdrawal, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := s.Runner().Pool().Query(ctx, s.q.list, after, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Withdrawal, error) { return scan(r) })
}

func (s *Service) get(row pgx.Row) (Withdrawal, error) {
	w, err := scan(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return Withdrawal{}, ErrUnknownWithdrawal
	}
	return w, err
}

func scan(row pgx.Row) (Withdrawal, error) {
	var w Withdrawal
	var to *string
	err := row.Scan(&w.ID, &w.Account, &w.Address, &w.Amount, &w.Fee, &w.State, &to, &w.BatchID, &w.CreatedAt, &w.UpdatedAt)
	if to != nil {
		w.Internal, w.InternalTo = true, *to
	}
	return w, err
}

func payload(w Withdrawal) map[string]any {
	p := map[string]any{
		"withdrawal_id": w.ID, "account": w.Account, "address": w.Address, "state": w.State, "internal": w.Internal,
		"amount": amount.FormatBTC(w.Amount), "amount_sat": fmt.Sprint(w.Amount),
		"fee": amount.FormatBTC(w.Fee), "fee_sat": fmt.Sprint(w.Fee),
	}
	if w.Internal {
		p["internal_to"] = w.InternalTo
	}
	return p
}

// memo names the withdrawal on its ledger transaction, which is how the
// two are joined (the posting comes after the row, so the row cannot carry
// the transaction's id).
func memo(w Withdrawal) string {
	return fmt.Sprintf("withdrawal %d to %s", w.ID, w.Address)
}

func keyOwner(req Request) *int64 {
	if req.IdempotencyKey == "" {
		return nil
	}
	return &req.TokenID
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
