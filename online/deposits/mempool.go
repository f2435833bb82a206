package deposits

import (
	"context"
	"errors"
	"sync"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/coins"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// maxMempoolFetch bounds the transactions fetched per scan, so a node with a
// large mempool is read over several polls instead of stalling the follower.
const maxMempoolFetch = 2000

type mempoolState struct {
	mu       sync.Mutex
	examined map[chainhash.Hash]bool // mempool txids whose deposits are recorded
	// inputs maps an outpoint to every unconfirmed deposit transaction
	// spending it: a fee bump paying the same address spends the same
	// outpoint as the original, and both must be known to tell them apart.
	inputs map[wire.OutPoint]map[chainhash.Hash]struct{}
	loaded bool // seen deposits of earlier runs re-read
}

func newMempoolState() *mempoolState {
	return &mempoolState{examined: map[chainhash.Hash]bool{}, inputs: map[wire.OutPoint]map[chainhash.Hash]struct{}{}}
}

func (m *mempoolState) watching() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.inputs) > 0
}

// track remembers that deposit transaction txid spends ops.
func (m *mempoolState) track(txid chainhash.Hash, ops []wire.OutPoint) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, op := range ops {
		set := m.inputs[op]
		if set == nil {
			set = map[chainhash.Hash]struct{}{}
			m.inputs[op] = set
		}
		set[txid] = struct{}{}
	}
}

// conflicts returns, for each tracked deposit transaction that another
// transaction in spent also spends from, that other transaction.
func (m *mempoolState) conflicts(spent map[wire.OutPoint]chainhash.Hash) map[chainhash.Hash]chainhash.Hash {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[chainhash.Hash]chainhash.Hash{}
	for op, by := range spent {
		for dep := range m.inputs[op] {
			if dep != by {
				out[dep] = by
			}
		}
	}
	return out
}

// confirmed forgets the inputs a block spent: they can no longer conflict.
// txids are its transactions' (coins.Txids).
func (m *mempoolState) confirmed(blk *wire.MsgBlock, txids []chainhash.Hash) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, tx := range blk.Transactions {
		for _, in := range tx.TxIn {
			delete(m.inputs, in.PreviousOutPoint)
		}
		delete(m.examined, txids[i])
	}
}

// forget stops tracking resolved deposit transactions.
func (m *mempoolState) forget(ids []chainhash.Hash) {
	if len(ids) == 0 {
		return
	}
	drop := make(map[chainhash.Hash]bool, len(ids))
	for _, id := range ids {
		drop[id] = true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for op, set := range m.inputs {
		for id := range set {
			if drop[id] {
				delete(set, id)
			}
		}
		if len(set) == 0 {
			delete(m.inputs, op)
		}
	}
}

func (m *mempoolState) isExamined(id chainhash.Hash) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.examined[id]
}

// markExamined is called only after the transaction recording what the
// txids imply committed: a failed write leaves them to the next scan.
func (m *mempoolState) markExamined(ids []chainhash.Hash, current map[chainhash.Hash]bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range ids {
		m.examined[id] = true
	}
	for id := range m.examined {
		if !current[id] {
			delete(m.examined, id)
		}
	}
}

// scanMempool records new unconfirmed deposits and replaced ones, and
// resolves seen deposits that left the mempool.
func (f *Follower) scanMempool(ctx context.Context) error {
	if err := f.watch.refresh(ctx, f.runner.Pool(), f.schema); err != nil {
		return err
	}
	ids, err := f.node.MempoolTxids(ctx)
	if err != nil {
		return err
	}
	current := make(map[chainhash.Hash]bool, len(ids))
	var txs []*wire.MsgTx
	var fetchedIDs []chainhash.Hash
	for _, id := range ids {
		current[id] = true
		if len(fetchedIDs) >= maxMempoolFetch || f.mempool.isExamined(id) {
			continue
		}
		tx, err := f.node.Transaction(ctx, id)
		if errors.Is(err, chain.ErrNoTransaction) {
			continue // left the mempool meanwhile
		}
		if err != nil {
			return err
		}
		txs = append(txs, tx)
		fetchedIDs = append(fetchedIDs, id)
	}
	m := f.matchAll(txs, true)
	c, cm := m.c, m.cm
	for _, m := range c.deposits {
		f.mempool.track(m.txid, decodeSpends(m.spends))
	}
	replaced := f.mempool.conflicts(c.spent)
	res, err := f.resolveMissing(ctx, current)
	if err != nil {
		return err
	}
	vanished, err := coins.FindVanished(ctx, f.runner.Pool(), f.ledger.Asset(), f.node, current)
	if err != nil {
		return err
	}
	if len(c.deposits) > 0 || len(c.ignored) > 0 || len(replaced) > 0 || !res.empty() || !cm.Empty() || !vanished.Empty() {
		err := f.runner.InTx(ctx, "mempool", func(tx *store.Tx) error {
			if err := f.recordIgnored(tx, c.ignored, nil); err != nil {
				return err
			}
			for _, m := range c.deposits {
				if err := f.recordSeen(tx, m); err != nil {
					return err
				}
			}
			for txid, by := range replaced {
				if err := f.markReplaced(tx, txid, &by); err != nil {
					return err
				}
			}
			if err := f.applyMissing(tx, res); err != nil {
				return err
			}
			if err := coins.MempoolTx(tx, f.ledger.Asset(), cm); err != nil {
				return err
			}
			// Deposit transactions a conflict replaced can never confirm.
			if err := coins.DropConflictedTx(tx, f.ledger.Asset(), append(keys(replaced), res.gone...)); err != nil {
				return err
			}
			return coins.ForgetVanishedTx(tx, f.ledger.Asset(), vanished)
		})
		if err != nil {
			return err
		}
		f.logIgnored(c.ignored)
		resolved := append(append([]chainhash.Hash(nil), res.gone...), res.expired...)
		for id := range replaced {
			resolved = append(resolved, id)
		}
		f.mempool.forget(resolved)
	}
	f.mempool.markExamined(fetchedIDs, current)
	return nil
}

