package deposits

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/coins"
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
	// MinDeposit is the smallest output credited (satoshis); smaller ones
	// are recorded in ignored_outputs. Zero-value outputs are never credited.
	MinDeposit int64
	// SeenExpiry is how long a seen deposit may be missing from the node's
	// mempool, in no block and with its inputs unspent, before it expires.
	// Zero means DefaultSeenExpiry.
	SeenExpiry time.Duration
}

// DefaultSeenExpiry is Config.SeenExpiry's default: three days, well past
// the time a dropped transaction is usually rebroadcast by its sender.
const DefaultSeenExpiry = 72 * time.Hour

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
	// networkOK is false until the node's network was checked, and again
	// after any failed step (a reconnect may reach another node).
	networkOK bool
	// lostRaces counts steps that found the cursor moved by another writer.
	lostRaces atomic.Int64
}

// NewFollower returns a follower for l's asset reading from node.
func NewFollower(l *ledger.Ledger, node chain.Node, cfg Config, log *slog.Logger) *Follower {
	if cfg.Confirmations < 1 {
		cfg.Confirmations = 1
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 2 * time.Second
	}
	if cfg.SeenExpiry <= 0 {
		cfg.SeenExpiry = DefaultSeenExpiry
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
// database failing over) are logged and retried with a backoff; a node on
// another network than the asset's stops it with chain.ErrWrongNetwork.
func (f *Follower) Run(ctx context.Context) error {
	backoff := time.Second
	for ctx.Err() == nil {
		progressed, err := f.step(ctx, true)
		switch {
		case errors.Is(err, chain.ErrWrongNetwork):
			f.log.Error("chain follower stopped", "err", err)
			return err
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
// looked at its mempool. Behind the tip, a step catches up to it: the tip
// is asked once, the next blocks are fetched while the current ones
// commit, and one transaction records several blocks.
func (f *Follower) SyncToTip(ctx context.Context) error {
	for {
		progressed, err := f.step(ctx, true)
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

// CheckNetwork refuses a node that follows another chain than the one the
// asset's schema is recorded for (public.assets.network), naming both.
func (f *Follower) CheckNetwork(ctx context.Context) error {
	var want string
	if err := f.runner.Pool().QueryRow(ctx, `SELECT network FROM public.assets WHERE schema_name = $1`, f.ledger.Asset()).Scan(&want); err != nil {
		return fmt.Errorf("asset %s: reading its recorded network: %w", f.ledger.Asset(), err)
	}
	if err := chain.CheckNetwork(ctx, f.node, f.ledger.Asset(), want); err != nil {
		return err
	}
	f.networkOK = true
	return nil
}

// errCursorMoved means another writer (a second follower, a rescan, an
// operator) moved the cursor since it was read: nothing was written, and the
// next step reads it again.
var errCursorMoved = errors.New("the chain cursor moved meanwhile")

// Step does one unit of work: connect the next block, disconnect a block
// that left the best chain, or (when caught up) scan the mempool. It reports
// whether it moved the cursor (or lost a race to whoever did).
func (f *Follower) Step(ctx context.Context) (progressed bool, err error) {
	return f.step(ctx, false)
}

// step is Step; behind the node, with catchUp, it connects every block up
// to the tip it asked for (follow), not one.
func (f *Follower) step(ctx context.Context, catchUp bool) (progressed bool, err error) {
	if !f.networkOK {
		if err := f.CheckNetwork(ctx); err != nil {
			return false, err
		}
	}
	defer func() {
		if errors.Is(err, errCursorMoved) {
			f.lostRaces.Add(1)
			f.log.Info("chain cursor moved by another writer: reading it again")
			progressed, err = true, nil
		}
		if err != nil {
			f.networkOK = false
		}
	}()
	// Seen deposits of an earlier run are tracked before catching up, so a
	// replacement confirmed while the service was down is recognised in
	// its block.
	if err := f.loadSeen(ctx); err != nil {
		return false, err
	}
	// The cursor is read while the node is asked for its tip: neither
	// answer depends on the other, and a cursor moved meanwhile makes the
	// block transaction's compare-and-set write nothing.
	type cursorRead struct {
		c   cursor
		err error
	}
	read := make(chan cursorRead, 1)
	go func() {
		c, err := f.cursor(ctx)
		read <- cursorRead{c, err}
	}()
	tip, _, err := f.node.Tip(ctx)
	r := <-read
	if err != nil {
		return false, err
	}
	if r.err != nil {
		return false, r.err
	}
	cur := r.c
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
		return true, f.connect(ctx, cur, start, blk)
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
	if catchUp {
		return true, f.follow(ctx, cur, tip)
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
	return true, f.connect(ctx, cur, cur.height+1, blk)
}

func (f *Follower) rules() matchRules { return matchRules{minDeposit: f.cfg.MinDeposit} }

// lockChain serialises the writers of one asset's chain state (followers
// of several `serve` processes, `rescan`): each block's transaction takes
// this lock first; the cursor's compare-and-set then makes a writer that
// read a stale cursor write nothing.
func (f *Follower) lockChain(tx *store.Tx) error {
	_, err := tx.Exec(`SELECT pg_advisory_xact_lock(hashtextextended('cryptoassets.chain.' || $1, 0))`, f.ledger.Asset())
	return err
}

// moveCursor moves the cursor from old to (height, hash), or to "not
// started" when hash is nil; errCursorMoved when it is no longer at old.
func (f *Follower) moveCursor(tx *store.Tx, old cursor, height int32, hash []byte) error {
	q, args := f.moveCursorSQL(old, height, hash)
	tag, err := tx.Exec(q, args...)
	if err != nil {
		return err
	}
	if tag.RowsAffected() != 1 {
		return errCursorMoved
	}
	return nil
}

// moveCursorSQL is moveCursor's statement: it changes one row, or none
// when the cursor is no longer at old.
func (f *Follower) moveCursorSQL(old cursor, height int32, hash []byte) (string, []any) {
	var oldH *int32
	var oldHash []byte
	if old.set {
		oldH, oldHash = &old.height, old.hash[:]
	}
	var newH *int32
	if hash != nil {
		newH = &height
	}
	return `UPDATE ` + f.schema + `.chain_cursor SET height = $1, hash = $2, updated_at = now()
		WHERE height IS NOT DISTINCT FROM $3 AND hash IS NOT DISTINCT FROM $4`, []any{newH, hash, oldH, oldHash}
}

// connect records block blk at height (the cursor is at cur, its parent)
// with its deposits, updates every open deposit's confirmations, credits
// those that reached the threshold, and moves the cursor, all in one
// transaction.
func (f *Follower) connect(ctx context.Context, cur cursor, height int32, blk *wire.MsgBlock) error {
	return f.connectBlocks(ctx, cur, []fetched{{height: height, hash: blk.BlockHash(), blk: blk}})
}

func (f *Follower) logIgnored(ig []ignoredOutput) {
	for _, o := range ig {
		f.log.Warn("output to a customer's address not credited", "txid", o.txid, "vout", o.vout, "amount_sat", o.amount, "reason", o.reason)
	}
}

// recordIgnored records outputs that are not deposits, once each.
func (f *Follower) recordIgnored(tx *store.Tx, ig []ignoredOutput, block *chainhash.Hash) error {
	var blockBytes []byte
	if block != nil {
		blockBytes = block[:]
	}
	for _, o := range ig {
		if _, err := tx.Exec(`INSERT INTO `+f.schema+`.ignored_outputs (txid, vout, address_id, amount, reason, block_hash)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (txid, vout) DO UPDATE SET block_hash = coalesce(excluded.block_hash, ignored_outputs.block_hash)`,
			o.txid[:], o.vout, o.addr.addressID, o.amount, o.reason, blockBytes); err != nil {
			return err
		}
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
				if want[t.TxHash()] && !isCoinbase(t) {
					stale = append(stale, t)
				}
			}
		} else {
			f.log.Warn("stale block not available from the node", "hash", cur.hash, "err", err)
		}
	}
	f.log.Warn("block left the best chain: disconnecting", "height", cur.height, "hash", cur.hash, "deposits", len(txids))
	err = f.runner.InTx(ctx, "disconnect-block", func(tx *store.Tx) error {
		if err := f.lockChain(tx); err != nil {
			return err
		}
		if cur.height == 0 {
			if err := f.moveCursor(tx, cur, 0, nil); err != nil {
				return err
			}
		} else if err := f.moveCursor(tx, cur, cur.height-1, parent); err != nil {
			return err
		}
		if err := f.unconfirmBlock(tx, cur.hash, inMempool); err != nil {
			return err
		}
		if err := coins.DisconnectBlockTx(tx, f.ledger.Asset(), cur.hash); err != nil {
			return err
		}
		_, err := tx.Exec(`DELETE FROM `+f.schema+`.chain_blocks WHERE height = $1`, cur.height)
		return err
	})
	if err == nil {
		for _, t := range stale {
			f.mempool.track(t.TxHash(), decodeSpends(encodeSpends(t)))
		}
	}
	return err
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

func keys(m map[chainhash.Hash]chainhash.Hash) []chainhash.Hash {
	out := make([]chainhash.Hash, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
