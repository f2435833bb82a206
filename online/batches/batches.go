package batches

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"time"

	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/coinselect"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// FeePolicy is how a batch's fee rate is chosen, in sat per 1000 vbytes:
// the node's estimate for ConfTarget blocks, Fallback when it has none,
// clamped to [MinRelay, Max].
type FeePolicy struct {
	ConfTarget              int
	Fallback, MinRelay, Max int64
}

// Defaults is p with each unset (zero or negative) field at its default:
// a 6-block target, a 10 sat/vB fallback, a 1 sat/vB relay floor and a
// 500 sat/vB cap. The batcher and the cold top-ups take the same ones.
func (p FeePolicy) Defaults() FeePolicy {
	if p.ConfTarget <= 0 {
		p.ConfTarget = 6
	}
	if p.Fallback <= 0 {
		p.Fallback = 10_000
	}
	if p.MinRelay <= 0 {
		p.MinRelay = 1000
	}
	if p.Max <= 0 {
		p.Max = 500_000
	}
	return p
}

// FeeRate is the rate a batch is built at. A node that cannot estimate (no
// chain.FeeEstimator, or an error, which is logged) gives the fallback.
func FeeRate(ctx context.Context, node chain.Node, p FeePolicy, log *slog.Logger) int64 {
	var est int64
	if fe, ok := node.(chain.FeeEstimator); ok {
		v, err := fe.EstimateFeeRate(ctx, p.ConfTarget)
		if err != nil {
			log.Warn("fee estimate unavailable: using the fallback rate", "err", err, "fallback_sat_per_kvb", p.Fallback)
		}
		est = v
	}
	return coinselect.ClampFeeRate(est, p.Fallback, p.MinRelay, p.Max)
}

// Batch is a batch to store in state reserved. Nil fields are stored as
// NULL.
type Batch struct {
	Kind string
	// PSBT is the unsigned transaction; its txid, locktime and inputs are
	// the batch's.
	PSBT                *btcpsbt.Packet
	Fee, FeeRate, VSize int64
	ChangeVout          *int
	ChangeAmount        *int64
	// Replaces is the batch this one replaces: the coins it reserves may
	// be reserved by that batch (and spent by its transaction).
	Replaces       *int64
	DeadlineHeight *int32
	FeeBudget      *int64
	// The transfer of a sweep or a top-up (nil for withdrawals).
	TransferVout      *int
	TransferAmount    *int64
	TransferAddressID *int64
	// Expiry, when positive, is how long from now the batch waits (a
	// top-up for its import).
	Expiry time.Duration
}

// Reserved is what the database gave a stored batch.
type Reserved struct {
	ID        int64
	ExpiresAt *time.Time
	CreatedAt time.Time
}

// Reserve stores b in state reserved inside tx, with its inputs, and
// reserves their coins: every one must be free (reserved by no batch and
// spent by no transaction, but for the batch b replaces), or nothing is
// kept and Reserve fails.
func Reserve(tx *store.Tx, schema string, b Batch) (Reserved, error) {
	s := pgx.Identifier{schema}.Sanitize()
	unsigned := b.PSBT.UnsignedTx
	var raw bytes.Buffer
	if err := b.PSBT.Serialize(&raw); err != nil {
		return Reserved{}, err
	}
	txid := unsigned.TxHash()
	var expiry *float64
	if b.Expiry > 0 {
		secs := b.Expiry.Seconds()
		expiry = &secs
	}
	var r Reserved
	if err := tx.QueryRow(`INSERT INTO `+s+`.batches (state, kind, txid, psbt, fee, fee_rate, vsize, locktime, change_vout, change_amount, replaces,
			deadline_height, fee_budget, transfer_vout, transfer_amount, transfer_address_id, expires_at)
		VALUES ('reserved', $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, now() + make_interval(secs => $16))
		RETURNING id, expires_at, created_at`,
		b.Kind, txid[:], raw.Bytes(), b.Fee, b.FeeRate, b.VSize, int64(unsigned.LockTime), b.ChangeVout, b.ChangeAmount, b.Replaces,
		b.DeadlineHeight, b.FeeBudget, b.TransferVout, b.TransferAmount, b.TransferAddressID, expiry).Scan(&r.ID, &r.ExpiresAt, &r.CreatedAt); err != nil {
		return Reserved{}, err
	}
	inTxids, inVouts := make([][]byte, len(unsigned.TxIn)), make([]int64, len(unsigned.TxIn))
	for i, in := range unsigned.TxIn {
		h := in.PreviousOutPoint.Hash
		inTxids[i], inVouts[i] = h[:], int64(in.PreviousOutPoint.Index)
	}
	if _, err := tx.Exec(`INSERT INTO `+s+`.batch_inputs (batch_id, txid, vout) SELECT $1, t, v FROM unnest($2::bytea[], $3::bigint[]) AS x(t, v)`,
		r.ID, inTxids, inVouts); err != nil {
		return Reserved{}, err
	}
	tag, err := tx.Exec(`UPDATE `+s+`.coins c SET reserved_by = $1, updated_at = now() FROM unnest($2::bytea[], $3::bigint[]) AS x(t, v)
		WHERE c.txid = x.t AND c.vout = x.v AND ((c.reserved_by IS NULL AND c.spent_by IS NULL) OR c.reserved_by = $4)`, r.ID, inTxids, inVouts, b.Replaces)
	if err != nil {
		return Reserved{}, err
	}
	if int(tag.RowsAffected()) != len(unsigned.TxIn) {
		return Reserved{}, fmt.Errorf("reserving %d coins for batch %d: %d were free", len(unsigned.TxIn), r.ID, tag.RowsAffected())
	}
	return r, nil
}
