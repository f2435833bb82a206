package cold

import (
	"bytes"
	"context"
	"fmt"

	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/store"
)

// Exports records the top-ups handed to the cold signer, for one asset.
type Exports struct {
	runner *store.Runner
	schema string
}

// NewExports returns the export records of asset (its schema).
func NewExports(runner *store.Runner, asset string) (*Exports, error) {
	if err := store.ValidateSchemaName(asset); err != nil {
		return nil, err
	}
	return &Exports{runner: runner, schema: pgx.Identifier{asset}.Sanitize()}, nil
}

// Record stores the unsigned transaction of p, before p leaves the service.
// Recording the same top-up again is harmless.
func (x *Exports) Record(ctx context.Context, p *btcpsbt.Packet) (chainhash.Hash, error) {
	txid := UnsignedTxID(p.UnsignedTx)
	var raw bytes.Buffer
	if err := p.UnsignedTx.Serialize(&raw); err != nil {
		return txid, err
	}
	err := x.runner.InTx(ctx, "cold-export", func(tx *store.Tx) error {
		_, err := tx.Exec(`INSERT INTO `+x.schema+`.cold_topup_exports (unsigned_txid, unsigned_tx) VALUES ($1, $2)
			ON CONFLICT (unsigned_txid) DO NOTHING`, txid[:], raw.Bytes())
		return err
	})
	if err != nil {
		return txid, fmt.Errorf("recording the exported top-up %s: %w", txid, err)
	}
	return txid, nil
}
