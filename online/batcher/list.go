package batcher

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/store"
)

// States lists every batch state, in the order a batch goes through them
// and then the ways out.
var States = []string{Reserved, Broadcasting, Broadcast, Confirmed, Rejected, Abandoned, Dead}

// ErrUnknownBatch: no batch has that id.
var ErrUnknownBatch = errors.New("no such batch")

// Summary is one batch as a list shows it.
type Summary struct {
	ID      int64
	Kind    string // withdrawals, sweep, topup
	State   string
	TxID    chainhash.Hash
	Fee     int64 // satoshis
	FeeRate int64 // satoshis per 1000 vbytes
	VSize   int32
	// Withdrawals and Paid: how many withdrawals it pays, and how much; for
	// a sweep or a top-up, no withdrawal and its transfer to the other wallet.
	Withdrawals int
	Paid        int64
	// BlockHeight is the best-chain block holding it, if any;
	// Confirmations are counted at the follower's last block.
	BlockHeight   *int32
	Confirmations int32
	Replaces      *int64 // the earlier batch it conflicts with
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Batch is one batch with what it spends and pays, and its broadcast record.
type Batch struct {
	Summary
	LockTime     uint32
	ChangeVout   *int32
	ChangeAmount *int64
	BlockHash    *chainhash.Hash
	// ReplacedBy are the later batches that conflict with this one.
	ReplacedBy []int64
	Inputs     []Input
	Payments   []Payment
	// Broadcast is its record in online/broadcast, once it was opened.
	Broadcast *BroadcastRecord
}

// Input is an outpoint a batch spends, with the coin's amount and what the
// chain shows spent it.
type Input struct {
	TxID    chainhash.Hash
	Vout    uint32
	Amount  int64
	SpentBy *chainhash.Hash
}

// Payment is one withdrawal a batch pays, at output Vout. State is the
// withdrawal's own state now: a withdrawal of a rejected or abandoned batch
// may be paid by another one since.
type Payment struct {
	WithdrawalID int64
	Vout         uint32
	Account      string
	Address      string
	Amount       int64
	State        string
}

// BroadcastRecord is what the broadcaster recorded of a batch's bytes.
type BroadcastRecord struct {
	ID           int64
	OpenedAt     time.Time
	ClosedAt     *time.Time
	Outcome      string // accepted, already_known, rejected, abandoned; "" while open
	Error        string
	Attempts     int
	BrokenAt     *time.Time
	BrokenReason string
}

// Reader reads one asset's batches for operators; it changes nothing.
type Reader struct {
	runner *store.Runner
	schema string
}

// NewReader reads the batches of asset.
func NewReader(r *store.Runner, asset string) *Reader {
	return &Reader{runner: r, schema: pgx.Identifier{asset}.Sanitize()}
}

// ListFilter selects batches: State ("" for every state), those with an
// id below Before (0: from the newest), at most Limit (1 to 1000, else 100).
type ListFilter struct {
	State  string
	Before int64
	Limit  int
}

const summaryColumns = `bt.id, bt.kind, bt.state, bt.txid, bt.fee, bt.fee_rate, bt.vsize,
	(SELECT count(*) FROM {s}.batch_withdrawals bw WHERE bw.batch_id = bt.id),
	coalesce(bt.transfer_amount, (SELECT coalesce(sum(w.amount), 0)::bigint FROM {s}.batch_withdrawals bw JOIN {s}.withdrawals w ON w.id = bw.withdrawal_id WHERE bw.batch_id = bt.id)),
	bt.block_height, CASE WHEN bt.block_height IS NULL THEN 0 ELSE greatest(coalesce(cur.height, 0) - bt.block_height + 1, 0) END,
	bt.replaces, bt.created_at, bt.updated_at`

func (r *Reader) sql(q string) string { return strings.ReplaceAll(q, "{s}", r.schema) }

// List lists batches newest first.
func (r *Reader) List(ctx context.Context, f ListFilter) ([]Summary, error) {
	if f.State != "" && !slices.Contains(States, f.State) {
		return nil, fmt.Errorf("batch state %q: use one of %s", f.State, strings.Join(States, ", "))
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	rows, err := r.runner.Pool().Query(ctx, r.sql(`SELECT `+summaryColumns+`
		FROM {s}.batches bt CROSS JOIN {s}.chain_cursor cur
		WHERE ($1 = '' OR bt.state = $1) AND ($2 = 0 OR bt.id < $2)
		ORDER BY bt.id DESC LIMIT $3`), f.State, f.Before, f.Limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Summary, error) {
		var s Summary
		return s, scanSummary(row, &s)
	})
}

func scanSummary(row pgx.Row, s *Summary, more ...any) error {
	var txid []byte
	dest := []any{&s.ID, &s.Kind, &s.State, &txid, &s.Fee, &s.FeeRate, &s.VSize, &s.Withdrawals, &s.Paid,
		&s.BlockHeight, &s.Confirmations, &s.Replaces, &s.CreatedAt, &s.UpdatedAt}
	for _, m := range more {
		if m != nil {
			dest = append(dest, m)
		}
	}
	if err := row.Scan(dest...); err != nil {
		return err
	}
	s.TxID = chainhash.Hash(txid)
	return nil
}

// Get returns one batch with its inputs, payments and broadcast record,
// read in one transaction so they agree.
func (r *Reader) Get(ctx context.Context, id int64) (Batch, error) {
	var b Batch
	err := r.runner.InTx(ctx, "batch-show", func(tx *store.Tx) error {
		b = Batch{}
		var lock int64
		var blockHash []byte
		err := scanSummary(tx.QueryRow(r.sql(`SELECT `+summaryColumns+`, bt.locktime, bt.change_vout, bt.change_amount, bt.block_hash
			FROM {s}.batches bt CROSS JOIN {s}.chain_cursor cur WHERE bt.id = $1`), id),
			&b.Summary, &lock, &b.ChangeVout, &b.ChangeAmount, &blockHash)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("batch %d: %w", id, ErrUnknownBatch)
		}
		if err != nil {
			return err
		}
		b.LockTime = uint32(lock)
		if blockHash != nil {
			h := chainhash.Hash(blockHash)
			b.BlockHash = &h
		}
		if err := r.readInputs(tx, &b); err != nil {
			return err
		}
		if err := r.readPayments(tx, &b); err != nil {
			return err
		}
		rows, err := tx.Query(r.sql(`SELECT id FROM {s}.batches WHERE replaces = $1 ORDER BY id`), id)
		if err != nil {
			return err
		}
		if b.ReplacedBy, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
			return err
		}
		return r.readBroadcast(tx, &b)
	})
	return b, err
}

