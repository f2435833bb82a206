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
// transaction stays short whatever the blocks hold. fetchAhead is how many
// fetched blocks wait while the ones before them commit: the fetch of the
// next block overlaps the database work of the current one.
const (
	maxBlocksPerTx = 32
	maxIOPerTx     = 20_000
	fetchAhead     = 2
)

// fetchResult is one block the fetcher read, or why it stopped.
type fetchResult struct {
	b   fetched
	err error
}

// fetch reads the best chain's blocks from height from to to, in order,
// onto out, and closes it. It stops at the first error (sent) or when ctx
// ends.
func (f *Follower) fetch(ctx context.Context, from, to int32, out chan<- fetchResult) {
	defer close(out)
	for h := from; h <= to; h++ {
		var r fetchResult
		hash, err := f.node.BlockHash(ctx, h)
		if err == nil {
			var blk *wire.MsgBlock
			if blk, err = f.node.Block(ctx, hash); err == nil {
				r.b = fetched{height: h, hash: hash, blk: blk}
			}
		}
		r.err = err
		select {
		case out <- r:
		case <-ctx.Done():
			return
		}
		if err != nil {
			return
		}
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
// commit; each transaction takes the blocks already fetched, within the
// bounds. Every block must extend the one before it (the first, the
// cursor's block): at the first that does not, the blocks before it are
// committed and follow returns, and the next step unwinds the
// reorganisation one block at a time as Step always does. The fetcher is
// stopped, and waited for, before follow returns.
func (f *Follower) follow(ctx context.Context, cur cursor, tip int32) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	ch := make(chan fetchResult, fetchAhead)
	wg.Add(1)
	go func() { defer wg.Done(); f.fetch(ctx, cur.height+1, tip, ch) }()
	for {
		r, ok := <-ch
		if !ok {
			return nil // at the tip
		}
		if r.err != nil {
			return fetchErr(r.err)
		}
		group := []fetched{r.b}
		io := blockIO(r.b.blk)
		var stop error
	take:
		for len(group) < maxBlocksPerTx && io < maxIOPerTx {
			select {
			case r, ok := <-ch:
				if !ok {
					break take
				}
				if r.err != nil {
					stop = fetchErr(r.err)
					break take
				}
				group = append(group, r.b)
				io += blockIO(r.b.blk)
			default:
				break take
			}
		}
		// The blocks that chain from the cursor.
		n, parent := 0, cur.hash
		for n < len(group) && group[n].blk.Header.PrevBlock == parent {
			parent = group[n].hash
			n++
		}
		if n == 0 {
			// The cursor's block left the best chain.
			return f.disconnect(ctx, cur)
		}
		if err := f.connectBlocks(ctx, cur, group[:n]); err != nil {
			return err
		}
		last := group[n-1]
		cur = cursor{height: last.height, hash: last.hash, set: true}
		if n < len(group) || stop != nil {
			return stop // a reorganisation under the fetch: the next step sees it
		}
	}
}

// fetchErr is what a fetch error means to a catch-up: a block gone from the
// best chain (the node's tip went down) is for the next step to handle.
func fetchErr(err error) error {
	if errors.Is(err, chain.ErrNoBlock) {
		return nil
	}
	return err
}
