package withdrawals

import (
	"context"
	"strings"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/jackc/pgx/v5"
)

// Payment is where a batched withdrawal is paid on the chain: output Vout
// of transaction TxID, the transaction of its batch. It exists from the
// moment the withdrawal is batched (the txid is fixed when the batch is
// built); BlockHeight and Confirmations once the follower saw it in a
// block of the best chain.
type Payment struct {
	BatchID       int64
	TxID          chainhash.Hash
	Vout          uint32
	BlockHeight   *int32
	Confirmations int32 // counted at the follower's last block; 0 until mined
}

// paymentSQL reads the payments of withdrawals $1 (an id array). A
// withdrawal that is not batched (requested, cancelled, internal, or put
// back to requested when its batch could never confirm) has none.
const paymentSQL = `SELECT w.id, w.batch_id, b.txid, w.vout, b.block_height,
		CASE WHEN b.block_height IS NULL THEN 0 ELSE greatest(coalesce(cur.height, 0) - b.block_height + 1, 0) END
	FROM {s}.withdrawals w JOIN {s}.batches b ON b.id = w.batch_id CROSS JOIN {s}.chain_cursor cur
	WHERE w.id = ANY($1) AND w.vout IS NOT NULL`

// Payment returns where withdrawal id is paid, or nil when it is not in
// a batch.
func (s *Service) Payment(ctx context.Context, id int64) (*Payment, error) {
	ps, err := s.Payments(ctx, []int64{id})
	if err != nil {
		return nil, err
	}
	if p, ok := ps[id]; ok {
		return &p, nil
	}
	return nil, nil
}

// Payments returns the payments of the withdrawals ids that have one, by
// withdrawal id, in one query (a page of a list).
func (s *Service) Payments(ctx context.Context, ids []int64) (map[int64]Payment, error) {
	out := make(map[int64]Payment, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	q := strings.ReplaceAll(paymentSQL, "{s}", pgx.Identifier{s.ledger.Asset()}.Sanitize())
	rows, err := s.Runner().Pool().Query(ctx, q, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var p Payment
		var txid []byte
		if err := rows.Scan(&id, &p.BatchID, &txid, &p.Vout, &p.BlockHeight, &p.Confirmations); err != nil {
			return nil, err
		}
		p.TxID = chainhash.Hash(txid)
		out[id] = p
	}
	return out, rows.Err()
}
