package broadcast

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/chain"
)

// The node is asked where a transaction is without its transaction index:
// in the mempool, by an output still among the chain's coins (gettxout), or
// in a best-chain block since the broadcast was opened.

// maxResolveScan bounds the blocks read looking for a transaction.
const maxResolveScan = 2016

// blockRange is the best-chain heights From..To read by a scan.
type blockRange struct{ From, To int32 }

func (r blockRange) String() string {
	if r.From > r.To {
		return "no blocks"
	}
	return fmt.Sprintf("blocks %d to %d", r.From, r.To)
}

// quickFind says whether the node has tx in its mempool (or transaction
// index) or has one of its outputs among the chain's coins; "" when not.
func (b *Broadcaster) quickFind(ctx context.Context, tx *wire.MsgTx) (string, error) {
	txid := tx.TxHash()
	if _, err := b.node.Transaction(ctx, txid); err == nil {
		return "on the node", nil
	} else if !errors.Is(err, chain.ErrNoTransaction) {
		return "", err
	}
	for i := range tx.TxOut {
		ok, err := b.node.IsUnspent(ctx, wire.OutPoint{Hash: txid, Index: uint32(i)})
		if err != nil {
			return "", err
		}
		if ok {
			return "among the chain's coins", nil
		}
	}
	// The follower saw it spend one of our coins in a block (it undoes that
	// when the block leaves the chain).
	for _, in := range tx.TxIn {
		s, err := b.coinSpender(ctx, in.PreviousOutPoint)
		if err != nil {
			return "", err
		}
		if s != nil && s.txid == txid && s.height >= 0 {
			return fmt.Sprintf("in block %d (it spends our coin %s there)", s.height, in.PreviousOutPoint), nil
		}
	}
	return "", nil
}

// scanRange is the blocks to read for records opened at or after opened:
// from the follower's first block seen two hours before it (or the last
// day of blocks when it stored none that recent) to the tip, at most
// maxResolveScan blocks.
func (b *Broadcaster) scanRange(ctx context.Context, opened time.Time) (blockRange, error) {
	tip, _, err := b.node.Tip(ctx)
	if err != nil {
		return blockRange{}, err
	}
	var from *int32
	if err := b.runner.Pool().QueryRow(ctx, `SELECT min(height) FROM `+b.schema+`.chain_blocks WHERE seen_at >= $1::timestamptz - interval '2 hours'`, opened).Scan(&from); err != nil {
		return blockRange{}, err
	}
	start := tip - 144
	if from != nil {
		start = *from
	}
	return blockRange{From: max(start, tip-maxResolveScan, 0), To: tip}, nil
}

// spend is a transaction seen spending an outpoint.
type spend struct {
	txid   chainhash.Hash
	height int32 // -1: in the mempool
}

// scanBlocks reads the blocks of r once, newest first, and returns the
// height of each wanted transaction found and the spender of each watched
// outpoint.
func (b *Broadcaster) scanBlocks(ctx context.Context, r blockRange, want map[chainhash.Hash]bool, watch map[wire.OutPoint]bool) (map[chainhash.Hash]int32, map[wire.OutPoint]spend, error) {
	return b.scanBlocksCached(ctx, r, want, watch, nil)
}

// absentFrom remembers, per open record's txid, the blocks already read
// that do not hold it, so the resolver's next pass reads only new blocks
// (and those a reorg put in the range) rather than a day of blocks every
// interval. Only the resolver uses it; it is pruned to the open records.
type absentFrom map[chainhash.Hash]map[chainhash.Hash]bool

