package batcher

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/events"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/store"
	"github.com/cryptoassets/cryptoassets/online/withdrawals"
)

// followed is a batch as Follow sees it against the stored chain.
type followed struct {
	id           int64
	kind         string
	state        string
	txid         chainhash.Hash
	fee          int64
	transfer     *int64 // a sweep's or a top-up's amount to the other wallet
	transferVout *int32
	address      *string // the address of that output
	confs        int32
	minedHeight  *int32 // the stored best-chain block holding it, if any
	minedHash    []byte
	wasInBlock   bool
	blockHeight  *int32 // the block the batch's row names, if any
	blockHash    []byte
	repoint      bool // some of its withdrawals point at another version of it
	ledgerTxID   *int64
	allSpentDeep bool // every input spent by other transactions, deep enough
}

// todo is what following one batch against the stored chain changes; the
// zero value is nothing.
type todo struct {
	reorged bool // confirmed, and its block left the best chain: booked back, sent again
	unmined bool // its block left the best chain: sent again
	dead    bool // in no block, and every input spent deep by other transactions
	revive  bool // given up, or its answer lost, yet mined: it pays its withdrawals
	repoint bool // its withdrawals point at another version of it, and it is the one mined
	block   bool // the block or the confirmations its row names are not the chain's
	book    bool // mined deep enough, and not booked yet
}

// todo is what followOne does to f with the stored chain at tip.
func (f followed) todo(tip int32, confirmations int) todo {
	if f.minedHeight == nil {
		switch {
		case f.state == Confirmed:
			return todo{reorged: true}
		case f.wasInBlock:
			return todo{unmined: true}
		case f.allSpentDeep && f.state != Broadcasting:
			return todo{dead: true}
		}
		return todo{}
	}
	conf := tip - *f.minedHeight + 1
	return todo{
		// Followed batches are broadcasting, broadcast, confirmed,
		// rejected or abandoned.
		revive:  f.state != Broadcast && f.state != Confirmed,
		repoint: f.repoint,
		block:   f.blockHeight == nil || *f.blockHeight != *f.minedHeight || !bytes.Equal(f.blockHash, f.minedHash) || f.confs != conf,
		book:    f.state != Confirmed && conf >= int32(confirmations),
	}
}

