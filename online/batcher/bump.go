package batcher

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/coinselect"
	"github.com/cryptoassets/cryptoassets/online/events"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// Errors a bump request is refused with.
var (
	// ErrCannotBump: the batch cannot be replaced by RBF (see the message).
	ErrCannotBump = errors.New("cannot bump")
	// ErrNotBumpable: the batch is not waiting in the mempool.
	ErrNotBumpable = errors.New("not a broadcast batch waiting for a block")
	// ErrTopupNotBumpable: a top-up is signed on the air-gapped signer, so
	// the service cannot sign a replacement of it.
	ErrTopupNotBumpable = errors.New("a top-up is signed on the air-gapped signer: cancel it before it is imported, or, once broadcast, export a new one when it is dead; the service cannot sign a replacement")
)

// CheckBumpable says whether batches of broadcast kind may be bumped here:
// withdrawals batches and sweeps, whose hot key the batcher holds.
func CheckBumpable(kind string) error {
	switch kind {
	case Kind, KindSweep:
		return nil
	case KindTopup:
		return ErrTopupNotBumpable
	}
	return fmt.Errorf("%w: a %s broadcast is no batch of ours", ErrNotBumpable, kind)
}

// EventBatchBumped reports a fee bump: a new version of a batch.
const EventBatchBumped = "batch.bumped"

// version is the newest version of a chain of fee bumps, as a bump needs it.
type version struct {
	id, first int64
	kind      string
	// transferVout and transferAmount: a sweep's output to the cold
	// wallet, which pays a bump when there is no change.
	transferVout   *int32
	transferAmount *int64
	txid           chainhash.Hash
	psbt           []byte
	fee, rate      int64
	vsize          int64
	changeVout     *int32
	changeAmount   *int64
	deadline       *int32
	budget         int64
	startHeight    int32
	firstRate      int64
	requestedRate  *int64
	requestedBy    *string
	changeScript   []byte
	transferScript []byte
}

// plan is the replacement of a version at a rate: its fee, and its change
// or (a changeless sweep) its transfer to the cold wallet.
type plan struct {
	fee, change, transfer int64
}

// planBump checks that v can be replaced at rate under BIP125 (a higher
// rate, and an absolute fee higher by at least the minimum relay fee of
// the replacement), within the budget of the whole chain of versions, by
// drawing on the change.
func (b *Batcher) planBump(v version, rate int64) (plan, error) {
	if rate <= v.rate {
		return plan{}, fmt.Errorf("%w: %s sat/vB is not above the batch's %s sat/vB", ErrCannotBump, rateText(rate), rateText(v.rate))
	}
	fee := (rate*v.vsize + 999) / 1000
	if floor := v.fee + (b.cfg.MinRelayFeeRate*v.vsize+999)/1000; fee < floor {
		fee = floor // BIP125 rule 4: pay for the replacement's own relay
	}
	if fee > v.budget {
		return plan{}, fmt.Errorf("%w: a fee of %d sat at %s sat/vB is over the batch's budget of %d sat (max_fee_sat and max_fee_ratio, over every version)",
			ErrCannotBump, fee, rateText(rate), v.budget)
	}
	if v.changeVout == nil && v.kind == BatchSweep && v.transferAmount != nil {
		// A changeless sweep pays the bump out of what it moves to cold.
		transfer := *v.transferAmount - (fee - v.fee)
		if transfer <= 0 || transfer < coinselect.DustLimit(v.transferScript) {
			return plan{}, fmt.Errorf("%w: the sweep's %d sat to the cold wallet cannot pay the %d sat more the bump needs", ErrCannotBump, *v.transferAmount, fee-v.fee)
		}
		return plan{fee: fee, transfer: transfer}, nil
	}
	if v.changeVout == nil {
		return plan{}, fmt.Errorf("%w: the batch has no change output to pay a higher fee from; a child paying for it (CPFP) would need an output of ours, and it has none either: wait, or abandon it only once it can no longer confirm", ErrCannotBump)
	}
	change := *v.changeAmount - (fee - v.fee)
	if change < coinselect.DustLimit(v.changeScript) {
		return plan{}, fmt.Errorf("%w: the change (%d sat) cannot pay the %d sat more the bump needs; spend the change in a child transaction (CPFP) instead, by hand", ErrCannotBump, *v.changeAmount, fee-v.fee)
	}
	return plan{fee: fee, change: change}, nil
}

