package broadcast

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/chain/rpc"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// Outcomes of a closed broadcast.
const (
	Accepted     = "accepted"
	AlreadyKnown = "already_known"
	Rejected     = "rejected"
)

// ErrUnresolved means the node's answer was lost: the record stays open
// until Resolve settles it.
var ErrUnresolved = errors.New("broadcast outcome unknown: the record stays open; run `cryptoassets broadcasts resolve`")

// Record is one broadcast.
type Record struct {
	ID       int64
	TxID     chainhash.Hash
	Kind     string
	OpenedAt time.Time
	ClosedAt *time.Time
	Outcome  string
	Error    string
	Attempts int
}

// Broadcaster records and sends transactions for one asset.
type Broadcaster struct {
	runner *store.Runner
	node   chain.Node
	schema string
	log    *slog.Logger
}

// New returns a broadcaster for asset (its schema) through node.
func New(runner *store.Runner, asset string, node chain.Node, log *slog.Logger) (*Broadcaster, error) {
	if err := store.ValidateSchemaName(asset); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Broadcaster{runner: runner, node: node, schema: pgx.Identifier{asset}.Sanitize(), log: log}, nil
}

// Submit records tx and sends it. Submitting a transaction already recorded
// sends nothing and returns its record: settle an open one with Resolve.
func (b *Broadcaster) Submit(ctx context.Context, kind string, tx *wire.MsgTx) (Record, error) {
	var raw bytes.Buffer
	if err := tx.Serialize(&raw); err != nil {
		return Record{}, err
	}
	txid := tx.TxHash()
	var created bool
	// Open: exactly once, never retried (a retry could not tell whether the
	// first attempt committed).
	err := b.runner.InTxOnce(ctx, "broadcast-open", func(t *store.Tx) error {
		tag, err := t.Exec(`INSERT INTO `+b.schema+`.broadcasts (txid, raw_tx, kind) VALUES ($1, $2, $3) ON CONFLICT (txid) DO NOTHING`,
			txid[:], raw.Bytes(), kind)
		created = err == nil && tag.RowsAffected() == 1
		return err
	})
	if err != nil {
		return Record{}, fmt.Errorf("recording broadcast %s: %w", txid, err)
	}
	if !created {
		return b.Get(ctx, txid)
	}
	b.log.Info("broadcast opened", "txid", txid, "kind", kind)
	return b.send(ctx, txid, tx)
}

// send asks the node and closes the record with its answer, or leaves it
// open when the answer is lost.
func (b *Broadcaster) send(ctx context.Context, txid chainhash.Hash, tx *wire.MsgTx) (Record, error) {
	_, err := b.node.Broadcast(ctx, tx)
	outcome, msg := classify(err)
	if outcome == "" {
		b.log.Warn("broadcast outcome unknown", "txid", txid, "err", err)
		return b.Get(ctx, txid)
	}
	if err := b.close(ctx, txid, outcome, msg); err != nil {
		return Record{}, err
	}
	b.log.Info("broadcast closed", "txid", txid, "outcome", outcome)
	return b.Get(ctx, txid)
}

// classify maps the node's answer to an outcome; "" means unknown (the
// request or its reply was lost).
func classify(err error) (string, string) {
	if err == nil {
		return Accepted, ""
	}
	var re *rpc.Error
	if !errors.As(err, &re) {
		return "", err.Error()
	}
	msg := strings.ToLower(re.Message)
	switch {
	case re.Code == rpc.CodeVerifyAlreadyIn, strings.Contains(msg, "already have"), strings.Contains(msg, "already in block chain"), strings.Contains(msg, "already exists"):
		return AlreadyKnown, re.Message
	case re.Code == rpc.CodeVerifyRejected, re.Code == rpc.CodeVerifyError, re.Code == -22:
		return Rejected, re.Message
	}
	return "", re.Message
}

func (b *Broadcaster) close(ctx context.Context, txid chainhash.Hash, outcome, msg string) error {
	return b.runner.InTx(ctx, "broadcast-close", func(t *store.Tx) error {
		var errText any
		if msg != "" {
			errText = msg
		}
		_, err := t.Exec(`UPDATE `+b.schema+`.broadcasts SET closed_at = now(), outcome = $2, error = $3
			WHERE txid = $1 AND closed_at IS NULL`, txid[:], outcome, errText)
		return err
	})
}

