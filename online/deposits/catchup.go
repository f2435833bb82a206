package deposits

import (
	"context"
	"errors"
	"sync"

	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/online/chain"
)

// Catch-up bounds. One transaction records at most maxBlocksPerTx blocks,
// and no more blocks once their inputs and outputs reach maxIOPerTx, so a
// transaction stays short whatever the blocks hold.
const (
	maxBlocksPerTx = 32
	maxIOPerTx     = 20_000
)

// fetchResult is blocks the fetcher read, in order, and why it stopped
// after them, if it did.
type fetchResult struct {
	blocks []fetched
	err    error
}

// fetch reads the best chain's blocks from height from to to, in order,
// onto out, and closes it. It hands a block over as soon as the reader
// waits for it; while the reader is busy (committing the blocks before), it
// keeps fetching and gathers what it read into the next group, up to the
// bounds of one transaction, then waits. So at most three groups are held:
// the one being committed, the one handed over and the one gathering. It
// stops at the first error (sent after the blocks before it) or when ctx
// ends.
func (f *Follower) fetch(ctx context.Context, from, to int32, out chan<- fetchResult) {
	defer close(out)
	var group []fetched
	io := 0
	send := func(r fetchResult) bool {
		select {
		case out <- r:
			group, io = nil, 0
			return true
		case <-ctx.Done():
			return false
		}
	}
	for h := from; h <= to; h++ {
		hash, err := f.node.BlockHash(ctx, h)
		var blk *wire.MsgBlock
		if err == nil {
			blk, err = f.node.Block(ctx, hash)
		}
		if err != nil {
			send(fetchResult{blocks: group, err: err})
			return
		}
		group = append(group, fetched{height: h, hash: hash, blk: blk})
		io += blockIO(blk)
		if len(group) >= maxBlocksPerTx || io >= maxIOPerTx {
			if !send(fetchResult{blocks: group}) {
				return
			}
			continue
		}
		select {
		case out <- fetchResult{blocks: group}:
			group, io = nil, 0
		case <-ctx.Done():
			return
		default: // the reader is busy: gather the next block too
		}
	}
	if len(group) > 0 {
		send(fetchResult{blocks: group})
	}
}

func blockIO(blk *wire.MsgBlock) int {
	n := 0
	for _, t := range blk.Transactions {
		n += len(t.TxIn) + len(t.TxOut)
	}
	return n
}

// follow connects the blocks from the cursor cur up to tip, the node's tip
// as asked once for this catch-up. A fetcher reads ahead while blocks
// commit (a channel of one group: see fetch); each transaction records the
// group fetched meanwhile. Every block must extend the one before it (the
// first, the cursor's block): at the first that does not, the blocks
// before it are committed and follow returns, and the next step unwinds the
// reorganisation one block at a time as Step always does. The fetcher is
// stopped, and waited for, before follow returns.
func (f *Follower) follow(ctx context.Context, cur cursor, tip int32) error {
	fctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	stop := func() { cancel(); wg.Wait() }
	defer stop()
	ch := make(chan fetchResult, 1)
	wg.Add(1)
	go func() { defer wg.Done(); f.fetch(fctx, cur.height+1, tip, ch) }()
	for r := range ch {
		// The blocks that chain from the cursor.
		n, parent := 0, cur.hash
		for n < len(r.blocks) && r.blocks[n].blk.Header.PrevBlock == parent {
			parent = r.blocks[n].hash
			n++
		}
		if n == 0 && len(r.blocks) > 0 {
			// The cursor's block left the best chain. The fetcher is
			// stopped first: the disconnect asks the node too.
			stop()
			return f.disconnect(ctx, cur)
		}
		if n > 0 {
			if err := f.connectBlocks(ctx, cur, r.blocks[:n]); err != nil {
				return err
			}
			last := r.blocks[n-1]
			cur = cursor{height: last.height, hash: last.hash, set: true}
		}
		if n < len(r.blocks) {
			return nil // a reorganisation under the fetch: the next step sees it
		}
		if r.err != nil {
			return fetchErr(r.err)
		}
	}
	return fctx.Err()
}

// fetchErr is what a fetch error means to a catch-up: a block gone from the
// best chain (the node's tip went down) is for the next step to handle.
func fetchErr(err error) error {
	if errors.Is(err, chain.ErrNoBlock) {
		return nil
	}
	return err
}