// loadSeen re-reads, once per process, the inputs of deposits that were
// unconfirmed when the service last stopped, so their replacement is noticed
// in the blocks that catch-up reads and in the mempool.
func (f *Follower) loadSeen(ctx context.Context) error {
	if f.mempool.loaded {
		return nil
	}
	rows, err := f.runner.Pool().Query(ctx, `SELECT DISTINCT ON (txid) txid, spends FROM `+f.schema+`.deposits WHERE state = 'seen' ORDER BY txid`)
	if err != nil {
		return err
	}
	type seen struct {
		txid   chainhash.Hash
		spends []byte
	}
	var all []seen
	var txid, spends []byte
	if _, err := pgx.ForEachRow(rows, []any{&txid, &spends}, func() error {
		all = append(all, seen{txid: chainhash.Hash(txid), spends: append([]byte(nil), spends...)})
		return nil
	}); err != nil {
		return err
	}
	for _, s := range all {
		ops := decodeSpends(s.spends)
		if len(ops) == 0 {
			// Recorded before the inputs were stored: ask the node.
			tx, err := f.node.Transaction(ctx, s.txid)
			if errors.Is(err, chain.ErrNoTransaction) {
				continue
			}
			if err != nil {
				return err
			}
			ops = decodeSpends(encodeSpends(tx))
		}
		f.mempool.track(s.txid, ops)
	}
	f.mempool.loaded = true
	return nil
}

// missing is what resolveMissing found about seen deposits absent from the
// mempool.
type missing struct {
	gone    []chainhash.Hash // an input is spent by another transaction: replaced
	noticed []chainhash.Hash // first found missing: the expiry clock starts
	expired []chainhash.Hash // missing for longer than SeenExpiry
	back    []chainhash.Hash // in the mempool again: the clock stops
}

func (m missing) empty() bool {
	return len(m.gone)+len(m.noticed)+len(m.expired)+len(m.back) == 0
}

// resolveMissing looks at every seen deposit transaction that is not in the
// node's mempool (inPool). Still in a block the follower has not read yet
// (its output exists): nothing. An input spent or gone: it was replaced
// (whoever the replacement pays). Otherwise it was dropped: after
// SeenExpiry it expires. It runs when the follower is caught up, so "in no
// block" means in no block of the best chain.
func (f *Follower) resolveMissing(ctx context.Context, inPool map[chainhash.Hash]bool) (missing, error) {
	var res missing
	rows, err := f.runner.Pool().Query(ctx, `SELECT DISTINCT ON (txid) txid, vout, spends, missing_since IS NOT NULL,
			coalesce(missing_since <= now() - make_interval(secs => $1), false)
		FROM `+f.schema+`.deposits WHERE state = 'seen' ORDER BY txid, vout`, f.cfg.SeenExpiry.Seconds())
	if err != nil {
		return res, err
	}
	type seen struct {
		op               wire.OutPoint
		spends           []byte
		noticed, overdue bool
	}
	var all []seen
	var txid, spends []byte
	var vout uint32
	var noticed, overdue bool
	if _, err := pgx.ForEachRow(rows, []any{&txid, &vout, &spends, &noticed, &overdue}, func() error {
		all = append(all, seen{op: wire.OutPoint{Hash: chainhash.Hash(txid), Index: vout}, spends: append([]byte(nil), spends...), noticed: noticed, overdue: overdue})
		return nil
	}); err != nil {
		return res, err
	}
	for _, s := range all {
		if inPool[s.op.Hash] {
			if s.noticed {
				res.back = append(res.back, s.op.Hash)
			}
			continue
		}
		if ok, err := f.node.IsUnspent(ctx, s.op); err != nil {
			return res, err
		} else if ok {
			continue // mined in a block the follower reads next
		}
		spentElsewhere := false
		for _, in := range decodeSpends(s.spends) {
			ok, err := f.node.IsUnspent(ctx, in)
			if err != nil {
				return res, err
			}
			if !ok {
				spentElsewhere = true
				break
			}
		}
		switch {
		case spentElsewhere:
			res.gone = append(res.gone, s.op.Hash)
		case !s.noticed:
			res.noticed = append(res.noticed, s.op.Hash)
		case s.overdue:
			res.expired = append(res.expired, s.op.Hash)
		}
	}
	return res, nil
}

func (f *Follower) applyMissing(tx *store.Tx, m missing) error {
	for _, id := range m.gone {
		if err := f.markReplaced(tx, id, nil); err != nil {
			return err
		}
	}
	for _, id := range m.noticed {
		if _, err := tx.Exec(`UPDATE `+f.schema+`.deposits SET missing_since = now() WHERE txid = $1 AND state = 'seen' AND missing_since IS NULL`, id[:]); err != nil {
			return err
		}
	}
	for _, id := range m.back {
		if _, err := tx.Exec(`UPDATE `+f.schema+`.deposits SET missing_since = NULL WHERE txid = $1 AND state = 'seen'`, id[:]); err != nil {
			return err
		}
	}
	for _, id := range m.expired {
		if err := f.markExpired(tx, id, f.cfg.SeenExpiry); err != nil {
			return err
		}
	}
	return nil
}
