package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cryptoassets/cryptoassets/online/store"
)

// Event types.
const (
	DepositSeen          = "deposit.seen"
	DepositConfirmations = "deposit.confirmations"
	DepositCredited      = "deposit.credited"
	DepositReorged       = "deposit.reorged"
	DepositReplaced      = "deposit.replaced"
)

// Event is one stored event. Payload is the JSON object delivered.
type Event struct {
	ID        int64           `json:"id"`
	Asset     string          `json:"asset"`
	Type      string          `json:"type"`
	Payload   json.RawMessage `json:"payload"`
	CreatedAt time.Time       `json:"created_at"`
}

// emitSQL inserts an unpublished event; the default numbers it in insertion
// order (seq). Its public id comes later, from Publish.
const emitSQL = `INSERT INTO public.events (asset, type, payload) VALUES ($1, $2, $3) RETURNING seq`

// EmitSQL is Emit as a fragment of a larger statement (a data-modifying
// CTE), for a hot path that writes its row, its event and its posting in
// one round trip: it inserts, for each row of from, an event of type typ
// for asset (SQL expressions) with the JSON object payload.
func EmitSQL(asset, typ, payload, from string) string {
	return `INSERT INTO public.events (asset, type, payload) SELECT ` + asset + `, ` + typ + `, ` + payload + ` FROM ` + from
}

// EmitBatchSQL is Emit for many events in one statement, for a writer that
// sends its statements in one round trip: $1 is the asset, $2 the types
// (text[]) and $3 the JSON object payloads (text[], one per type). The
// events are numbered in the arrays' order.
const EmitBatchSQL = `INSERT INTO public.events (asset, type, payload)
	SELECT $1, u.type, u.payload::jsonb FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS u(type, payload, n) ORDER BY u.n`

// Emit writes an event inside tx. payload is marshalled to a JSON object;
// the event's id, type and asset are added to it when it is read. It returns
// the event's insertion number, which orders events of one transaction but
// is not the public id: that is given when the event is published, after
// tx committed.
func Emit(tx *store.Tx, asset, typ string, payload map[string]any) (int64, error) {
	body, err := json.Marshal(payload)
	if err != nil {
		return 0, fmt.Errorf("event %s: %w", typ, err)
	}
	var seq int64
	if err := tx.QueryRow(emitSQL, asset, typ, body).Scan(&seq); err != nil {
		return 0, fmt.Errorf("event %s: %w", typ, err)
	}
	return seq, nil
}

// publishBatch bounds how many events one publication numbers, so it stays
// a short transaction.
const publishBatch = 1000

// numberSQL gives the unpublished events this transaction can see the next
// public ids after $1, in insertion order.
const numberSQL = `UPDATE public.events e SET id = $1 + p.n, published_at = now()
	FROM (SELECT seq, row_number() OVER (ORDER BY seq) AS n FROM public.events
		WHERE id IS NULL ORDER BY seq LIMIT $2) p
	WHERE e.seq = p.seq`

