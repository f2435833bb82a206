package ledger

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cryptoassets/cryptoassets/online/store"
	"github.com/cryptoassets/cryptoassets/shared/amount"
)

// Errors callers branch on. Their messages are meant for people.
var (
	ErrInsufficientFunds = errors.New("insufficient funds")
	ErrUnknownAccount    = errors.New("unknown account")
	ErrAccountExists     = errors.New("account already exists")
	ErrInvalidName       = errors.New("invalid account name: use 1 to 128 letters, digits or . _ : @ -, starting with a letter or digit")
	ErrSameAccount       = errors.New("cannot transfer to the same account")
	ErrInternalAccount   = errors.New("internal accounts cannot be used here")
	ErrMemoTooLong       = errors.New("memo longer than 500 characters")
)

// Kinds of account.
const (
	Customer    = "customer"
	HotWallet   = "hot_wallet"
	ColdWallet  = "cold_wallet"
	NetworkFees = "network_fees"
	ReorgLosses = "reorg_losses"
)

// Account is an account with its balance.
type Account struct {
	ID        int64
	Kind      string
	Name      string
	CreatedAt time.Time
	Available int64 // satoshis spendable now
	Pending   int64 // satoshis seen on chain, not yet credited
}

// Posting is one entry of a ledger transaction.
type Posting struct {
	AccountID int64
	Available int64
	Pending   int64
}

// Ledger is the ledger of one asset.
type Ledger struct {
	runner *store.Runner
	asset  string
	q      queries

	// Internal accounts are created by the migrations and never change:
	// they are read once, not on every posting (see slots.go).
	internal atomic.Pointer[internalAccounts]
}