func (r *Reader) readInputs(tx *store.Tx, b *Batch) error {
	rows, err := tx.Query(r.sql(`SELECT i.txid, i.vout, coalesce(c.amount, 0), c.spent_by
		FROM {s}.batch_inputs i LEFT JOIN {s}.coins c ON c.txid = i.txid AND c.vout = i.vout
		WHERE i.batch_id = $1 ORDER BY i.txid, i.vout`), b.ID)
	if err != nil {
		return err
	}
	b.Inputs, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (Input, error) {
		var in Input
		var txid, spent []byte
		if err := row.Scan(&txid, &in.Vout, &in.Amount, &spent); err != nil {
			return in, err
		}
		in.TxID = chainhash.Hash(txid)
		if spent != nil {
			h := chainhash.Hash(spent)
			in.SpentBy = &h
		}
		return in, nil
	})
	return err
}

func (r *Reader) readPayments(tx *store.Tx, b *Batch) error {
	rows, err := tx.Query(r.sql(`SELECT bw.withdrawal_id, bw.vout, a.name, w.address, w.amount, w.state
		FROM {s}.batch_withdrawals bw JOIN {s}.withdrawals w ON w.id = bw.withdrawal_id JOIN {s}.accounts a ON a.id = w.account_id
		WHERE bw.batch_id = $1 ORDER BY bw.vout`), b.ID)
	if err != nil {
		return err
	}
	b.Payments, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Payment])
	return err
}

func (r *Reader) readBroadcast(tx *store.Tx, b *Batch) error {
	var rec BroadcastRecord
	var outcome, msg, reason *string
	err := tx.QueryRow(r.sql(`SELECT id, opened_at, closed_at, outcome, error, attempts, broken_at, broken_reason
		FROM {s}.broadcasts WHERE txid = $1`), b.TxID[:]).Scan(&rec.ID, &rec.OpenedAt, &rec.ClosedAt, &outcome, &msg, &rec.Attempts, &rec.BrokenAt, &reason)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // reserved: not signed and opened yet
	}
	if err != nil {
		return err
	}
	rec.Outcome, rec.Error, rec.BrokenReason = deref(outcome), deref(msg), deref(reason)
	b.Broadcast = &rec
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