// Publish gives every committed, unpublished event its public id: dense and
// increasing, continuing from the newest published one. Each batch is one
// serializable transaction that also moves the single publication counter,
// so concurrent publications conflict, one retries, and they commit in id
// order: a reader that sees id N sees every id below it (see migration
// 0004). Readers call it before they read; it returns how many events it
// published.
func Publish(ctx context.Context, r *store.Runner) (int, error) {
	total := 0
	for {
		var pending bool
		if err := r.Pool().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM public.events WHERE id IS NULL)`).Scan(&pending); err != nil {
			return total, fmt.Errorf("publishing events: %w", err)
		}
		if !pending {
			return total, nil
		}
		var n int
		err := r.InTx(ctx, "events-publish", func(tx *store.Tx) error {
			var upTo int64
			if err := tx.QueryRow(`SELECT published_up_to FROM public.event_publication`).Scan(&upTo); err != nil {
				return err
			}
			tag, err := tx.Exec(numberSQL, upTo, publishBatch)
			if err != nil {
				return err
			}
			n = int(tag.RowsAffected())
			if n == 0 {
				return nil
			}
			tag, err = tx.Exec(`UPDATE public.event_publication SET published_up_to = $2 WHERE published_up_to = $1`, upTo, upTo+int64(n))
			if err == nil && tag.RowsAffected() != 1 {
				err = fmt.Errorf("event publication counter moved from %d during the transaction", upTo)
			}
			return err
		})
		if err != nil {
			return total, fmt.Errorf("publishing events: %w", err)
		}
		total += n
		if n < publishBatch {
			return total, nil
		}
	}
}

// Newest returns the id of the newest published event (0 if none).
func Newest(ctx context.Context, pool *pgxpool.Pool) (int64, error) {
	var n int64
	err := pool.QueryRow(ctx, `SELECT published_up_to FROM public.event_publication`).Scan(&n)
	return n, err
}

// listSQL pages published events by id.
const listSQL = `SELECT id, asset, type, payload, created_at FROM public.events
	WHERE id > $1 ORDER BY id LIMIT $2`

// List publishes what is pending, then returns up to limit published events
// with id > after, in id order. (It takes the pool, as read-only queries do
// elsewhere; the publication runs through a Runner over it with the
// default retry bounds.)
func List(ctx context.Context, pool *pgxpool.Pool, after int64, limit int) ([]Event, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	// A publication that keeps conflicting loses only to other
	// publications, which commit: what they published is read below.
	if _, err := Publish(ctx, store.NewRunner(pool, store.RunnerConfig{}, nil)); err != nil && !errors.Is(err, store.ErrConflictUnresolved) {
		return nil, err
	}
	rows, err := pool.Query(ctx, listSQL, after, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Event, error) {
		var e Event
		var payload []byte
		err := row.Scan(&e.ID, &e.Asset, &e.Type, &payload, &e.CreatedAt)
		e.Payload = withEnvelope(e, payload)
		return e, err
	})
}

// withEnvelope adds the event id, type and asset to the stored payload.
func withEnvelope(e Event, payload []byte) json.RawMessage {
	m := map[string]any{}
	_ = json.Unmarshal(payload, &m)
	m["event_id"] = e.ID
	m["type"] = e.Type
	m["asset"] = e.Asset
	m["created_at"] = e.CreatedAt.UTC().Format(time.RFC3339Nano)
	out, _ := json.Marshal(m)
	return out
}

// Acked returns how far token has acknowledged pulled events.
func Acked(ctx context.Context, pool *pgxpool.Pool, tokenID int64) (int64, error) {
	var n int64
	err := pool.QueryRow(ctx, `SELECT coalesce((SELECT acked_up_to FROM public.event_acks WHERE token_id = $1), 0)`, tokenID).Scan(&n)
	return n, err
}

// ErrBeyondNewest refuses to move a reader's position (an acknowledgement,
// a webhook redelivery) past the newest published event: it would hide
// every event up to that id before the reader could read them.
var ErrBeyondNewest = errors.New("beyond the newest event")

// checkPublished returns ErrBeyondNewest, with both ids, when id is beyond
// the newest published event.
func checkPublished(tx *store.Tx, what string, id int64) error {
	var newest int64
	if err := tx.QueryRow(`SELECT published_up_to FROM public.event_publication`).Scan(&newest); err != nil {
		return err
	}
	if id > newest {
		return fmt.Errorf("%s %d is %w (%d)", what, id, ErrBeyondNewest, newest)
	}
	return nil
}

// Ack records that token has processed every event up to upTo, which must
// not be beyond the newest published event (ErrBeyondNewest, wrapped
// with both ids). The cursor only moves forward.
func Ack(ctx context.Context, r *store.Runner, tokenID, upTo int64) error {
	return r.InTx(ctx, "events-ack", func(tx *store.Tx) error {
		if err := checkPublished(tx, "up_to", upTo); err != nil {
			return err
		}
		_, err := tx.Exec(`INSERT INTO public.event_acks (token_id, acked_up_to) VALUES ($1, $2)
			ON CONFLICT (token_id) DO UPDATE SET acked_up_to = greatest(event_acks.acked_up_to, excluded.acked_up_to), updated_at = now()`, tokenID, upTo)
		return err
	})
}
