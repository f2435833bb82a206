package deposits

import (
	"context"
	"errors"
	"sync"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// maxMempoolFetch bounds the transactions fetched per scan, so a node with a
// large mempool is read over several polls instead of stalling the follower.
const maxMempoolFetch = 2000

type mempoolState struct {
	mu       sync.Mutex
	examined map[chainhash.Hash]bool          // mempool txids already looked at
	inputs   map[wire.OutPoint]chainhash.Hash // outpoint → unconfirmed deposit tx spending it
	loaded   bool                             // seen deposits of earlier runs re-read
}

func newMempoolState() *mempoolState {
	return &mempoolState{examined: map[chainhash.Hash]bool{}, inputs: map[wire.OutPoint]chainhash.Hash{}}
}

func (m *mempoolState) watching() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.inputs) > 0
}

func (m *mempoolState) track(tx *wire.MsgTx) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := tx.TxHash()
	for _, in := range tx.TxIn {
		m.inputs[in.PreviousOutPoint] = id
	}
}

// conflicts returns, for each tracked deposit transaction that another
// transaction in spent also spends from, that other transaction.
func (m *mempoolState) conflicts(spent map[wire.OutPoint]chainhash.Hash) map[chainhash.Hash]chainhash.Hash {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[chainhash.Hash]chainhash.Hash{}
	for op, by := range spent {
		if dep, ok := m.inputs[op]; ok && dep != by {
			out[dep] = by
		}
	}
	return out
}

// confirmed forgets the inputs a block spent: they can no longer conflict.
func (m *mempoolState) confirmed(blk *wire.MsgBlock) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, tx := range blk.Transactions {
		for _, in := range tx.TxIn {
			delete(m.inputs, in.PreviousOutPoint)
		}
		delete(m.examined, tx.TxHash())
	}
}

// scanMempool records new unconfirmed deposits and replaced ones.
func (f *Follower) scanMempool(ctx context.Context) error {
	if err := f.watch.refresh(ctx, f.runner.Pool(), f.schema); err != nil {
		return err
	}
	if err := f.loadSeen(ctx); err != nil {
		return err
	}
	ids, err := f.node.MempoolTxids(ctx)
	if err != nil {
		return err
	}
	current := make(map[chainhash.Hash]bool, len(ids))
	var matches []match
	spent := map[wire.OutPoint]chainhash.Hash{}
	fetched := 0
	for _, id := range ids {
		current[id] = true
		f.mempool.mu.Lock()
		done := f.mempool.examined[id]
		f.mempool.mu.Unlock()
		if done || fetched >= maxMempoolFetch {
			continue
		}
		fetched++
		tx, err := f.node.Transaction(ctx, id)
		if errors.Is(err, chain.ErrNoTransaction) {
			continue // left the mempool meanwhile
		}
		if err != nil {
			return err
		}
		f.mempool.mu.Lock()
		f.mempool.examined[id] = true
		f.mempool.mu.Unlock()
		if ms := f.matchTx(tx); len(ms) > 0 {
			matches = append(matches, ms...)
			f.mempool.track(tx)
		}
		for _, in := range tx.TxIn {
			spent[in.PreviousOutPoint] = id
		}
	}
	f.mempool.mu.Lock()
	for id := range f.mempool.examined {
		if !current[id] {
			delete(f.mempool.examined, id)
		}
	}
	f.mempool.mu.Unlock()
	replaced := f.mempool.conflicts(spent)
	if len(matches) == 0 && len(replaced) == 0 {
		return nil
	}
	return f.runner.InTx(ctx, "mempool", func(tx *store.Tx) error {
		for _, m := range matches {
			if err := f.recordSeen(tx, m); err != nil {
				return err
			}
		}
		for txid, by := range replaced {
			if err := f.markReplaced(tx, txid, by); err != nil {
				return err
			}
		}
		return nil
	})
}

// loadSeen re-reads, once per process, the inputs of deposits that were
// unconfirmed when the service last stopped, so their replacement is noticed.
func (f *Follower) loadSeen(ctx context.Context) error {
	if f.mempool.loaded {
		return nil
	}
	rows, err := f.runner.Pool().Query(ctx, `SELECT DISTINCT txid FROM `+f.schema+`.deposits WHERE state = 'seen'`)
	if err != nil {
		return err
	}
	var ids []chainhash.Hash
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			rows.Close()
			return err
		}
		var h chainhash.Hash
		copy(h[:], b)
		ids = append(ids, h)
	}
	rows.Close()
	for _, id := range ids {
		tx, err := f.node.Transaction(ctx, id)
		if errors.Is(err, chain.ErrNoTransaction) {
			continue
		}
		if err != nil {
			return err
		}
		f.mempool.track(tx)
	}
	f.mempool.loaded = true
	return nil
}