func (b *Batcher) newest(tx *store.Tx, id int64) (version, error) {
	var v version
	var txid []byte
	err := tx.QueryRow(`SELECT bt.id, coalesce(bt.first_version, bt.id), bt.kind, bt.transfer_vout, bt.transfer_amount, bt.txid, bt.psbt, bt.fee, bt.fee_rate, bt.vsize, bt.change_vout, bt.change_amount,
			bt.deadline_height, bt.fee_budget, f.locktime::integer, f.fee_rate, bt.bump_fee_rate, bt.bump_requested_by
		FROM `+b.schema+`.batches bt JOIN `+b.schema+`.batches f ON f.id = coalesce(bt.first_version, bt.id)
		WHERE bt.id = $1 AND bt.state = 'broadcast' AND bt.block_hash IS NULL AND bt.kind <> 'topup'
		  AND NOT EXISTS (SELECT 1 FROM `+b.schema+`.batches n WHERE n.replaces = bt.id AND n.state NOT IN ('dead', 'replaced', 'rejected', 'abandoned'))
		  AND NOT EXISTS (SELECT 1 FROM `+b.schema+`.coins c WHERE c.spent_by = bt.txid AND c.spent_block IS NOT NULL)
		  AND NOT EXISTS (SELECT 1 FROM `+b.schema+`.coins c JOIN `+b.schema+`.batches d ON d.id = c.reserved_by OR d.txid = c.spent_by
			WHERE c.txid = bt.txid AND d.kind = 'topup' AND d.state IN ('reserved', 'broadcasting', 'broadcast'))
		FOR UPDATE OF bt`, id).Scan(&v.id, &v.first, &v.kind, &v.transferVout, &v.transferAmount, &txid, &v.psbt, &v.fee, &v.rate, &v.vsize, &v.changeVout, &v.changeAmount,
		&v.deadline, &v.budget, &v.startHeight, &v.firstRate, &v.requestedRate, &v.requestedBy)
	if errors.Is(err, pgx.ErrNoRows) {
		return v, fmt.Errorf("%w: batch %d is not the newest version of a broadcast batch in no block, or a top-up exported or sent spends its output (a replacement would take that input from under it)", ErrNotBumpable, id)
	}
	if err != nil {
		return v, err
	}
	v.txid = chainhash.Hash(txid)
	if v.changeVout != nil || v.transferVout != nil {
		pk, err := btcpsbt.NewFromRawBytes(bytes.NewReader(v.psbt), false)
		if err != nil {
			return v, err
		}
		if v.changeVout != nil {
			v.changeScript = pk.UnsignedTx.TxOut[*v.changeVout].PkScript
		}
		if v.transferVout != nil {
			v.transferScript = pk.UnsignedTx.TxOut[*v.transferVout].PkScript
		}
	}
	return v, nil
}

// RequestBump records an operator's request to replace the batch paid by
// broadcast txid at rate (sat/kvB); the batcher in serve, which holds the
// hot key, builds and sends the replacement. The request is checked here,
// so a bump that cannot be made is refused at once with the reason.
func (b *Batcher) RequestBump(ctx context.Context, txid chainhash.Hash, rate int64, operator string) (int64, error) {
	return RequestBump(ctx, b.runner, b.ledger.Asset(), b.cfg, txid, rate, operator)
}

// RequestBump is Batcher.RequestBump for a process that holds no hot key
// (the CLI): cfg is the asset's batching configuration.
func RequestBump(ctx context.Context, runner *store.Runner, asset string, cfg Config, txid chainhash.Hash, rate int64, operator string) (int64, error) {
	cfg.defaults()
	b := &Batcher{cfg: cfg, runner: runner, schema: pgx.Identifier{asset}.Sanitize()}
	var id int64
	err := runner.InTx(ctx, "batch-bump-request", func(tx *store.Tx) error {
		var kind string
		if err := tx.QueryRow(`SELECT id, kind FROM `+b.schema+`.batches WHERE txid = $1`, txid[:]).Scan(&id, &kind); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("%w: no withdrawal batch has transaction %s", ErrNotBumpable, txid)
			}
			return err
		}
		if kind == BatchTopup {
			return fmt.Errorf("batch %d: %w", id, ErrTopupNotBumpable)
		}
		v, err := b.newest(tx, id)
		if err != nil {
			return err
		}
		if _, err := b.planBump(v, rate); err != nil {
			return err
		}
		_, err = tx.Exec(`UPDATE `+b.schema+`.batches SET bump_fee_rate = $2, bump_requested_by = $3, updated_at = now() WHERE id = $1`, id, rate, operator)
		return err
	})
	return id, err
}