// Resolve settles every open record: a transaction the node knows (in its
// mempool, with an output in the chain's coins, or in a block since it was
// opened) is closed as accepted; otherwise the same bytes are sent again.
// None of this needs the node's transaction index. It returns the records it
// looked at.
func (b *Broadcaster) Resolve(ctx context.Context) ([]Record, error) {
	rows, err := b.runner.Pool().Query(ctx, `SELECT txid, raw_tx, opened_at FROM `+b.schema+`.broadcasts WHERE closed_at IS NULL ORDER BY id`)
	if err != nil {
		return nil, err
	}
	type open struct {
		txid   chainhash.Hash
		raw    []byte
		opened time.Time
	}
	var opens []open
	for rows.Next() {
		var id, raw []byte
		var opened time.Time
		if err := rows.Scan(&id, &raw, &opened); err != nil {
			rows.Close()
			return nil, err
		}
		opens = append(opens, open{txid: chainhash.Hash(id), raw: raw, opened: opened})
	}
	rows.Close()
	var out []Record
	for _, o := range opens {
		var tx wire.MsgTx
		if err := tx.Deserialize(bytes.NewReader(o.raw)); err != nil {
			return out, fmt.Errorf("broadcast %s: stored bytes unreadable: %w", o.txid, err)
		}
		where, err := b.find(ctx, &tx, o.opened)
		if err != nil {
			return out, err
		}
		if where != "" {
			if err := b.close(ctx, o.txid, Accepted, "found "+where+" when resolving"); err != nil {
				return out, err
			}
		} else {
			if _, err := b.runner.Pool().Exec(ctx, `UPDATE `+b.schema+`.broadcasts SET attempts = attempts + 1 WHERE txid = $1`, o.txid[:]); err != nil {
				return out, err
			}
			if _, err := b.send(ctx, o.txid, &tx); err != nil && !errors.Is(err, ErrUnresolved) {
				return out, err
			}
		}
		r, err := b.Get(ctx, o.txid)
		if err != nil && !errors.Is(err, ErrUnresolved) {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// maxResolveScan bounds the blocks Resolve reads looking for a transaction.
const maxResolveScan = 2016

// find says where the node has tx ("" when nowhere): in its mempool, by an
// output still among the chain's coins, or in a best-chain block since the
// broadcast was opened (from the follower's stored blocks, or the last day
// of blocks when it has none that recent).
func (b *Broadcaster) find(ctx context.Context, tx *wire.MsgTx, opened time.Time) (string, error) {
	txid := tx.TxHash()
	if _, err := b.node.Transaction(ctx, txid); err == nil {
		return "on the node", nil
	} else if !errors.Is(err, chain.ErrNoTransaction) {
		return "", err
	}
	for i := range tx.TxOut {
		ok, err := b.node.IsUnspent(ctx, wire.OutPoint{Hash: txid, Index: uint32(i)})
		if err != nil {
			return "", err
		}
		if ok {
			return "among the chain's coins", nil
		}
	}
	tip, _, err := b.node.Tip(ctx)
	if err != nil {
		return "", err
	}
	var from *int32
	if err := b.runner.Pool().QueryRow(ctx, `SELECT min(height) FROM `+b.schema+`.chain_blocks WHERE seen_at >= $1::timestamptz - interval '2 hours'`, opened).Scan(&from); err != nil {
		return "", err
	}
	start := tip - 144
	if from != nil {
		start = *from
	}
	start = max(start, tip-maxResolveScan, 0)
	for h := tip; h >= start; h-- {
		hash, err := b.node.BlockHash(ctx, h)
		if err != nil {
			return "", err
		}
		blk, err := b.node.Block(ctx, hash)
		if err != nil {
			return "", err
		}
		for _, t := range blk.Transactions {
			if t.TxHash() == txid {
				return fmt.Sprintf("in block %d", h), nil
			}
		}
	}
	return "", nil
}

const recordColumns = `id, txid, kind, opened_at, closed_at, coalesce(outcome, ''), coalesce(error, ''), attempts`

func scan(row pgx.Row) (Record, error) {
	var r Record
	var txid []byte
	err := row.Scan(&r.ID, &txid, &r.Kind, &r.OpenedAt, &r.ClosedAt, &r.Outcome, &r.Error, &r.Attempts)
	copy(r.TxID[:], txid)
	return r, err
}

// Get returns the record of txid.
func (b *Broadcaster) Get(ctx context.Context, txid chainhash.Hash) (Record, error) {
	r, err := scan(b.runner.Pool().QueryRow(ctx, `SELECT `+recordColumns+` FROM `+b.schema+`.broadcasts WHERE txid = $1`, txid[:]))
	if errors.Is(err, pgx.ErrNoRows) {
		return Record{}, fmt.Errorf("no broadcast of %s is recorded", txid)
	}
	if err == nil && r.ClosedAt == nil {
		return r, ErrUnresolved
	}
	return r, err
}

// List returns the newest records.
func (b *Broadcaster) List(ctx context.Context, limit int) ([]Record, error) {
	if limit <= 0 || limit > 1000 {
		limit = 50
	}
	rows, err := b.runner.Pool().Query(ctx, `SELECT `+recordColumns+` FROM `+b.schema+`.broadcasts ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Record, error) { return scan(r) })
}
