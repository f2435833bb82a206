package broadcast

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/wire"
	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/store"
)

// OpenTx records tx (its exact bytes and txid, opened_at) inside the
// caller's transaction t, so the record commits or rolls back with the
// caller's own change (the batcher opens it in the transaction that moves a
// batch to broadcasting). Nothing is sent: call Send after t committed. A
// transaction already recorded is not recorded again; created says whether
// this call recorded it.
func (b *Broadcaster) OpenTx(t *store.Tx, kind string, tx *wire.MsgTx) (r Record, created bool, err error) {
	if err := checkKind(kind); err != nil {
		return Record{}, false, err
	}
	var raw bytes.Buffer
	if err := tx.Serialize(&raw); err != nil {
		return Record{}, false, err
	}
	txid := tx.TxHash()
	r, err = scan(t.QueryRow(`INSERT INTO `+b.schema+`.broadcasts (txid, raw_tx, kind) VALUES ($1, $2, $3)
		ON CONFLICT (txid) DO NOTHING RETURNING `+recordColumns, txid[:], raw.Bytes(), kind))
	if err == nil {
		return r, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return Record{}, false, fmt.Errorf("recording broadcast %s: %w", txid, err)
	}
	r, err = scan(t.QueryRow(`SELECT `+recordColumns+` FROM `+b.schema+`.broadcasts WHERE txid = $1`, txid[:]))
	if err != nil {
		return Record{}, false, fmt.Errorf("reading broadcast %s: %w", txid, err)
	}
	if r.Kind != kind {
		return Record{}, false, fmt.Errorf("transaction %s is already recorded as a %s broadcast (record %d), not %s", txid, r.Kind, r.ID, kind)
	}
	return r, false, nil
}

// Submit records tx in its own transaction and sends it. Submitting a
// transaction already recorded sends nothing and returns its record: an open
// one is settled by Resolve.
func (b *Broadcaster) Submit(ctx context.Context, kind string, tx *wire.MsgTx) (Record, error) {
	var created bool
	// Open: exactly once, never retried (a retry could not tell whether the
	// first attempt committed).
	err := b.runner.InTxOnce(ctx, "broadcast-open", func(t *store.Tx) error {
		var err error
		_, created, err = b.OpenTx(t, kind, tx)
		return err
	})
	if err != nil {
		return Record{}, err
	}
	txid := tx.TxHash()
	if !created {
		return b.Get(ctx, txid)
	}
	b.log.Info("broadcast opened", "txid", txid, "kind", kind)
	return b.Send(ctx, txid)
}