// bumpDue builds a replacement for every newest version of a batch that
// an operator asked to bump, or whose automatic rate has risen by at
// least the minimum relay rate since its last version: the line from its
// first rate, at the block it was built, to its budget's rate at its
// deadline.
func (b *Batcher) bumpDue(ctx context.Context) error {
	nodeTip, _, err := b.node.Tip(ctx)
	if err != nil {
		return err
	}
	// The chain as the follower stored it: a block the node has and the
	// follower has not read yet may hold the batch, which is then not
	// bumped (a replacement of a mined transaction is refused anyway).
	var tip int32
	var cursor *int32
	if err := b.runner.Pool().QueryRow(ctx, `SELECT height FROM `+b.schema+`.chain_cursor`).Scan(&cursor); err != nil {
		return err
	}
	if cursor == nil || *cursor < nodeTip {
		return nil
	}
	tip = *cursor
	rows, err := b.runner.Pool().Query(ctx, `SELECT bt.id FROM `+b.schema+`.batches bt
		WHERE bt.state = 'broadcast' AND bt.block_hash IS NULL AND bt.kind <> 'topup'
		  AND (bt.bump_fee_rate IS NOT NULL OR bt.deadline_height IS NOT NULL)
		  AND NOT EXISTS (SELECT 1 FROM `+b.schema+`.batches n WHERE n.replaces = bt.id AND n.state NOT IN ('dead', 'replaced', 'rejected', 'abandoned'))
		ORDER BY bt.id`)
	if err != nil {
		return err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		var newID int64
		var note string
		err := b.runner.InTx(ctx, "batch-bump", func(tx *store.Tx) error {
			newID, note = 0, ""
			if err := b.lock(tx); err != nil {
				return err
			}
			v, err := b.newest(tx, id)
			if errors.Is(err, ErrNotBumpable) {
				return nil
			}
			if err != nil {
				return err
			}
			rate, by := int64(0), "automatic"
			if v.requestedRate != nil {
				rate, by = *v.requestedRate, "operator"
				if v.requestedBy != nil {
					by = *v.requestedBy
				}
			} else if r, ok := b.autoRate(v, tip); ok {
				rate = r
			} else {
				return nil
			}
			// A replacement the node refused is not tried again at the same
			// rate or below (it would be the same transaction).
			var refusedAt *int64
			if err := tx.QueryRow(`SELECT max(fee_rate) FROM `+b.schema+`.batches WHERE replaces = $1 AND state = 'rejected'`, v.id).Scan(&refusedAt); err != nil {
				return err
			}
			if refusedAt != nil && rate <= *refusedAt {
				if v.requestedRate != nil {
					if _, err := tx.Exec(`UPDATE `+b.schema+`.batches SET bump_fee_rate = NULL WHERE id = $1`, v.id); err != nil {
						return err
					}
				}
				note = fmt.Sprintf("the node refused a replacement at %s sat/vB already; %s sat/vB is not above it", rateText(*refusedAt), rateText(rate))
				return nil
			}
			p, err := b.planBump(v, rate)
			if err != nil {
				if v.requestedRate != nil {
					if _, err := tx.Exec(`UPDATE `+b.schema+`.batches SET bump_fee_rate = NULL WHERE id = $1`, v.id); err != nil {
						return err
					}
				}
				note = err.Error()
				return nil
			}
			newID, err = b.replaceVersion(tx, v, rate, p, tip, by)
			return err
		})
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("bumping batch %d: %w", id, err))
		case note != "":
			b.log.Warn("batch not bumped", "batch", id, "reason", note)
		case newID != 0:
			if err := b.openAndSend(ctx, newID); err != nil {
				errs = append(errs, fmt.Errorf("batch %d: %w", newID, err))
			}
		}
	}
	return errors.Join(errs...)
}

// autoBumpMultiple bounds automatic bumping at this many times a batch's
// first rate.
const autoBumpMultiple = 4

