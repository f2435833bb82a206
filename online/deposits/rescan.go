package deposits

import (
	"context"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/coins"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// Progress is called after each block a rescan reads.
type Progress func(done, total int)

// Rescan reads blocks from height from up to the follower's cursor again and
// records any deposit to a watched address that is not recorded yet (for
// example an address imported after its payment confirmed), and the coins
// of our addresses and their spends in those blocks. It changes
// nothing that is already right, so running it twice is harmless. It refuses
// to run ahead of the follower, and stops if the chain changed under it.
func (f *Follower) Rescan(ctx context.Context, from int32, progress Progress) (found int, err error) {
	if err := f.CheckNetwork(ctx); err != nil {
		return 0, err
	}
	cur, err := f.cursor(ctx)
	if err != nil {
		return 0, err
	}
	if !cur.set {
		return 0, fmt.Errorf("the chain follower has not started yet: run `cryptoassets serve` first (it scans from start_height)")
	}
	if from < 0 || from > cur.height {
		return 0, fmt.Errorf("--from-height %d: use a height from 0 to %d (the last processed block)", from, cur.height)
	}
	if err := f.watch.refresh(ctx, f.runner.Pool(), f.schema); err != nil {
		return 0, err
	}
	total := int(cur.height - from + 1)
	for h := from; h <= cur.height; h++ {
		hash, err := f.node.BlockHash(ctx, h)
		if err != nil {
			return found, err
		}
		var recorded []byte
		_ = f.runner.Pool().QueryRow(ctx, `SELECT hash FROM `+f.schema+`.chain_blocks WHERE height = $1`, h).Scan(&recorded)
		if recorded != nil && chainhash.Hash(recorded) != hash {
			return found, errChanged(h)
		}
		blk, err := f.node.Block(ctx, hash)
		if err != nil {
			return found, err
		}
		m := f.matchAll(blk.Transactions, false)
		c, cm := m.c, m.cm
		if len(c.deposits) > 0 || len(c.ignored) > 0 || !cm.Empty() {
			n := 0
			err := f.runner.InTx(ctx, "rescan-block", func(tx *store.Tx) error {
				n = 0
				if err := f.lockChain(tx); err != nil {
					return err
				}
				// Checked again here: the chain may have moved since the
				// block was read, and only a block that is the stored best
				// chain's at its height may confirm anything.
				var stored []byte
				var cursorHeight int32
				if err := tx.QueryRow(`SELECT b.hash, c.height FROM `+f.schema+`.chain_cursor c
					LEFT JOIN `+f.schema+`.chain_blocks b ON b.height = $1 WHERE c.height >= $1`, h).Scan(&stored, &cursorHeight); err != nil {
					if errors.Is(err, pgx.ErrNoRows) {
						return errChanged(h)
					}
					return err
				}
				if stored == nil || chainhash.Hash(stored) != hash {
					return errChanged(h)
				}
				if err := f.recordIgnored(tx, c.ignored, &hash); err != nil {
					return err
				}
				// Coins are written as the block says; what is already
				// right is left as it is.
				if err := coins.ConnectBlockTx(tx, f.ledger.Asset(), hash, h, cm); err != nil {
					return err
				}
				for _, m := range c.deposits {
					d, ok, err := f.depositByOutpoint(tx, m.txid, m.vout)
					if err != nil {
						return err
					}
					if ok && (d.state == Confirmed || d.state == Credited) {
						continue
					}
					if err := f.recordConfirmed(tx, m, hash, h); err != nil {
						return err
					}
					n++
				}
				if n > 0 {
					if err := f.updateConfirmations(tx, cursorHeight); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return found, fmt.Errorf("rescan block %d: %w", h, err)
			}
			found += n
		}
		if progress != nil {
			progress(int(h-from+1), total)
		}
	}
	return found, nil
}

func errChanged(h int32) error {
	return fmt.Errorf("block %d changed since it was processed (a reorganisation is in progress): let the follower catch up, then rescan again", h)
}
