package deposits

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// Config tunes a Follower.
type Config struct {
	// Confirmations needed to credit a deposit.
	Confirmations int
	// StartHeight is where a follower with no cursor begins; negative means
	// the node's tip at that moment.
	StartHeight int32
	// Poll is how often to ask the node for news when caught up.
	Poll time.Duration
}

// Follower tracks one asset's deposits.
type Follower struct {
	cfg    Config
	ledger *ledger.Ledger
	runner *store.Runner
	node   chain.Node
	log    *slog.Logger
	schema string
	watch  *watchSet
	// mempool remembers the inputs of unconfirmed deposit transactions, to
	// notice a conflicting transaction (a replacement) spending one of them.
	mempool *mempoolState
}

// NewFollower returns a follower for l's asset reading from node.
func NewFollower(l *ledger.Ledger, node chain.Node, cfg Config, log *slog.Logger) *Follower {
	if cfg.Confirmations < 1 {
		cfg.Confirmations = 1
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 2 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Follower{
		cfg: cfg, ledger: l, runner: l.Runner(), node: node,
		log:    log.With("asset", l.Asset()),
		schema: pgx.Identifier{l.Asset()}.Sanitize(),
		watch:  newWatchSet(), mempool: newMempoolState(),
	}
}

// Run follows the chain until ctx ends. Errors (a node restarting, the
// database failing over) are logged and retried with a backoff.
func (f *Follower) Run(ctx context.Context) error {
	backoff := time.Second
	for ctx.Err() == nil {
		progressed, err := f.Step(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			f.log.Error("chain follower", "err", err, "retry_in", backoff)
			sleep(ctx, backoff)
			backoff = min(backoff*2, time.Minute)
		case !progressed:
			backoff = time.Second
			sleep(ctx, f.cfg.Poll)
		default:
			backoff = time.Second
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// SyncToTip steps until the follower has caught up with the node's tip and
// looked at its mempool.
func (f *Follower) SyncToTip(ctx context.Context) error {
	for {
		progressed, err := f.Step(ctx)
		if err != nil {
			return err
		}
		if !progressed {
			return nil
		}
	}
}

type cursor struct {
	height int32
	hash   chainhash.Hash
	set    bool
}

func (f *Follower) cursor(ctx context.Context) (cursor, error) {
	var c cursor
	var h *int32
	var hash []byte
	if err := f.runner.Pool().QueryRow(ctx, `SELECT height, hash FROM `+f.schema+`.chain_cursor`).Scan(&h, &hash); err != nil {
		return c, fmt.Errorf("reading the chain cursor: %w", err)
	}
	if h != nil {
		c.height, c.set = *h, true
		copy(c.hash[:], hash)
	}
	return c, nil
}

// Height is the height of the last block the follower processed (-1 before
// the first).
func (f *Follower) Height(ctx context.Context) (int32, error) {
	c, err := f.cursor(ctx)
	if !c.set {
		return -1, err
	}
	return c.height, err
}

// Step does one unit of work: connect the next block, disconnect a block
// that left the best chain, or (when caught up) scan the mempool. It reports
// whether it moved the cursor.
func (f *Follower) Step(ctx context.Context) (bool, error) {
	tip, _, err := f.node.Tip(ctx)
	if err != nil {
		return false, err
	}
	cur, err := f.cursor(ctx)
	if err != nil {
		return false, err
	}
	if !cur.set {
		start := f.cfg.StartHeight
		if start < 0 || start > tip {
			start = tip
		}
		hash, err := f.node.BlockHash(ctx, start)
		if err != nil {
			return false, err
		}
		blk, err := f.node.Block(ctx, hash)
		if err != nil {
			return false, err
		}
		f.log.Info("chain follower starting", "height", start)
		return true, f.connect(ctx, start, blk)
	}
	if cur.height >= tip {
		hash, err := f.node.BlockHash(ctx, cur.height)
		if errors.Is(err, chain.ErrNoBlock) || (err == nil && hash != cur.hash) {
			return true, f.disconnect(ctx, cur)
		}
		if err != nil {
			return false, err
		}
		return false, f.scanMempool(ctx)
	}
	hash, err := f.node.BlockHash(ctx, cur.height+1)
	if err != nil {
		return false, err
	}
	blk, err := f.node.Block(ctx, hash)
	if err != nil {
		return false, err
	}
	if blk.Header.PrevBlock != cur.hash {
		return true, f.disconnect(ctx, cur)
	}
	return true, f.connect(ctx, cur.height+1, blk)
}

// match is an output paying a customer's address.
type match struct {
	txid   chainhash.Hash
	vout   uint32
	amount int64
	addr   watched
}

func (f *Follower) matchTx(tx *wire.MsgTx) []match {
	var out []match
	var txid chainhash.Hash
	for i, o := range tx.TxOut {
		a, ok := f.watch.lookup(o.PkScript)
		if !ok || a.accountID == 0 {
			continue
		}
		if txid == (chainhash.Hash{}) {
			txid = tx.TxHash()
		}
		out = append(out, match{txid: txid, vout: uint32(i), amount: o.Value, addr: a})
	}
	return out
}

// connect records block blk at height with its deposits, updates every open
// deposit's confirmations, credits those that reached the threshold, and
// moves the cursor, all in one transaction.
func (f *Follower) connect(ctx context.Context, height int32, blk *wire.MsgBlock) error {
	if err := f.watch.refresh(ctx, f.runner.Pool(), f.schema); err != nil {
		return err
	}
	hash := blk.BlockHash()
	var matches []match
	spent := map[wire.OutPoint]chainhash.Hash{}
	for _, tx := range blk.Transactions {
		matches = append(matches, f.matchTx(tx)...)
		if f.mempool.watching() {
			txid := tx.TxHash()
			for _, in := range tx.TxIn {
				spent[in.PreviousOutPoint] = txid
			}
		}
	}
	replaced := f.mempool.conflicts(spent)
	err := f.runner.InTx(ctx, "connect-block", func(tx *store.Tx) error {
		if _, err := tx.Exec(`INSERT INTO `+f.schema+`.chain_blocks (height, hash, parent_hash) VALUES ($1, $2, $3)
			ON CONFLICT (height) DO UPDATE SET hash = excluded.hash, parent_hash = excluded.parent_hash, seen_at = now()`,
			height, hash[:], blk.Header.PrevBlock[:]); err != nil {
			return err
		}
		for _, m := range matches {
			if err := f.recordConfirmed(tx, m, hash, height); err != nil {
				return err
			}
		}
		for txid, by := range replaced {
			if err := f.markReplaced(tx, txid, by); err != nil {
				return err
			}
		}
		if err := f.updateConfirmations(tx, height); err != nil {
			return err
		}
		_, err := tx.Exec(`UPDATE `+f.schema+`.chain_cursor SET height = $1, hash = $2, updated_at = now()`, height, hash[:])
		return err
	})
	if err != nil {
		return fmt.Errorf("block %d %s: %w", height, hash, err)
	}
	f.mempool.confirmed(blk)
	if len(matches) > 0 {
		f.log.Info("block connected", "height", height, "hash", hash, "deposits", len(matches))
	}
	return nil
}

// disconnect removes the cursor's block, which is no longer on the best
// chain, and puts its deposits back to seen or reorged.
func (f *Follower) disconnect(ctx context.Context, cur cursor) error {
	var parent []byte
	if err := f.runner.Pool().QueryRow(ctx, `SELECT parent_hash FROM `+f.schema+`.chain_blocks WHERE height = $1 AND hash = $2`,
		cur.height, cur.hash[:]).Scan(&parent); err != nil {
		return fmt.Errorf("reorg at height %d: the processed block is not recorded (%w): rescan from an earlier height", cur.height, err)
	}
	// Which of its deposits does the node still have in its mempool?
	txids, err := f.depositTxidsInBlock(ctx, cur.hash)
	if err != nil {
		return err
	}
	inMempool := map[chainhash.Hash]bool{}
	if len(txids) > 0 {
		pool, err := f.node.MempoolTxids(ctx)
		if err != nil {
			return err
		}
		for _, id := range pool {
			inMempool[id] = true
		}
	}
	// The stale block's deposit transactions go back to being watched for
	// conflicts: the new chain may hold a double spend of them. Nodes keep
	// stale blocks; if this one is gone, a conflict is still caught when the
	// transaction is seen in the mempool again.
	var stale []*wire.MsgTx
	if len(txids) > 0 {
		if blk, err := f.node.Block(ctx, cur.hash); err == nil {
			want := map[chainhash.Hash]bool{}
			for _, id := range txids {
				want[id] = true
			}
			for _, t := range blk.Transactions {
				if want[t.TxHash()] {
					stale = append(stale, t)
				}
			}
		} else {
			f.log.Warn("stale block not available from the node", "hash", cur.hash, "err", err)
		}
	}
	f.log.Warn("block left the best chain: disconnecting", "height", cur.height, "hash", cur.hash, "deposits", len(txids))
	defer func() {
		for _, t := range stale {
			f.mempool.track(t)
		}
	}()
	return f.runner.InTx(ctx, "disconnect-block", func(tx *store.Tx) error {
		if err := f.unconfirmBlock(tx, cur.hash, inMempool); err != nil {
			return err
		}
		if _, err := tx.Exec(`DELETE FROM `+f.schema+`.chain_blocks WHERE height = $1`, cur.height); err != nil {
			return err
		}
		if cur.height == 0 {
			_, err := tx.Exec(`UPDATE ` + f.schema + `.chain_cursor SET height = NULL, hash = NULL, updated_at = now()`)
			return err
		}
		_, err := tx.Exec(`UPDATE `+f.schema+`.chain_cursor SET height = $1, hash = $2, updated_at = now()`, cur.height-1, parent)
		return err
	})
}

func (f *Follower) depositTxidsInBlock(ctx context.Context, hash chainhash.Hash) ([]chainhash.Hash, error) {
	rows, err := f.runner.Pool().Query(ctx, `SELECT DISTINCT txid FROM `+f.schema+`.deposits WHERE block_hash = $1`, hash[:])
	if err != nil {
		return nil, err
	}
	var out []chainhash.Hash
	var b []byte
	_, err = pgx.ForEachRow(rows, []any{&b}, func() error {
		var h chainhash.Hash
		copy(h[:], b)
		out = append(out, h)
		return nil
	})
	return out, err
}