var accountName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$`)

// New returns the ledger of asset (its schema name).
func New(runner *store.Runner, asset string) (*Ledger, error) {
	if err := store.ValidateSchemaName(asset); err != nil {
		return nil, err
	}
	return &Ledger{runner: runner, asset: asset, q: newQueries(asset)}, nil
}

// Asset is the schema this ledger lives in.
func (l *Ledger) Asset() string { return l.asset }

// Runner is the transaction runner the ledger uses.
func (l *Ledger) Runner() *store.Runner { return l.runner }

// ValidateName checks a customer account name.
func ValidateName(name string) error {
	if !accountName.MatchString(name) || strings.HasPrefix(name, "internal:") {
		return fmt.Errorf("%w (got %q)", ErrInvalidName, truncate(name, 40))
	}
	return nil
}

// CreateAccount creates a customer account.
func (l *Ledger) CreateAccount(ctx context.Context, name string) (Account, error) {
	var a Account
	err := l.runner.InTx(ctx, "create-account", func(tx *store.Tx) error {
		var err error
		a, err = l.CreateAccountTx(tx, name)
		return err
	})
	return a, err
}

// CreateAccountTx creates a customer account inside tx.
func (l *Ledger) CreateAccountTx(tx *store.Tx, name string) (Account, error) {
	if err := ValidateName(name); err != nil {
		return Account{}, err
	}
	a := Account{Kind: Customer, Name: name}
	err := tx.QueryRow(l.q.createAccount, name).Scan(&a.ID, &a.CreatedAt)
	if isUniqueViolation(err) {
		return Account{}, fmt.Errorf("%w: %q", ErrAccountExists, name)
	}
	if err != nil {
		return Account{}, err
	}
	return a, nil
}

// GetAccount returns an account and its balance by name.
func (l *Ledger) GetAccount(ctx context.Context, name string) (Account, error) {
	var a Account
	err := l.runner.Pool().QueryRow(ctx, l.q.getAccount, name).Scan(&a.ID, &a.Kind, &a.Name, &a.CreatedAt, &a.Available, &a.Pending)
	if errors.Is(err, pgx.ErrNoRows) {
		return Account{}, fmt.Errorf("%w: %q", ErrUnknownAccount, truncate(name, 64))
	}
	return a, err
}

// ListAccounts lists accounts in creation order after the account with id
// after (0 for the first page), at most limit of them.
func (l *Ledger) ListAccounts(ctx context.Context, after int64, limit int) ([]Account, error) {
	rows, err := l.runner.Pool().Query(ctx, l.q.listAccounts, after, clampLimit(limit))
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Account, error) {
		var a Account
		err := r.Scan(&a.ID, &a.Kind, &a.Name, &a.CreatedAt, &a.Available, &a.Pending)
		return a, err
	})
}

func clampLimit(limit int) int {
	if limit <= 0 || limit > 1000 {
		return 100
	}
	return limit
}

// TransferRequest moves Amount satoshis between two customer accounts.
type TransferRequest struct {
	From, To string
	Amount   int64
	Memo     string
}

// Transfer is a completed transfer.
type Transfer struct {
	TxID      int64
	From, To  string
	Amount    int64
	Memo      string
	CreatedAt time.Time
}

// Transfer moves money between two customer accounts, immediately and
// off-chain, in one serializable transaction.
func (l *Ledger) Transfer(ctx context.Context, req TransferRequest) (Transfer, error) {
	var t Transfer
	err := l.runner.InTx(ctx, "transfer", func(tx *store.Tx) error {
		var err error
		t, err = l.TransferTx(tx, req)
		return err
	})
	return t, err
}

// TransferTx is Transfer inside the caller's transaction.
func (l *Ledger) TransferTx(tx *store.Tx, req TransferRequest) (Transfer, error) {
	if err := amount.Check(req.Amount); err != nil {
		return Transfer{}, err
	}
	if len(req.Memo) > 500 {
		return Transfer{}, ErrMemoTooLong
	}
	if req.From == req.To {
		return Transfer{}, ErrSameAccount
	}
	var srcKind, dstKind *string
	var srcAvailable *int64
	var txID *int64
	var created *time.Time
	err := tx.QueryRow(l.q.transfer, req.From, req.To, req.Amount, req.Memo).Scan(&srcKind, &srcAvailable, &dstKind, &txID, &created)
	if isCheckViolation(err, "customer_balance_not_negative") {
		return Transfer{}, fmt.Errorf("%w (refused by the database)", ErrInsufficientFunds)
	}
	if err != nil {
		return Transfer{}, fmt.Errorf("ledger: transfer: %w", err)
	}
	if txID == nil {
		// Nothing was posted: say why, in the order a person would check.
		switch {
		case srcKind == nil:
			return Transfer{}, fmt.Errorf("%w: %q", ErrUnknownAccount, truncate(req.From, 64))
		case dstKind == nil:
			return Transfer{}, fmt.Errorf("%w: %q", ErrUnknownAccount, truncate(req.To, 64))
		case *srcKind != Customer || *dstKind != Customer:
			return Transfer{}, fmt.Errorf("%w: transfers move money between customer accounts", ErrInternalAccount)
		default:
			return Transfer{}, fmt.Errorf("%w: %q has %s BTC available, %s BTC requested", ErrInsufficientFunds, req.From, amount.FormatBTC(*srcAvailable), amount.FormatBTC(req.Amount))
		}
	}
	return Transfer{TxID: *txID, From: req.From, To: req.To, Amount: req.Amount, Memo: req.Memo, CreatedAt: *created}, nil
}

// PostTx records one balanced ledger transaction inside tx and returns its
// id. Postings to the same account are allowed; each must be non-zero. The
// database refuses an unbalanced set, an account that does not exist
// (ErrUnknownAccount) and a customer balance below zero
// (ErrInsufficientFunds).
func (l *Ledger) PostTx(tx *store.Tx, kind, memo string, postings []Posting) (int64, error) {
	ia, err := l.internals(tx)
	if err != nil {
		return 0, err
	}
	txID, _, err := l.post(tx, kind, memo, postings, ia.slotFor)
	return txID, err
}

func (l *Ledger) post(tx *store.Tx, kind, memo string, postings []Posting, slotFor func(accountID int64) int16) (int64, time.Time, error) {
	var sumA, sumP int64
	accounts := make([]int64, len(postings))
	slot := make([]int16, len(postings))
	avail := make([]int64, len(postings))
	pend := make([]int64, len(postings))
	for i, p := range postings {
		if p.Available == 0 && p.Pending == 0 {
			return 0, time.Time{}, errors.New("ledger: a posting of zero")
		}
		sumA += p.Available
		sumP += p.Pending
		accounts[i], avail[i], pend[i] = p.AccountID, p.Available, p.Pending
		slot[i] = slotFor(p.AccountID)
	}
	if sumA != 0 || sumP != 0 {
		return 0, time.Time{}, fmt.Errorf("ledger: postings do not balance (available %d, pending %d)", sumA, sumP)
	}
	var txID int64
	var created time.Time
	err := tx.QueryRow(l.q.post, kind, memo, accounts, slot, avail, pend).Scan(&txID, &created)
	if err != nil {
		return 0, time.Time{}, postError(kind, err)
	}
	return txID, created, nil
}

// postError names what the database refused in a posting.
func postError(kind string, err error) error {
	var pg *pgconn.PgError
	switch {
	case isCheckViolation(err, "customer_balance_not_negative"):
		return fmt.Errorf("%w (refused by the database)", ErrInsufficientFunds)
	case errors.As(err, &pg) && pg.Code == "23503":
		// The posting trigger: an entry for a balance row that does not exist.
		return fmt.Errorf("%w: %s", ErrUnknownAccount, pg.Message)
	default:
		return fmt.Errorf("ledger: posting %s: %w", kind, err)
	}
}

// Entry is one line of an account's history.
type Entry struct {
	ID             int64
	TxID           int64
	Kind           string
	Memo           string
	Available      int64
	Pending        int64
	Counterparties []string
	CreatedAt      time.Time
}

// History lists an account's entries, newest first, older than the entry with
// id before (0 for the newest page), at most limit of them.
func (l *Ledger) History(ctx context.Context, name string, before int64, limit int) ([]Entry, error) {
	a, err := l.GetAccount(ctx, name)
	if err != nil {
		return nil, err
	}
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := l.runner.Pool().Query(ctx, l.q.history, a.ID, before, clampLimit(limit))
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Entry, error) {
		var e Entry
		err := r.Scan(&e.ID, &e.TxID, &e.Kind, &e.Memo, &e.Available, &e.Pending, &e.CreatedAt, &e.Counterparties)
		return e, err
	})
}

func isUniqueViolation(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == "23505"
}

func isCheckViolation(err error, constraint string) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == "23514" && pg.ConstraintName == constraint
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
