package events

import (
	"context"
	"encoding/json"
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

// emitSQL takes the transaction id before the event id (the materialized CTE
// runs first), so no event can get a lower id than one that committed with a
// transaction id older than its own.
const emitSQL = `WITH x AS MATERIALIZED (SELECT pg_current_xact_id() AS xid)
	INSERT INTO public.events (id, xid, asset, type, payload)
	SELECT nextval('public.events_id_seq'), x.xid, $1, $2, $3 FROM x RETURNING id`

// Emit writes an event inside tx. payload is marshalled to a JSON object;
// the event's id, type and asset are added to it.
func Emit(tx *store.Tx, asset, typ string, payload map[string]any) (int64, error) {
	body, err := json.Marshal(payload)
	if err != nil {
		return 0, fmt.Errorf("event %s: %w", typ, err)
	}
	var id int64
	if err := tx.QueryRow(emitSQL, asset, typ, body).Scan(&id); err != nil {
		return 0, fmt.Errorf("event %s: %w", typ, err)
	}
	return id, nil
}

// safeSQL selects events after a cursor that no running transaction can
// still precede.
const safeSQL = `SELECT id, asset, type, payload, created_at FROM public.events
	WHERE id > $1 AND xid < pg_snapshot_xmin(pg_current_snapshot())
	ORDER BY id LIMIT $2`

// List returns up to limit events with id > after that are safe to read.
func List(ctx context.Context, pool *pgxpool.Pool, after int64, limit int) ([]Event, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := pool.Query(ctx, safeSQL, after, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Event, error) {
		var e Event
		var payload []byte
		err := r.Scan(&e.ID, &e.Asset, &e.Type, &payload, &e.CreatedAt)
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

// Ack records that token has processed every event up to upTo. The cursor
// only moves forward.
func Ack(ctx context.Context, r *store.Runner, tokenID, upTo int64) error {
	return r.InTx(ctx, "events-ack", func(tx *store.Tx) error {
		_, err := tx.Exec(`INSERT INTO public.event_acks (token_id, acked_up_to) VALUES ($1, $2)
			ON CONFLICT (token_id) DO UPDATE SET acked_up_to = greatest(event_acks.acked_up_to, excluded.acked_up_to), updated_at = now()`, tokenID, upTo)
		return err
	})
}
