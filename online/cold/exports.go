package cold

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/broadcast"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// ErrNotExported refuses a signed transaction whose unsigned form is not a
// top-up this service built: a signer can be handed anything, and whatever
// comes back must spend and pay exactly what the service asked for.
var ErrNotExported = errors.New("not a top-up this service exported")

// Exports records the top-ups handed to the cold signer, for one asset, and
// submits only signed transactions built from one of them.
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

// UnsignedTxID is the txid of tx with every scriptSig and witness removed:
// the txid of the unsigned transaction it was signed from. It covers the
// version, every input's outpoint and sequence, every output and the
// locktime, so two transactions with the same one spend and pay the same.
func UnsignedTxID(tx *wire.MsgTx) chainhash.Hash {
	bare := tx.Copy()
	for _, in := range bare.TxIn {
		in.SignatureScript, in.Witness = nil, nil
	}
	return bare.TxHash()
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

// Check returns nil when signed was signed from a recorded top-up, and an
// error wrapping ErrNotExported otherwise.
func (x *Exports) Check(ctx context.Context, signed *wire.MsgTx) error {
	txid := UnsignedTxID(signed)
	var n int
	err := x.runner.Pool().QueryRow(ctx, `SELECT count(*) FROM `+x.schema+`.cold_topup_exports WHERE unsigned_txid = $1`, txid[:]).Scan(&n)
	if err != nil {
		return err
	}
	if n == 0 {
		name := txid.String()
		if signed.TxHash() != txid {
			name = fmt.Sprintf("%s (unsigned form %s)", signed.TxHash(), txid)
		}
		return fmt.Errorf("signed transaction %s is %w: its inputs, outputs, sequences or locktime differ from every top-up the service built; nothing was recorded or sent",
			name, ErrNotExported)
	}
	return nil
}

// Submit broadcasts a signed top-up through b after Check: a transaction the
// service did not build is refused before anything is recorded or sent.
func (x *Exports) Submit(ctx context.Context, b *broadcast.Broadcaster, signed *wire.MsgTx) (broadcast.Record, error) {
	if err := x.Check(ctx, signed); err != nil {
		return broadcast.Record{}, err
	}
	return b.Submit(ctx, "cold_topup", signed)
}
