package batcher

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/internal/crashpoint"
	"github.com/cryptoassets/cryptoassets/online/addresses"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// SweepDest takes, inside the transaction that reserves a sweep, the fresh
// cold address it pays (the cold keeper passes its Cold.NextTx(tx, 0)): a
// sweep that is not built rolls the address back with everything else.
type SweepDest func(tx *store.Tx) (addressID int64, script []byte, err error)

// ErrSweepNotBuilt: the hot wallet cannot pay the sweep asked for, or not
// within the fee caps; nothing was written.
var ErrSweepNotBuilt = errors.New("sweep not built")

// Sweep moves amount from the hot wallet to a fresh cold address: hot coins
// selected as for a withdrawals batch, one output of amount to dest, the fee
// at the batcher's rate on top, change back to the hot wallet, within the
// same fee caps (max_fee_sat, and max_fee_ratio of amount). It goes the
// withdrawals' way from there: reserved with its txid, signed through the
// hot signer, opened and sent through the broadcaster, followed to its
// confirmations and booked hot → cold. It returns the batch's id.
func (b *Batcher) Sweep(ctx context.Context, amount int64, dest SweepDest) (int64, error) {
	if amount <= 0 {
		return 0, fmt.Errorf("%w: the amount must be positive, not %d sat", ErrSweepNotBuilt, amount)
	}
	if dest == nil {
		return 0, fmt.Errorf("%w: no cold address to sweep to", ErrSweepNotBuilt)
	}
	rate, err := b.feeRate(ctx)
	if err != nil {
		return 0, err
	}
	tip, _, err := b.node.Tip(ctx)
	if err != nil {
		return 0, err
	}
	var id int64
	err = b.runner.InTx(ctx, "sweep-reserve", func(tx *store.Tx) error {
		id = 0
		if err := b.lock(tx); err != nil {
			return err
		}
		addrID, script, err := dest(tx)
		if err != nil {
			return fmt.Errorf("taking the cold address: %w", err)
		}
		var stored []byte
		if err := tx.QueryRow(`SELECT script FROM `+b.schema+`.addresses WHERE id = $1 AND wallet_id = $2`, addrID, addresses.ColdWallet).Scan(&stored); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("%w: address %d is not a cold wallet address", ErrSweepNotBuilt, addrID)
			}
			return err
		}
		if !bytes.Equal(stored, script) {
			return fmt.Errorf("%w: the script given for cold address %d is not the stored one", ErrSweepNotBuilt, addrID)
		}
		id, err = b.reserveTx(tx, order{kind: BatchSweep, outs: []pending{{script: script, amount: amount}}, transferAddress: addrID}, nil, rate, tip, nil)
		var refused *refusal
		if errors.As(err, &refused) {
			// Returned, not swallowed: the cold address goes back too.
			return fmt.Errorf("%w: %s", ErrSweepNotBuilt, refused.reason)
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	crashpoint.Hit(CrashReserved)
	return id, b.openAndSend(ctx, id)
}
