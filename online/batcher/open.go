package batcher

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/chaincfg/chainhash"

	"github.com/cryptoassets/cryptoassets/internal/crashpoint"
	"github.com/cryptoassets/cryptoassets/online/broadcast"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// resume signs and sends the batches an earlier run reserved but did not
// open (it died in between): the same stored transaction, so the same txid.
// A reserved top-up is an export waiting for the air-gapped signer: the
// service holds no key to it and leaves it to an import, a cancel or its
// expiry.
func (b *Batcher) resume(ctx context.Context) error {
	rows, err := b.runner.Pool().Query(ctx, `SELECT id FROM `+b.schema+`.batches WHERE state = 'reserved' AND kind <> $1 ORDER BY id`, BatchTopup)
	if err != nil {
		return err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		b.log.Info("resuming a reserved batch", "batch", id)
		if err := b.openAndSend(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("batch %d: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// openAndSend signs a reserved batch, opens its broadcast record in the
// transaction that moves it to broadcasting, and sends it.
func (b *Batcher) openAndSend(ctx context.Context, id int64) error {
	var txidBytes, raw []byte
	var state, kind string
	if err := b.runner.Pool().QueryRow(ctx, `SELECT txid, psbt, state, kind FROM `+b.schema+`.batches WHERE id = $1`, id).Scan(&txidBytes, &raw, &state, &kind); err != nil {
		return err
	}
	txid := chainhash.Hash(txidBytes)
	if state != Reserved {
		return nil // another run opened it: the broadcaster's resolver owns it now
	}
	if kind == BatchTopup {
		return fmt.Errorf("batch %d is a top-up: it is signed on the air-gapped signer and comes back by `cryptoassets cold import`", id)
	}
	p, err := btcpsbt.NewFromRawBytes(bytes.NewReader(raw), false)
	if err != nil {
		return fmt.Errorf("stored PSBT unreadable: %w", err)
	}
	// One signing path: the hot signer role checks every input is ours and
	// verifies each signature with the script engine.
	signed, err := b.signer.Sign(p)
	if err != nil {
		return fmt.Errorf("signing: %w", err)
	}
	if got := signed.TxHash(); got != txid {
		return fmt.Errorf("signed transaction %s is not the batch's %s: refusing to send", got, txid)
	}
	opened := false
	err = b.runner.InTx(ctx, "batch-open", func(tx *store.Tx) error {
		opened = false
		tag, err := tx.Exec(`UPDATE `+b.schema+`.batches SET state = 'broadcasting', updated_at = now() WHERE id = $1 AND state = 'reserved'`, id)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		if _, _, err := b.bc.OpenTx(tx, BroadcastKind(kind), signed); err != nil {
			return err
		}
		opened = true
		return nil
	})
	if err != nil || !opened {
		return err
	}
	b.log.Info("batch signed and opened", "batch", id, "txid", txid)
	crashpoint.Hit(CrashOpened)
	if _, err := b.bc.Send(ctx, txid); err != nil && !errors.Is(err, broadcast.ErrUnresolved) {
		return err
	}
	crashpoint.Hit(CrashClosed)
	return nil
}
