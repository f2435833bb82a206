package cold

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/events"
	"github.com/cryptoassets/cryptoassets/online/store"
)

const exportColumns = `b.id, b.txid, b.psbt, b.transfer_amount, b.fee, b.expires_at, b.state, b.fee_rate, b.vsize,
	coalesce(a.address, ''), coalesce(a.idx, 0), coalesce(b.change_amount, 0), coalesce(b.cancelled_by, ''), b.created_at`

func (t *TopUps) exportFrom() string {
	return t.schema + `.batches b LEFT JOIN ` + t.schema + `.addresses a ON a.id = b.transfer_address_id`
}

func scanExport(r pgx.Row) (Export, error) {
	var x Export
	var txid, raw []byte
	if err := r.Scan(&x.ID, &txid, &raw, &x.Amount, &x.Fee, &x.ExpiresAt, &x.State, &x.FeeRate, &x.VSize,
		&x.HotAddress, &x.HotIndex, &x.ChangeAmount, &x.CancelledBy, &x.CreatedAt); err != nil {
		return Export{}, err
	}
	copy(x.TxID[:], txid)
	p, err := btcpsbt.NewFromRawBytes(bytes.NewReader(raw), false)
	if err != nil {
		return Export{}, fmt.Errorf("top-up %d: its stored PSBT: %w", x.ID, err)
	}
	x.PSBT = p
	return x, nil
}

// Get returns top-up id, in whatever state.
func (t *TopUps) Get(ctx context.Context, id int64) (Export, error) {
	x, err := scanExport(t.runner.Pool().QueryRow(ctx, `SELECT `+exportColumns+` FROM `+t.exportFrom()+` WHERE b.id = $1 AND b.kind = 'topup'`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Export{}, fmt.Errorf("%w: %d (cryptoassets cold list shows them)", ErrNoTopUp, id)
	}
	return x, err
}

// List returns the newest top-ups first, at most limit (1 to 1000; 0
// means 100).
func (t *TopUps) List(ctx context.Context, limit int) ([]Export, error) {
	if limit < 0 || limit > 1000 {
		return nil, fmt.Errorf("limit %d: use 1 to 1000", limit)
	}
	if limit == 0 {
		limit = 100
	}
	rows, err := t.runner.Pool().Query(ctx, `SELECT `+exportColumns+` FROM `+t.exportFrom()+` WHERE b.kind = 'topup' ORDER BY b.id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Export, error) { return scanExport(r) })
}

// Cancel gives up an exported top-up before its import: its coins are
// released for other top-ups and cold.topup_cancelled is emitted. A
// top-up already imported, cancelled or expired is refused (the database
// refuses it too).
func (t *TopUps) Cancel(ctx context.Context, id int64, by string) (Export, error) {
	if by == "" || len(by) > 100 {
		return Export{}, errors.New("cancel: say who cancels (1 to 100 characters)")
	}
	err := t.runner.InTx(ctx, "cold-topup-cancel", func(tx *store.Tx) error {
		var kind, state string
		err := tx.QueryRow(`SELECT kind, state FROM `+t.schema+`.batches WHERE id = $1 FOR UPDATE`, id).Scan(&kind, &state)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && kind != "topup") {
			return fmt.Errorf("%w: %d (cryptoassets cold list shows them)", ErrNoTopUp, id)
		}
		if err != nil {
			return err
		}
		if state != StateReserved {
			return fmt.Errorf("%w: top-up %d is %s; only an export not yet imported can be cancelled", ErrNotCancellable, id, state)
		}
		if _, err := tx.Exec(`UPDATE `+t.schema+`.batches SET state = 'cancelled', cancelled_by = $2, updated_at = now() WHERE id = $1`, id, by); err != nil {
			return err
		}
		return t.release(tx, id, EventTopupCancelled, map[string]any{"by": by})
	})
	if err != nil {
		return Export{}, err
	}
	t.log.Info("top-up cancelled", "batch", id, "by", by)
	return t.Get(ctx, id)
}

// ExpireDue marks every exported top-up past its expiry expired, releasing
// its coins, and emits cold.topup_expired for each. It returns their ids.
func (t *TopUps) ExpireDue(ctx context.Context) ([]int64, error) {
	var ids []int64
	err := t.runner.InTx(ctx, "cold-topup-expire", func(tx *store.Tx) error {
		rows, err := tx.Query(`UPDATE ` + t.schema + `.batches SET state = 'expired', updated_at = now()
			WHERE kind = 'topup' AND state = 'reserved' AND expires_at <= now() RETURNING id`)
		if err != nil {
			return err
		}
		if ids, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
			return err
		}
		for _, id := range ids {
			if err := t.release(tx, id, EventTopupExpired, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		t.log.Warn("top-up expired before its import: its coins are released", "batch", id)
	}
	return ids, nil
}

// release frees the coins of top-up id and emits typ with extra fields.
func (t *TopUps) release(tx *store.Tx, id int64, typ string, extra map[string]any) error {
	var txid []byte
	var amt, fee int64
	var expires time.Time
	if err := tx.QueryRow(`SELECT txid, transfer_amount, fee, expires_at FROM `+t.schema+`.batches WHERE id = $1`, id).Scan(&txid, &amt, &fee, &expires); err != nil {
		return err
	}
	tag, err := tx.Exec(`UPDATE `+t.schema+`.coins SET reserved_by = NULL, updated_at = now() WHERE reserved_by = $1`, id)
	if err != nil {
		return err
	}
	h, _ := chainhash.NewHash(txid)
	payload := map[string]any{"batch_id": id, "txid": h.String(), "amount_sat": strconv.FormatInt(amt, 10),
		"fee_sat": strconv.FormatInt(fee, 10), "expires_at": expires.UTC().Format(time.RFC3339), "coins_released": tag.RowsAffected()}
	for k, v := range extra {
		payload[k] = v
	}
	_, err = events.Emit(tx, t.asset, typ, payload)
	return err
}
