package broadcast

import (
	"context"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/jackc/pgx/v5"
)

const recordColumns = `id, txid, kind, opened_at, closed_at, coalesce(outcome, ''), coalesce(error, ''), attempts,
	broken_at, coalesce(broken_reason, ''), coalesce(resolved_by, '')`

func scan(row pgx.Row) (Record, error) { return scanWith(row) }

// Get returns the record of txid; an open one comes with ErrUnresolved.
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

// ErrNoRecord means no broadcast has the ID asked for.
var ErrNoRecord = errors.New("no such broadcast")

// ByID returns record id, open or closed.
func (b *Broadcaster) ByID(ctx context.Context, id int64) (Record, error) {
	r, err := scan(b.runner.Pool().QueryRow(ctx, `SELECT `+recordColumns+` FROM `+b.schema+`.broadcasts WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Record{}, fmt.Errorf("%w: %d (see `cryptoassets broadcasts list`)", ErrNoRecord, id)
	}
	return r, err
}

// Filter narrows List.
type Filter struct {
	Limit  int  // 1..1000; default 50
	Open   bool // only records still open
	Broken bool // only broken records not yet closed
}

// List returns the newest records matching f.
func (b *Broadcaster) List(ctx context.Context, f Filter) ([]Record, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 50
	}
	where := ` WHERE true`
	if f.Open || f.Broken {
		where += ` AND closed_at IS NULL`
	}
	if f.Broken {
		where += ` AND broken_at IS NOT NULL`
	}
	rows, err := b.runner.Pool().Query(ctx, `SELECT `+recordColumns+` FROM `+b.schema+`.broadcasts`+where+` ORDER BY id DESC LIMIT $1`, f.Limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Record, error) { return scan(r) })
}
