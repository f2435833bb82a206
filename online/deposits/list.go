package deposits

import (
	"context"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Deposit is a deposit as operators and applications see it.
type Deposit struct {
	ID            int64
	TxID          chainhash.Hash
	Vout          uint32
	Account       string
	Address       string
	Amount        int64
	State         string
	BlockHeight   *int32
	Confirmations int32
	FirstSeenAt   time.Time
	UpdatedAt     time.Time
}

// List returns deposits, newest first, optionally of one account and/or in
// one state.
func List(ctx context.Context, pool *pgxpool.Pool, asset, account, state string, limit int) ([]Deposit, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	s := pgx.Identifier{asset}.Sanitize()
	rows, err := pool.Query(ctx, `SELECT d.id, d.txid, d.vout, a.name, ad.address, d.amount, d.state, d.block_height, d.confirmations, d.first_seen_at, d.updated_at
		FROM `+s+`.deposits d JOIN `+s+`.accounts a ON a.id = d.account_id JOIN `+s+`.addresses ad ON ad.id = d.address_id
		WHERE ($1 = '' OR a.name = $1) AND ($2 = '' OR d.state = $2)
		ORDER BY d.id DESC LIMIT $3`, account, state, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Deposit, error) {
		var d Deposit
		var txid []byte
		err := r.Scan(&d.ID, &txid, &d.Vout, &d.Account, &d.Address, &d.Amount, &d.State, &d.BlockHeight, &d.Confirmations, &d.FirstSeenAt, &d.UpdatedAt)
		copy(d.TxID[:], txid)
		return d, err
	})
}