// autoRate is the rate the fee line gives at tip, when it is worth a bump.
func (b *Batcher) autoRate(v version, tip int32) (int64, bool) {
	if v.deadline == nil {
		return 0, false
	}
	start, end := v.startHeight, *v.deadline
	// The line ends at the budget, but never above autoBumpMultiple times
	// the first rate: an operator may go further (up to the budget), the
	// batcher on its own does not.
	budgetRate := min(v.budget*1000/v.vsize, v.firstRate*autoBumpMultiple)
	if budgetRate <= v.firstRate || tip <= start {
		return 0, false
	}
	rate := budgetRate
	if tip < end {
		rate = v.firstRate + (budgetRate-v.firstRate)*int64(tip-start)/int64(end-start)
	}
	rate = min(rate, b.cfg.MaxFeeRate, budgetRate)
	if rate < v.rate+b.cfg.MinRelayFeeRate {
		return 0, false
	}
	return rate, true
}

// replaceVersion stores the next version of v: the same inputs and
// withdrawal outputs, the change (or a changeless sweep's transfer)
// lowered to pay the higher fee, the locktime moved to the tip; the coins
// and the withdrawals move to it.
func (b *Batcher) replaceVersion(tx *store.Tx, v version, rate int64, p plan, tip int32, by string) (int64, error) {
	pk, err := btcpsbt.NewFromRawBytes(bytes.NewReader(v.psbt), false)
	if err != nil {
		return 0, err
	}
	change, transfer := v.changeAmount, v.transferAmount
	if v.changeVout != nil {
		pk.UnsignedTx.TxOut[*v.changeVout].Value = p.change
		change = &p.change
	} else {
		pk.UnsignedTx.TxOut[*v.transferVout].Value = p.transfer
		transfer = &p.transfer
	}
	pk.UnsignedTx.LockTime = uint32(max(tip, 0))
	var raw bytes.Buffer
	if err := pk.Serialize(&raw); err != nil {
		return 0, err
	}
	txid := pk.UnsignedTx.TxHash()
	var id int64
	if err := tx.QueryRow(`INSERT INTO `+b.schema+`.batches (state, kind, txid, psbt, fee, fee_rate, vsize, locktime, change_vout, change_amount, replaces,
			first_version, deadline_height, fee_budget, transfer_vout, transfer_amount, transfer_address_id)
		SELECT 'reserved', kind, $2, $3, $4, $5, vsize, $6, change_vout, $7, id, coalesce(first_version, id), deadline_height, fee_budget,
			transfer_vout, $8, transfer_address_id
		FROM `+b.schema+`.batches WHERE id = $1 RETURNING id`, v.id, txid[:], raw.Bytes(), p.fee, rate, int64(pk.UnsignedTx.LockTime), change, transfer).Scan(&id); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(`INSERT INTO `+b.schema+`.batch_inputs (batch_id, txid, vout) SELECT $2, txid, vout FROM `+b.schema+`.batch_inputs WHERE batch_id = $1`, v.id, id); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(`INSERT INTO `+b.schema+`.batch_withdrawals (batch_id, withdrawal_id, vout) SELECT $2, withdrawal_id, vout FROM `+b.schema+`.batch_withdrawals WHERE batch_id = $1`, v.id, id); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(`UPDATE `+b.schema+`.coins SET reserved_by = $2, updated_at = now() WHERE reserved_by = $1`, v.id, id); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(`UPDATE `+b.schema+`.withdrawals SET batch_id = $2, updated_at = now() WHERE batch_id = $1 AND state IN ('batched', 'broadcast')`, v.id, id); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(`UPDATE `+b.schema+`.batches SET bump_fee_rate = NULL, updated_at = now() WHERE id = $1`, v.id); err != nil {
		return 0, err
	}
	b.log.Info("batch bumped", "batch", v.id, "new_batch", id, "txid", txid, "fee_sat", p.fee, "fee_rate_sat_per_vb", rateText(rate), "by", by)
	_, err = events.Emit(tx, b.ledger.Asset(), EventBatchBumped, map[string]any{"batch_id": v.id, "kind": v.kind, "new_batch_id": id, "first_version": v.first,
		"txid": v.txid.String(), "new_txid": chainhash.Hash(txid).String(), "fee_sat": fmt.Sprint(p.fee), "fee_rate_sat_per_vb": rateText(rate), "by": by})
	return id, err
}