// scanBlocksCached is scanBlocks skipping, when no outpoint is watched, the
// blocks absent already says hold none of the wanted transactions, and
// recording in absent the blocks it reads.
func (b *Broadcaster) scanBlocksCached(ctx context.Context, r blockRange, want map[chainhash.Hash]bool, watch map[wire.OutPoint]bool, absent absentFrom) (map[chainhash.Hash]int32, map[wire.OutPoint]spend, error) {
	found := map[chainhash.Hash]int32{}
	spenders := map[wire.OutPoint]spend{}
	// Below the first height whose hash is the one seen last pass, the
	// chain is the same (each block commits to its parent): its hashes
	// are not asked again.
	same := false
	for h := r.To; h >= r.From && (len(found) < len(want) || len(spenders) < len(watch)); h-- {
		hash, known := b.chainAt[h]
		if absent == nil || !same || !known {
			got, err := b.node.BlockHash(ctx, h)
			if err != nil {
				return nil, nil, err
			}
			if absent != nil {
				same = known && got == hash
				b.chainAt[h] = got
			}
			hash = got
		}
		if absent != nil && len(watch) == 0 {
			read := true
			for id := range want {
				if _, ok := found[id]; !ok && !absent[id][hash] {
					read = false
					break
				}
			}
			if read {
				continue
			}
		}
		blk, err := b.node.Block(ctx, hash)
		if err != nil {
			return nil, nil, err
		}
		here := map[chainhash.Hash]bool{}
		for _, t := range blk.Transactions {
			id := t.TxHash()
			if want[id] {
				here[id] = true
				if _, seen := found[id]; !seen {
					found[id] = h
				}
			}
			for _, in := range t.TxIn {
				if watch[in.PreviousOutPoint] {
					if _, seen := spenders[in.PreviousOutPoint]; !seen {
						spenders[in.PreviousOutPoint] = spend{txid: id, height: h}
					}
				}
			}
		}
		if absent != nil {
			for id := range want {
				if !here[id] {
					if absent[id] == nil {
						absent[id] = map[chainhash.Hash]bool{}
					}
					absent[id][hash] = true
				}
			}
		}
	}
	return found, spenders, nil
}

// locate says where the node has tx ("" when nowhere) and which blocks were
// read to say so.
func (b *Broadcaster) locate(ctx context.Context, tx *wire.MsgTx, opened time.Time) (string, blockRange, error) {
	where, err := b.quickFind(ctx, tx)
	if err != nil || where != "" {
		return where, blockRange{From: 1, To: 0}, err
	}
	r, err := b.scanRange(ctx, opened)
	if err != nil {
		return "", r, err
	}
	txid := tx.TxHash()
	found, _, err := b.scanBlocks(ctx, r, map[chainhash.Hash]bool{txid: true}, nil)
	if err != nil {
		return "", r, err
	}
	if h, ok := found[txid]; ok {
		return fmt.Sprintf("in block %d", h), r, nil
	}
	return "", r, nil
}

// spentInputs returns the inputs of tx that are spent by another
// transaction or missing: the node's gettxout shows them spent (Bitcoin
// Core counts mempool spends; btcd only confirmed ones), or our coins table
// records another spender (the follower sees mempool spends on either
// node). Ask before looking for tx itself, so that tx entering the mempool
// in between is found rather than taken for a stranger.
func (b *Broadcaster) spentInputs(ctx context.Context, tx *wire.MsgTx) ([]wire.OutPoint, error) {
	txid := tx.TxHash()
	var spent []wire.OutPoint
	for _, in := range tx.TxIn {
		ok, err := b.node.IsUnspent(ctx, in.PreviousOutPoint)
		if err != nil {
			return nil, err
		}
		if ok {
			s, err := b.coinSpender(ctx, in.PreviousOutPoint)
			if err != nil {
				return nil, err
			}
			ok = s == nil || s.txid == txid
		}
		if !ok {
			spent = append(spent, in.PreviousOutPoint)
		}
	}
	return spent, nil
}

// coinSpender is what the coins table knows of who spent op.
func (b *Broadcaster) coinSpender(ctx context.Context, op wire.OutPoint) (*spend, error) {
	var by []byte
	var height *int32
	err := b.runner.Pool().QueryRow(ctx, `SELECT spent_by, spent_height FROM `+b.schema+`.coins WHERE txid = $1 AND vout = $2`, op.Hash[:], int32(op.Index)).Scan(&by, &height)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && by == nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s := &spend{height: -1}
	copy(s.txid[:], by)
	if height != nil {
		s.height = *height
	}
	return s, nil
}