// Follow brings every batch that can still change up to date with the
// chain the follower stored: confirmations, the booking of a confirmed
// batch, a reorganisation that dropped one (booked back and sent again), a
// given-up batch that was mined after all, and a batch that can never
// confirm (dead) whose withdrawals are then requeued.
//
// A poll with nothing to change (no followed batch, or none the chain has
// moved since the last poll) is one read-only query outside any
// transaction. Otherwise the serializable transaction reads the batches
// again and applies what is due; what changes after the read is seen by
// the next poll.
func (b *Batcher) Follow(ctx context.Context) error {
	tip, bs, err := b.followed(func(q string, args ...any) (pgx.Rows, error) { return b.runner.Pool().Query(ctx, q, args...) })
	if err != nil {
		return err
	}
	var due bool
	for _, f := range bs {
		due = due || f.todo(tip, b.cfg.Confirmations) != todo{}
	}
	var resend []chainhash.Hash
	if due {
		err = b.runner.InTx(ctx, "batch-follow", func(tx *store.Tx) error {
			resend = resend[:0]
			if err := b.lock(tx); err != nil {
				return err
			}
			tip, bs, err := b.followed(tx.Query)
			if err != nil {
				return err
			}
			for _, f := range bs {
				again, err := b.followOne(tx, f, tip)
				if err != nil {
					return fmt.Errorf("batch %d: %w", f.id, err)
				}
				if again {
					resend = append(resend, f.txid)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	var errs []error
	for _, txid := range resend {
		if err := b.bc.Resend(ctx, txid); err != nil {
			errs = append(errs, fmt.Errorf("sending %s again: %w", txid, err))
		}
	}
	b.resendStale(ctx)
	return errors.Join(errs...)
}

// followed reads, in one statement, the batches that can still change
// and the stored chain's tip they are seen at. With no tip stored yet
// there is nothing to follow.
func (b *Batcher) followed(query func(string, ...any) (pgx.Rows, error)) (int32, []followed, error) {
	rows, err := query(`SELECT cur.height, bt.id, bt.kind, bt.state, bt.txid, bt.fee, bt.transfer_amount, bt.transfer_vout,
			(SELECT a.address FROM `+b.schema+`.addresses a WHERE a.id = bt.transfer_address_id), bt.confirmations, m.height, m.hash, bt.block_hash IS NOT NULL, bt.ledger_tx_id,
			NOT EXISTS (SELECT 1 FROM `+b.schema+`.batch_inputs i LEFT JOIN `+b.schema+`.coins c ON c.txid = i.txid AND c.vout = i.vout
				WHERE i.batch_id = bt.id AND (c.spent_height IS NULL OR c.spent_by = bt.txid OR cur.height - c.spent_height + 1 < $1)),
			bt.block_height, bt.block_hash,
			EXISTS (SELECT 1 FROM `+b.schema+`.batch_withdrawals bw JOIN `+b.schema+`.withdrawals w ON w.id = bw.withdrawal_id
				WHERE bw.batch_id = bt.id AND w.state IN ('batched', 'broadcast') AND w.batch_id IS DISTINCT FROM bw.batch_id)
		FROM `+b.schema+`.batches bt CROSS JOIN `+b.schema+`.chain_cursor cur
		LEFT JOIN LATERAL (SELECT c.spent_height AS height, c.spent_block AS hash FROM `+b.schema+`.coins c
			JOIN `+b.schema+`.chain_blocks cb ON cb.hash = c.spent_block AND cb.height = c.spent_height
			WHERE c.spent_by = bt.txid LIMIT 1) m ON true
		WHERE bt.state IN ('broadcasting', 'broadcast', 'confirmed', 'rejected', 'abandoned') AND cur.height IS NOT NULL
		ORDER BY bt.id`, b.cfg.Confirmations)
	if err != nil {
		return 0, nil, err
	}
	var tip int32
	var out []followed
	for rows.Next() {
		var f followed
		var txid []byte
		if err := rows.Scan(&tip, &f.id, &f.kind, &f.state, &txid, &f.fee, &f.transfer, &f.transferVout, &f.address, &f.confs, &f.minedHeight, &f.minedHash, &f.wasInBlock,
			&f.ledgerTxID, &f.allSpentDeep, &f.blockHeight, &f.blockHash, &f.repoint); err != nil {
			rows.Close()
			return 0, nil, err
		}
		f.txid = chainhash.Hash(txid)
		out = append(out, f)
	}
	rows.Close()
	return tip, out, rows.Err()
}

// followOne applies what the chain says about one batch; it reports
// whether the batch's bytes should be sent again.
func (b *Batcher) followOne(tx *store.Tx, f followed, tip int32) (bool, error) {
	t := f.todo(tip, b.cfg.Confirmations)
	switch {
	case t.reorged:
		// A reorganisation dropped the block that confirmed it: the
		// booking is reversed and the same bytes are sent again.
		if err := b.book(tx, f, -1); err != nil {
			return false, err
		}
		if _, err := tx.Exec(`UPDATE `+b.schema+`.batches SET state = 'broadcast', block_hash = NULL, block_height = NULL, confirmations = 0,
			ledger_tx_id = NULL, updated_at = now() WHERE id = $1`, f.id); err != nil {
			return false, err
		}
		b.log.Warn("a confirmed batch left the best chain: booked back and sent again", "batch", f.id, "kind", f.kind, "txid", f.txid)
		if f.kind != BatchWithdrawals {
			return true, b.transferEvent(tx, f, transferEvents[f.kind].reorged, nil)
		}
		return true, b.withdrawalsTo(tx, f.id, withdrawals.Confirmed, withdrawals.Broadcast, EventWithdrawalReorged, f.txid, nil)
	case t.unmined:
		_, err := tx.Exec(`UPDATE `+b.schema+`.batches SET block_hash = NULL, block_height = NULL, confirmations = 0, updated_at = now() WHERE id = $1`, f.id)
		b.log.Warn("a batch's block left the best chain: sent again", "batch", f.id, "txid", f.txid)
		return true, err
	case t.dead:
		return false, b.markDead(tx, f)
	}
	if t.revive {
		b.log.Warn("a batch that was not accepted is in a block: it pays its withdrawals", "batch", f.id, "txid", f.txid, "state", f.state)
		if _, err := tx.Exec(`UPDATE `+b.schema+`.batches SET state = 'broadcast', updated_at = now() WHERE id = $1`, f.id); err != nil {
			return false, err
		}
		f.state = Broadcast
	}
	if t.repoint {
		// The mined version pays the withdrawals, whichever version of a
		// chain of bumps or re-payments they pointed at.
		if _, err := tx.Exec(`UPDATE `+b.schema+`.withdrawals w SET batch_id = bw.batch_id, vout = bw.vout,
				state = CASE WHEN w.state = 'batched' THEN 'broadcast' ELSE w.state END, updated_at = now()
			FROM `+b.schema+`.batch_withdrawals bw WHERE bw.batch_id = $1 AND bw.withdrawal_id = w.id
			  AND w.state IN ('batched', 'broadcast') AND w.batch_id IS DISTINCT FROM bw.batch_id`, f.id); err != nil {
			return false, err
		}
	}
	if t.block {
		if _, err := tx.Exec(`UPDATE `+b.schema+`.batches SET block_hash = $2, block_height = $3, confirmations = $4, updated_at = now() WHERE id = $1`,
			f.id, f.minedHash, *f.minedHeight, tip-*f.minedHeight+1); err != nil {
			return false, err
		}
	}
	if t.book {
		conf := tip - *f.minedHeight + 1
		if err := b.book(tx, f, 1); err != nil {
			return false, err
		}
		if _, err := tx.Exec(`UPDATE `+b.schema+`.batches SET state = 'confirmed', updated_at = now() WHERE id = $1`, f.id); err != nil {
			return false, err
		}
		b.log.Info("batch confirmed", "batch", f.id, "kind", f.kind, "txid", f.txid, "height", *f.minedHeight, "confirmations", conf)
		block := map[string]any{"block_height": *f.minedHeight, "block_hash": chainhash.Hash(f.minedHash).String(), "confirmations": conf}
		if f.kind != BatchWithdrawals {
			return false, b.transferEvent(tx, f, transferEvents[f.kind].confirmed, block)
		}
		return false, b.withdrawalsTo(tx, f.id, withdrawals.Broadcast, withdrawals.Confirmed, EventWithdrawalConfirmed, f.txid, block)
	}
	return false, nil
}

// book posts a confirmed batch to the ledger (sign 1), or takes that
// posting back (sign -1). The internal accounts' balances are minus the
// coins they stand for:
//
//	withdrawals  withdrawals_pending −paid, hot_wallet +(paid+fee), network_fees −fee
//	sweep of X   hot_wallet +(X+fee), cold_wallet −X, network_fees −fee
//	topup of Y   cold_wallet +(Y+fee), hot_wallet −Y, network_fees −fee
func (b *Batcher) book(tx *store.Tx, f followed, sign int64) error {
	hot, _, err := b.ledger.Internal(tx, ledger.HotWallet)
	if err != nil {
		return err
	}
	fees, _, err := b.ledger.Internal(tx, ledger.NetworkFees)
	if err != nil {
		return err
	}
	var kind, memo string
	var postings []ledger.Posting
	switch f.kind {
	case BatchWithdrawals:
		var paid int64
		if err := tx.QueryRow(`SELECT coalesce(sum(w.amount), 0)::bigint FROM `+b.schema+`.batch_withdrawals bw
			JOIN `+b.schema+`.withdrawals w ON w.id = bw.withdrawal_id WHERE bw.batch_id = $1`, f.id).Scan(&paid); err != nil {
			return err
		}
		pendingID, _, err := b.ledger.Internal(tx, withdrawals.PendingAccount)
		if err != nil {
			return err
		}
		kind, memo = "withdrawal.paid", fmt.Sprintf("batch %d %s", f.id, f.txid)
		postings = []ledger.Posting{
			{AccountID: pendingID, Available: -sign * paid},
			{AccountID: hot, Available: sign * (paid + f.fee)},
			{AccountID: fees, Available: -sign * f.fee},
		}
	case BatchSweep, BatchTopup:
		if f.transfer == nil {
			return fmt.Errorf("%s batch %d has no transfer amount", f.kind, f.id)
		}
		cold, _, err := b.ledger.Internal(tx, ledger.ColdWallet)
		if err != nil {
			return err
		}
		from, to := hot, cold // the wallet whose coins pay, and the one paid
		kind, memo = "sweep.booked", fmt.Sprintf("sweep %d %s", f.id, f.txid)
		if f.kind == BatchTopup {
			from, to = cold, hot
			kind, memo = "cold.topup_booked", fmt.Sprintf("top-up %d %s", f.id, f.txid)
		}
		postings = []ledger.Posting{
			{AccountID: from, Available: sign * (*f.transfer + f.fee)},
			{AccountID: to, Available: -sign * *f.transfer},
			{AccountID: fees, Available: -sign * f.fee},
		}
	default:
		return fmt.Errorf("batch %d has an unknown kind %q", f.id, f.kind)
	}
	if sign < 0 {
		kind = map[string]string{BatchWithdrawals: "withdrawal.reorged", BatchSweep: "sweep.reorged", BatchTopup: "cold.topup_reorged"}[f.kind]
		memo += " left the best chain"
	}
	txID, err := b.ledger.PostTx(tx, kind, memo, postings)
	if err != nil {
		return err
	}
	if sign > 0 {
		_, err = tx.Exec(`UPDATE `+b.schema+`.batches SET ledger_tx_id = $2 WHERE id = $1`, f.id, txID)
	}
	return err
}

// transferEvents are the events of a sweep's and a top-up's states.
var transferEvents = map[string]struct{ broadcast, confirmed, reorged string }{
	BatchSweep: {EventSweepBroadcast, EventSweepConfirmed, EventSweepReorged},
	BatchTopup: {EventTopupBroadcast, EventTopupConfirmed, EventTopupReorged},
}

// transferEvent emits typ for a sweep or a top-up: its transfer output,
// amount, fee and state, and extra.
func (b *Batcher) transferEvent(tx *store.Tx, f followed, typ string, extra map[string]any) error {
	p := map[string]any{"batch_id": f.id, "txid": f.txid.String(), "vout": f.transferVout, "address": f.address,
		"amount_sat": satText(f.transfer), "fee_sat": strconv.FormatInt(f.fee, 10)}
	for k, v := range extra {
		p[k] = v
	}
	_, err := events.Emit(tx, b.ledger.Asset(), typ, p)
	return err
}

func satText(v *int64) any {
	if v == nil {
		return nil
	}
	return strconv.FormatInt(*v, 10)
}

// markDead records that every input of a batch that never got into a
// block is spent, deep in the chain, by other transactions: it can never
// confirm. Its withdrawals that no other batch pays go back to requested
// (the double-payment rule no longer counts a dead batch), and its coins
// still unspent are released.
func (b *Batcher) markDead(tx *store.Tx, f followed) error {
	// Spent by versions of our own (a fee bump, a re-payment) that pay its
	// withdrawals, or for a sweep by another version of it: replaced
	// rather than dead.
	var replaced bool
	if err := tx.QueryRow(`SELECT NOT EXISTS (SELECT 1 FROM `+b.schema+`.batch_inputs i JOIN `+b.schema+`.coins c ON c.txid = i.txid AND c.vout = i.vout
			WHERE i.batch_id = $1 AND NOT EXISTS (SELECT 1 FROM `+b.schema+`.batches o WHERE o.txid = c.spent_by AND o.id <> $1 AND o.kind = $2
				AND (o.kind = 'withdrawals' OR coalesce(o.first_version, o.id) = (SELECT coalesce(first_version, id) FROM `+b.schema+`.batches WHERE id = $1))
				AND NOT EXISTS (SELECT 1 FROM `+b.schema+`.batch_withdrawals bw WHERE bw.batch_id = $1
					AND NOT EXISTS (SELECT 1 FROM `+b.schema+`.batch_withdrawals ow WHERE ow.batch_id = o.id AND ow.withdrawal_id = bw.withdrawal_id))))`,
		f.id, f.kind).Scan(&replaced); err != nil {
		return err
	}
	if replaced {
		if _, err := tx.Exec(`UPDATE `+b.schema+`.batches SET state = 'replaced', updated_at = now() WHERE id = $1`, f.id); err != nil {
			return err
		}
		b.log.Info("batch replaced: another version of it confirmed", "batch", f.id, "txid", f.txid)
		return nil
	}
	if _, err := tx.Exec(`UPDATE `+b.schema+`.batches SET state = 'dead', updated_at = now() WHERE id = $1`, f.id); err != nil {
		return err
	}
	if _, err := tx.Exec(`UPDATE `+b.schema+`.coins SET reserved_by = NULL, updated_at = now() WHERE reserved_by = $1 AND spent_by IS NULL`, f.id); err != nil {
		return err
	}
	b.log.Error("batch can never confirm: every input is spent by another transaction", "batch", f.id, "txid", f.txid)
	if _, err := events.Emit(tx, b.ledger.Asset(), EventBatchDead, map[string]any{"batch_id": f.id, "kind": f.kind, "txid": f.txid.String()}); err != nil {
		return err
	}
	rows, err := tx.Query(`UPDATE `+b.schema+`.withdrawals SET state = 'requested', batch_id = NULL, vout = NULL, updated_at = now()
		WHERE batch_id = $1 AND state IN ('batched', 'broadcast') RETURNING id, amount`, f.id)
	if err != nil {
		return err
	}
	type requeued struct{ id, amount int64 }
	var rs []requeued
	for rows.Next() {
		var r requeued
		if err := rows.Scan(&r.id, &r.amount); err != nil {
			rows.Close()
			return err
		}
		rs = append(rs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, r := range rs {
		if _, err := events.Emit(tx, b.ledger.Asset(), EventWithdrawalRequeued, map[string]any{"withdrawal_id": r.id, "state": withdrawals.Requested,
			"amount_sat": strconv.FormatInt(r.amount, 10), "dead_batch_id": f.id, "dead_txid": f.txid.String()}); err != nil {
			return err
		}
	}
	return nil
}

// resendStale sends again, every Resend, the broadcast batches that are in
// no block yet: a node that restarted or evicted them forgets them.
func (b *Batcher) resendStale(ctx context.Context) {
	rows, err := b.runner.Pool().Query(ctx, `SELECT id, txid FROM `+b.schema+`.batches bt WHERE state = 'broadcast' AND block_hash IS NULL
		AND updated_at <= now() - make_interval(secs => $1)
		AND NOT EXISTS (SELECT 1 FROM `+b.schema+`.batches n WHERE n.replaces = bt.id AND n.state IN ('broadcasting', 'broadcast', 'confirmed'))`, b.cfg.Resend.Seconds())
	if err != nil {
		b.log.Warn("listing unconfirmed batches", "err", err)
		return
	}
	type item struct {
		id   int64
		txid chainhash.Hash
	}
	var items []item
	for rows.Next() {
		var it item
		var txid []byte
		if rows.Scan(&it.id, &txid) == nil {
			it.txid = chainhash.Hash(txid)
			items = append(items, it)
		}
	}
	rows.Close()
	for _, it := range items {
		if last, ok := b.resent[it.id]; ok && time.Since(last) < b.cfg.Resend {
			continue
		}
		b.resent[it.id] = time.Now()
		if err := b.bc.Resend(ctx, it.txid); err != nil {
			b.log.Warn("sending an unconfirmed batch again", "batch", it.id, "txid", it.txid, "err", err)
		}
	}
}
