package batcher

import (
	"context"
	"errors"
	"fmt"

	"github.com/cryptoassets/cryptoassets/online/store"
)

// maxReplacements bounds how many times the withdrawals of one batch are
// re-paid by a new conflicting transaction before an operator must look.
const maxReplacements = 5

// replaceFailed pays again the withdrawals of each rejected or abandoned
// batch, with a transaction that spends every input of it that is still
// unspent: the two conflict, so at most one of them can ever confirm.
// A failed batch none of whose inputs is free is left for Follow, which
// marks it dead once they are all spent deep in the chain.
func (b *Batcher) replaceFailed(ctx context.Context) error {
	rows, err := b.runner.Pool().Query(ctx, `SELECT bt.id FROM `+b.schema+`.batches bt
		WHERE bt.state IN ('rejected', 'abandoned')
		  AND NOT EXISTS (SELECT 1 FROM `+b.schema+`.batches n WHERE n.replaces = bt.id AND n.state <> 'dead')
		  AND EXISTS (SELECT 1 FROM `+b.schema+`.withdrawals w WHERE w.batch_id = bt.id AND w.state = 'batched')
		ORDER BY bt.id`)
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
	if err := rows.Err(); err != nil || len(ids) == 0 {
		return err
	}
	estimate, err := b.feeRate(ctx)
	if err != nil {
		return err
	}
	tip, _, err := b.node.Tip(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, old := range ids {
		var id int64
		var refused *refusal
		err := b.runner.InTx(ctx, "batch-replace", func(tx *store.Tx) error {
			id, refused = 0, nil
			if err := b.lock(tx); err != nil {
				return err
			}
			var depth int
			var oldRate int64
			if err := tx.QueryRow(`WITH RECURSIVE chain(id, replaces) AS (SELECT id, replaces FROM `+b.schema+`.batches WHERE id = $1
					UNION ALL SELECT p.id, p.replaces FROM `+b.schema+`.batches p JOIN chain c ON p.id = c.replaces)
				SELECT count(*) - 1, (SELECT fee_rate FROM `+b.schema+`.batches WHERE id = $1) FROM chain`, old).Scan(&depth, &oldRate); err != nil {
				return err
			}
			if depth >= maxReplacements {
				refused = &refusal{fmt.Sprintf("batch %d was already paid again %d times: an operator must look (broadcasts list --broken, runbook: failed withdrawal batches)", old, depth)}
				return nil
			}
			required, err := b.freeInputs(tx, old)
			if err != nil || len(required) == 0 {
				return err
			}
			ws, err := b.paidBy(tx, old)
			if err != nil || len(ws) == 0 {
				return err
			}
			// BIP125: the replacement pays a higher rate, by at least the
			// minimum relay rate, whatever the estimate says now.
			rate := max(estimate, oldRate+b.cfg.MinRelayFeeRate)
			id, err = b.reserveTx(tx, order{kind: BatchWithdrawals, outs: ws}, required, rate, tip, &old)
			if errors.As(err, &refused) {
				return nil
			}
			return err
		})
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("batch %d: %w", old, err))
		case refused != nil:
			errs = append(errs, b.refuse(ctx, refused.reason))
		case id != 0:
			b.log.Warn("withdrawals of a failed batch paid again by a conflicting transaction", "failed_batch", old, "batch", id)
			if err := b.openAndSend(ctx, id); err != nil {
				errs = append(errs, fmt.Errorf("batch %d: %w", id, err))
			}
		}
	}
	return errors.Join(errs...)
}

// release gives back the coins a failed sweep or top-up reserved and no
// block spent: it pays no withdrawal, so nothing has to conflict with it.
// Should it be mined after all, Follow books it as any other batch, and a
// batch that spent the same coins meanwhile is the one that dies.
func (b *Batcher) release(tx *store.Tx, id int64) (int64, error) {
	tag, err := tx.Exec(`UPDATE `+b.schema+`.coins SET reserved_by = NULL, updated_at = now() WHERE reserved_by = $1 AND spent_block IS NULL`, id)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// freeInputs are the inputs of batch id that no transaction has spent (its
// own, possibly still in some mempool, aside): a replacement spends them all.
func (b *Batcher) freeInputs(tx *store.Tx, id int64) ([]coin, error) {
	rows, err := tx.Query(`SELECT c.txid, c.vout, c.amount, c.script, c.block_height IS NOT NULL, a.branch = 1, a.branch, a.idx
		FROM `+b.schema+`.batch_inputs i JOIN `+b.schema+`.batches bt ON bt.id = i.batch_id
		JOIN `+b.schema+`.coins c ON c.txid = i.txid AND c.vout = i.vout
		JOIN `+b.schema+`.addresses a ON a.id = c.address_id
		WHERE i.batch_id = $1 AND (c.spent_by IS NULL OR (c.spent_by = bt.txid AND c.spent_block IS NULL))
		  AND (c.reserved_by IS NULL OR c.reserved_by = $1)`, id)
	if err != nil {
		return nil, err
	}
	var out []coin
	for rows.Next() {
		var c coin
		var txid []byte
		var branch int16
		var idx int32
		if err := rows.Scan(&txid, &c.OutPoint.Index, &c.Amount, &c.Script, &c.Confirmed, &c.Change, &branch, &idx); err != nil {
			rows.Close()
			return nil, err
		}
		copy(c.OutPoint.Hash[:], txid)
		c.branch, c.index = uint32(branch), uint32(idx)
		c.Change = true // an input we already chose to spend: it may be spent unconfirmed
		out = append(out, c)
	}
	rows.Close()
	return out, rows.Err()
}

// paidBy lists the withdrawals batch id pays that are still waiting on it.
func (b *Batcher) paidBy(tx *store.Tx, id int64) ([]pending, error) {
	return pendingRows(tx.Query(`SELECT w.id, w.script, w.amount FROM `+b.schema+`.withdrawals w
		WHERE w.batch_id = $1 AND w.state = 'batched' ORDER BY w.id`, id))
}
