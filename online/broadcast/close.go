package broadcast

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/events"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// closeRecord closes open record id with outcome and runs the kind's hook
// (Abandoned for an abandoned record, Closed otherwise) in the same
// transaction: a failing hook leaves the record open. closed is false when
// the record was already closed; r is then its state as it stands.
func (b *Broadcaster) closeRecord(ctx context.Context, id int64, outcome, msg, resolvedBy string) (r Record, closed bool, err error) {
	err = b.runner.InTx(ctx, "broadcast-close", func(t *store.Tx) error {
		r, closed, err = b.closeIn(t, id, outcome, msg, resolvedBy)
		return err
	})
	return r, closed, err
}

func (b *Broadcaster) closeIn(t *store.Tx, id int64, outcome, msg, resolvedBy string) (Record, bool, error) {
	var errText, by any
	if msg != "" {
		errText = msg
	}
	if resolvedBy != "" {
		by = resolvedBy
	}
	r, err := scan(t.QueryRow(`UPDATE `+b.schema+`.broadcasts SET closed_at = now(), outcome = $2, error = $3, resolved_by = $4
		WHERE id = $1 AND closed_at IS NULL RETURNING `+recordColumns, id, outcome, errText, by))
	if errors.Is(err, pgx.ErrNoRows) {
		r, err = scan(t.QueryRow(`SELECT `+recordColumns+` FROM `+b.schema+`.broadcasts WHERE id = $1`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return Record{}, false, fmt.Errorf("%w: %d", ErrNoRecord, id)
		}
		return r, false, err
	}
	if err != nil {
		return Record{}, false, err
	}
	h, err := b.hooksFor(r.Kind)
	if err != nil {
		return Record{}, false, err
	}
	hook, name := h.Closed, "closed"
	if outcome == Abandoned {
		hook, name = h.Abandoned, "abandoned"
	}
	if hook != nil {
		if err := hook(t, r); err != nil {
			return Record{}, false, fmt.Errorf("broadcast %d (%s): the %s hook of kind %s refused: %w", r.ID, r.TxID, name, r.Kind, err)
		}
	}
	return r, true, nil
}

// markBroken records why open record id is broken, emits EventBroken and
// runs the kind's Broken hook, all in one transaction and only the first
// time: a record already broken (or closed meanwhile) is left alone.
func (b *Broadcaster) markBroken(ctx context.Context, id int64, reason string) (bool, error) {
	var marked bool
	err := b.runner.InTx(ctx, "broadcast-broken", func(t *store.Tx) error {
		marked = false
		r, err := scan(t.QueryRow(`UPDATE `+b.schema+`.broadcasts SET broken_at = now(), broken_reason = $2
			WHERE id = $1 AND closed_at IS NULL AND broken_at IS NULL RETURNING `+recordColumns, id, reason))
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := events.Emit(t, b.asset, EventBroken, map[string]any{
			"id": r.ID, "txid": r.TxID.String(), "kind": r.Kind, "reason": reason, "opened_at": r.OpenedAt.UTC(),
		}); err != nil {
			return err
		}
		h, err := b.hooksFor(r.Kind)
		if err != nil {
			return err
		}
		if h.Broken != nil {
			if err := h.Broken(t, r); err != nil {
				return fmt.Errorf("broadcast %d (%s): the broken hook of kind %s refused: %w", r.ID, r.TxID, r.Kind, err)
			}
		}
		marked = true
		return nil
	})
	if marked {
		b.log.Error("broadcast broken: an operator must resolve it (runbook, \"Broken broadcasts\")", "id", id, "reason", reason)
	}
	return marked, err
}
