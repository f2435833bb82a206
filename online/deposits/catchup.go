package deposits

import (
	"context"
	"errors"
	"fmt"
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

// fetchedOne is one block the fetcher read, or why it stopped.
type fetchedOne struct {
	b   fetched
	err error
}

// fetch reads the best chain's blocks from height from to to onto out,
// and closes it: the hashes of up to one transaction's worth of heights in
// one request, then each block, one request after the other. It stops at
// the first error (sent last) or when ctx ends; a chain shorter than to
// ends with ErrNoBlock. out's buffer bounds how far it reads ahead of the
// gatherer, whose groups are the catch-up's read-ahead. A reorganisation
// between the hashes and the blocks is safe: the blocks asked for by hash
// are the old chain's, which the catch-up commits and the next step
// unwinds, as for one that happens after them.
func (f *Follower) fetch(ctx context.Context, from, to int32, out chan<- fetchedOne) {
	defer close(out)
	put := func(o fetchedOne) bool {
		select {
		case out <- o:
			return o.err == nil
		case <-ctx.Done():
			return false
		}
	}
	for h := from; h <= to; {
		end := min(to, h+maxBlocksPerTx-1)
		hashes, err := f.node.BlockHashes(ctx, h, end)
		if err != nil {
			put(fetchedOne{err: err})
			return
		}
		for _, hash := range hashes {
			blk, err := f.node.Block(ctx, hash)
			if !put(fetchedOne{b: fetched{height: h, hash: hash, blk: blk}, err: err}) {
				return
			}
			h++
		}
		if h <= end {
			put(fetchedOne{err: fmt.Errorf("%w at height %d", chain.ErrNoBlock, h)})
			return
		}
	}
}

// gather matches the fetched blocks, up to to, as they arrive (beside the
// fetch, not in its way), and hands them over onto out in groups, each as
// large as one transaction may be: a group goes when it reaches the bounds
// (maxBlocksPerTx, maxIOPerTx) or holds the last block asked for. Fewer,
// larger transactions cost the database less per block, and while the
// reader commits one group the next gathers, so at most three groups are
// held (the one being committed, the one handed over and the one
// gathering), and the one block the fetcher has read ahead. An error is
// sent after the blocks before it. out is closed when in is, or when ctx
// ends.
func (f *Follower) gather(ctx context.Context, in <-chan fetchedOne, to int32, withSpent bool, out chan<- fetchResult) {
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
	for one := range in {
		if one.err != nil {
			send(fetchResult{blocks: group, err: one.err})
			return
		}
		b := one.b
		b.matching = f.matchAll(b.blk.Transactions, withSpent)
		group = append(group, b)
		io += blockIO(b.blk)
		if len(group) >= maxBlocksPerTx || io >= maxIOPerTx || b.height == to {
			if !send(fetchResult{blocks: group}) {
				return
			}
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
// as asked once for this catch-up. A fetcher reads the blocks one after the
// other; a gatherer matches them and hands them over in groups (see
// gather); each transaction records one group while the next is fetched.
// Every block must extend the one before it (the first, the cursor's
// block): at the first that does not, the blocks before it are committed
// and follow returns, and the next step unwinds the reorganisation one
// block at a time as Step always does. The fetcher and the gatherer are
// stopped, and waited for, before follow returns.
func (f *Follower) follow(ctx context.Context, cur cursor, tip int32) error {
	fctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	stop := func() { cancel(); wg.Wait() }
	defer stop()
	// One block ahead of the gatherer: its group, bounded in blocks and in
	// inputs and outputs, is what a catch-up reads ahead.
	raw := make(chan fetchedOne, 1)
	wg.Add(1)
	go func() { defer wg.Done(); f.fetch(fctx, cur.height+1, tip, raw) }()
	// Every address a payment in the blocks up to tip can be to was issued
	// before tip was asked: the watch set read now, while the first block
	// is fetched, holds them all. Only a disconnect adds deposit
	// transactions to watch for conflicts, and it ends the catch-up, so
	// whether to collect spends is decided once too.
	if err := f.watch.refresh(ctx, f.runner.Pool(), f.schema); err != nil {
		return err
	}
	withSpent := f.mempool.watching()
	ch := make(chan fetchResult, 1)
	wg.Add(1)
	go func() { defer wg.Done(); f.gather(fctx, raw, tip, withSpent, ch) }()
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
