package cold

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/events"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// CrashReserved is the crash point (internal/crashpoint) between the
// transaction that reserves a top-up and the writing of its files.
const CrashReserved = "cold.topup_reserved"

// Announce emits cold.topup_exported for top-up id, naming files (already
// written; nil or empty when there are none), in one transaction that
// marks it announced. Only the announcer that marks it emits: a top-up
// already announced, or no longer reserved (cancelled, expired or
// imported), is left as it is and Announce returns false.
func (t *TopUps) Announce(ctx context.Context, id int64, files []string) (bool, error) {
	if files == nil {
		files = []string{}
	}
	var announced bool
	err := t.runner.InTx(ctx, "cold-topup-announce", func(tx *store.Tx) error {
		announced = false
		var txid []byte
		var vout int
		var addr, by string
		var amt, fee int64
		var expires time.Time
		err := tx.QueryRow(`UPDATE `+t.schema+`.batches b SET announced_at = now(), updated_at = now()
			FROM `+t.schema+`.addresses a
			WHERE b.id = $1 AND b.kind = 'topup' AND b.state = 'reserved' AND b.announced_at IS NULL AND a.id = b.transfer_address_id
			RETURNING b.txid, b.transfer_vout, a.address, b.transfer_amount, b.fee, b.expires_at, coalesce(b.exported_by, '')`, id).
			Scan(&txid, &vout, &addr, &amt, &fee, &expires, &by)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := events.Emit(tx, t.asset, EventTopupExported, map[string]any{
			"batch_id": id, "txid": chainhash.Hash(txid).String(), "vout": vout, "address": addr,
			"amount_sat": strconv.FormatInt(amt, 10), "fee_sat": strconv.FormatInt(fee, 10),
			"expires_at": expires.UTC().Format(time.RFC3339), "by": by, "files": files,
		}); err != nil {
			return err
		}
		announced = true
		return nil
	})
	if err != nil {
		return false, err
	}
	if announced {
		t.log.Info("top-up announced", "batch", id, "files", len(files))
	}
	return announced, nil
}

// Unannounced are the reserved top-ups not yet announced that were
// reserved more than grace ago, oldest first.
func (t *TopUps) Unannounced(ctx context.Context, grace time.Duration) ([]Export, error) {
	rows, err := t.runner.Pool().Query(ctx, `SELECT `+exportColumns+` FROM `+t.exportFrom()+`
		WHERE b.kind = 'topup' AND b.state = 'reserved' AND b.announced_at IS NULL AND b.created_at < now() - make_interval(secs => $1)
		ORDER BY b.id`, grace.Seconds())
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Export, error) { return scanExport(r) })
}
