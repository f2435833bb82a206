package batcher

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/broadcast"
	"github.com/cryptoassets/cryptoassets/online/events"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// closed runs inside the broadcaster's close transaction: an accepted
// batch becomes broadcast with its withdrawals (a sweep or a top-up with
// its event); a rejected withdrawals batch waits to be replaced by a
// transaction that conflicts with it, a rejected sweep or top-up releases
// its coins (it has nothing to pay again).
func (b *Batcher) closed(tx *store.Tx, r broadcast.Record) error {
	id, state, kind, err := b.batchOf(tx, r.TxID)
	if err != nil || id == 0 {
		return err
	}
	switch r.Outcome {
	case broadcast.Accepted, broadcast.AlreadyKnown:
		if state != Broadcasting {
			return nil
		}
		if _, err := tx.Exec(`UPDATE `+b.schema+`.batches SET state = 'broadcast', updated_at = now() WHERE id = $1`, id); err != nil {
			return err
		}
		if kind != BatchWithdrawals {
			f, err := b.transferOf(tx, id)
			if err != nil {
				return err
			}
			return b.transferEvent(tx, f, transferEvents[kind].broadcast, map[string]any{"state": Broadcast})
		}
		return b.withdrawalsTo(tx, id, "batched", "broadcast", EventWithdrawalBroadcast, r.TxID, nil)
	case broadcast.Rejected:
		if state != Broadcasting {
			return nil
		}
		if _, err := tx.Exec(`UPDATE `+b.schema+`.batches SET state = 'rejected', updated_at = now() WHERE id = $1`, id); err != nil {
			return err
		}
		// A refused fee bump: the version it replaces is still the one
		// waiting in the mempool, so its withdrawals and coins go back to it.
		var prev *int64
		if err := tx.QueryRow(`SELECT p.id FROM `+b.schema+`.batches bt JOIN `+b.schema+`.batches p ON p.id = bt.replaces
			WHERE bt.id = $1 AND p.state = 'broadcast'`, id).Scan(&prev); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if prev != nil {
			if _, err := tx.Exec(`UPDATE `+b.schema+`.withdrawals SET batch_id = $2, updated_at = now() WHERE batch_id = $1 AND state IN ('batched', 'broadcast')`, id, *prev); err != nil {
				return err
			}
			if _, err := tx.Exec(`UPDATE `+b.schema+`.coins SET reserved_by = $2, updated_at = now() WHERE reserved_by = $1`, id, *prev); err != nil {
				return err
			}
			b.log.Warn("fee bump refused by the node: the version before it stays", "batch", id, "txid", r.TxID, "kept", *prev, "error", r.Error)
			_, err := events.Emit(tx, b.ledger.Asset(), EventBatchRejected, map[string]any{"batch_id": id, "kind": kind, "txid": r.TxID.String(), "error": r.Error, "bump_of": *prev})
			return err
		}
		if kind != BatchWithdrawals {
			n, err := b.release(tx, id)
			if err != nil {
				return err
			}
			b.log.Error("batch rejected by the node: it pays no withdrawal, its coins are released", "batch", id, "kind", kind, "txid", r.TxID, "error", r.Error, "coins_released", n)
			_, err = events.Emit(tx, b.ledger.Asset(), EventBatchRejected, map[string]any{"batch_id": id, "kind": kind, "txid": r.TxID.String(), "error": r.Error, "coins_released": n})
			return err
		}
		b.log.Error("batch rejected by the node: its withdrawals will be paid by a transaction spending its inputs", "batch", id, "txid", r.TxID, "error", r.Error)
		_, err := events.Emit(tx, b.ledger.Asset(), EventBatchRejected, map[string]any{"batch_id": id, "kind": kind, "txid": r.TxID.String(), "error": r.Error})
		return err
	}
	return nil
}

// abandoned runs inside the transaction in which an operator gives a
// broadcast up (`broadcasts resolve ID --abandon`).
func (b *Batcher) abandoned(tx *store.Tx, r broadcast.Record) error {
	id, state, kind, err := b.batchOf(tx, r.TxID)
	if err != nil || id == 0 {
		return err
	}
	if state != Broadcasting && state != Broadcast && state != Rejected {
		return fmt.Errorf("batch %d is %s: it cannot be abandoned", id, state)
	}
	if _, err = tx.Exec(`UPDATE `+b.schema+`.batches SET state = 'abandoned', updated_at = now() WHERE id = $1`, id); err != nil {
		return err
	}
	if kind != BatchWithdrawals {
		n, err := b.release(tx, id)
		if err == nil {
			b.log.Warn("batch abandoned by an operator: it pays no withdrawal, its coins are released (if it is mined after all, it is booked)",
				"batch", id, "kind", kind, "txid", r.TxID, "coins_released", n)
		}
		return err
	}
	b.log.Warn("batch abandoned by an operator: its withdrawals will be paid by a transaction spending its inputs", "batch", id, "txid", r.TxID)
	return nil
}

func (b *Batcher) batchOf(tx *store.Tx, txid chainhash.Hash) (id int64, state, kind string, err error) {
	err = tx.QueryRow(`SELECT id, state, kind FROM `+b.schema+`.batches WHERE txid = $1 FOR UPDATE`, txid[:]).Scan(&id, &state, &kind)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, "", "", nil
	}
	return id, state, kind, err
}

// transferOf reads a sweep or a top-up as its events describe it.
func (b *Batcher) transferOf(tx *store.Tx, id int64) (followed, error) {
	f := followed{id: id}
	var txid []byte
	err := tx.QueryRow(`SELECT bt.kind, bt.state, bt.txid, bt.fee, bt.transfer_amount, bt.transfer_vout, a.address
		FROM `+b.schema+`.batches bt LEFT JOIN `+b.schema+`.addresses a ON a.id = bt.transfer_address_id WHERE bt.id = $1`, id).
		Scan(&f.kind, &f.state, &txid, &f.fee, &f.transfer, &f.transferVout, &f.address)
	f.txid = chainhash.Hash(txid)
	return f, err
}

// withdrawalsTo moves the withdrawals batch id pays from one state to
// another and emits typ for each.
func (b *Batcher) withdrawalsTo(tx *store.Tx, id int64, from, to, typ string, txid chainhash.Hash, extra map[string]any) error {
	rows, err := tx.Query(`UPDATE `+b.schema+`.withdrawals w SET state = $3, updated_at = now()
		FROM `+b.schema+`.accounts a WHERE a.id = w.account_id AND w.batch_id = $1 AND w.state = $2
		RETURNING w.id, a.name, w.address, w.amount, w.vout`, id, from, to)
	if err != nil {
		return err
	}
	type moved struct {
		id            int64
		account, addr string
		amount        int64
		vout          *int32
	}
	var ms []moved
	for rows.Next() {
		var m moved
		if err := rows.Scan(&m.id, &m.account, &m.addr, &m.amount, &m.vout); err != nil {
			rows.Close()
			return err
		}
		ms = append(ms, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, m := range ms {
		p := map[string]any{"withdrawal_id": m.id, "account": m.account, "address": m.addr, "amount_sat": strconv.FormatInt(m.amount, 10),
			"state": to, "batch_id": id, "txid": txid.String(), "vout": m.vout}
		for k, v := range extra {
			p[k] = v
		}
		if _, err := events.Emit(tx, b.ledger.Asset(), typ, p); err != nil {
			return err
		}
	}
	return nil
}
