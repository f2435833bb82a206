package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/coins"
)

// nodeWorkers is how many gettxout calls are in flight at once.
const nodeWorkers = 4

// checkUnspent is check 1: every confirmed coin our tables call unspent is
// unspent on the node, unless a transaction of ours in the node's mempool
// spends it (in flight).
func (a *Auditor) checkUnspent(ctx context.Context, r *Result) error {
	rows, err := a.runner.Pool().Query(ctx, `SELECT txid, vout, amount FROM `+a.schema+`.coins
		WHERE spent_by IS NULL AND block_hash IS NOT NULL ORDER BY txid, vout`)
	if err != nil {
		return fmt.Errorf("listing unspent coins: %w", err)
	}
	type coin struct {
		op     wire.OutPoint
		amount int64
	}
	var all []coin
	var txid []byte
	var vout int32
	var amount int64
	if _, err := pgx.ForEachRow(rows, []any{&txid, &vout, &amount}, func() error {
		all = append(all, coin{op: wire.OutPoint{Hash: chainhash.Hash(txid), Index: uint32(vout)}, amount: amount})
		return nil
	}); err != nil {
		return fmt.Errorf("listing unspent coins: %w", err)
	}
	r.CoinsChecked = len(all)

	spent := make([]bool, len(all))
	errs := make([]error, nodeWorkers)
	var wg sync.WaitGroup
	for w := range nodeWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(all); i += nodeWorkers {
				ok, err := a.node.IsUnspent(ctx, all[i].op)
				if err != nil {
					errs[w] = fmt.Errorf("gettxout %s: %w", all[i].op, err)
					return
				}
				spent[i] = !ok
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	var suspects []coin
	for i, c := range all {
		if spent[i] {
			suspects = append(suspects, c)
		}
	}
	if len(suspects) == 0 {
		return nil
	}
	ours, err := a.spentByOurMempoolTxs(ctx)
	if err != nil {
		return err
	}
	for _, c := range suspects {
		if ours[c.op] {
			r.SpendingInPool = append(r.SpendingInPool, c.op)
			continue
		}
		// Read the row again: the follower may have recorded the spend
		// since the list was read.
		var still bool
		if err := a.runner.Pool().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+a.schema+`.coins
			WHERE txid = $1 AND vout = $2 AND spent_by IS NULL AND block_hash IS NOT NULL)`, c.op.Hash[:], int32(c.op.Index)).Scan(&still); err != nil {
			return err
		}
		if !still {
			continue
		}
		op := c.op
		r.add(Mismatch{Kind: CoinSpentOnNode, Coin: &op, AmountSat: c.amount,
			Detail: fmt.Sprintf("coin %s (%d sat) is confirmed and unspent in our tables but spent or unknown on the node, and no transaction of ours spends it", c.op, c.amount)})
	}
	return nil
}

// spentByOurMempoolTxs returns the outpoints that transactions of ours (a
// batch or a broadcast record) in the node's mempool spend.
func (a *Auditor) spentByOurMempoolTxs(ctx context.Context) (map[wire.OutPoint]bool, error) {
	ids, err := a.node.MempoolTxids(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the node's mempool: %w", err)
	}
	out := map[wire.OutPoint]bool{}
	if len(ids) == 0 {
		return out, nil
	}
	raw := make([][]byte, len(ids))
	for i := range ids {
		raw[i] = ids[i][:]
	}
	rows, err := a.runner.Pool().Query(ctx, `SELECT txid FROM `+a.schema+`.batches WHERE txid = ANY($1::bytea[])
		UNION SELECT txid FROM `+a.schema+`.broadcasts WHERE txid = ANY($1::bytea[])`, raw)
	if err != nil {
		return nil, err
	}
	var mine []chainhash.Hash
	var b []byte
	if _, err := pgx.ForEachRow(rows, []any{&b}, func() error {
		mine = append(mine, chainhash.Hash(b))
		return nil
	}); err != nil {
		return nil, err
	}
	for _, id := range mine {
		tx, err := a.node.Transaction(ctx, id)
		if errors.Is(err, chain.ErrNoTransaction) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, in := range tx.TxIn {
			out[in.PreviousOutPoint] = true
		}
	}
	return out, nil
}

// progressEvery is how many blocks pass between two Progress calls.
const progressEvery = 500

// scan is check 2: every output of the best chain paying one of our
// addresses, from the wallet's birth (or opt.FromHeight) to the follower's
// last block, is a coin row of that amount confirmed in that block. It
// reads one block at a time (memory stays bounded whatever the range) and
// stops where the follower's stored chain leaves the node's.
func (a *Auditor) scan(ctx context.Context, r *Result, opt Options, to int32) error {
	var birth *int32
	if err := a.runner.Pool().QueryRow(ctx, `SELECT min(height) FROM `+a.schema+`.chain_blocks`).Scan(&birth); err != nil {
		return fmt.Errorf("reading the wallet's birth height: %w", err)
	}
	if birth == nil {
		return nil
	}
	from := *birth
	if opt.FromHeight >= 0 {
		from = max(opt.FromHeight, *birth)
	}
	if from > to {
		return nil
	}
	lookup, err := a.watchSet(ctx)
	if err != nil {
		return err
	}
	r.ScanFrom, r.ScanTo = from, from-1
	for h := from; h <= to; h++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		var stored []byte
		if err := a.runner.Pool().QueryRow(ctx, `SELECT hash FROM `+a.schema+`.chain_blocks WHERE height = $1`, h).Scan(&stored); errors.Is(err, pgx.ErrNoRows) {
			continue // below a gap the follower never stored
		} else if err != nil {
			return err
		}
		hash, err := a.node.BlockHash(ctx, h)
		if err != nil {
			return fmt.Errorf("block hash at %d: %w", h, err)
		}
		if hash != chainhash.Hash(stored) {
			r.Unsettled = fmt.Sprintf("the follower's block at height %d is not on the node's best chain (a reorganisation it has not processed yet)", h)
			return nil
		}
		blk, err := a.node.Block(ctx, hash)
		if err != nil {
			return fmt.Errorf("block %d: %w", h, err)
		}
		r.BlocksScanned++
		r.ScanTo = h
		if m := coins.Match(blk.Transactions, lookup); len(m.Outputs) > 0 {
			if err := a.compareOutputs(ctx, r, h, hash, m.Outputs); err != nil {
				return err
			}
		}
		if opt.Progress != nil && (r.BlocksScanned%progressEvery == 0 || h == to) {
			opt.Progress(h, to)
		}
	}
	return nil
}

// watchSet is every address of ours (hot and cold), by output script.
func (a *Auditor) watchSet(ctx context.Context) (func([]byte) (coins.Watched, bool), error) {
	rows, err := a.runner.Pool().Query(ctx, `SELECT script, id, wallet_id FROM `+a.schema+`.addresses`)
	if err != nil {
		return nil, fmt.Errorf("reading our addresses: %w", err)
	}
	set := map[string]coins.Watched{}
	var script []byte
	var w coins.Watched
	if _, err := pgx.ForEachRow(rows, []any{&script, &w.AddressID, &w.WalletID}, func() error {
		set[string(script)] = w
		return nil
	}); err != nil {
		return nil, fmt.Errorf("reading our addresses: %w", err)
	}
	return func(s []byte) (coins.Watched, bool) {
		w, ok := set[string(s)]
		return w, ok
	}, nil
}

// compareOutputs checks a block's outputs paying us against the coins table.
func (a *Auditor) compareOutputs(ctx context.Context, r *Result, height int32, block chainhash.Hash, outs []coins.Output) error {
	txids := make([][]byte, len(outs))
	vouts := make([]int32, len(outs))
	for i, o := range outs {
		txids[i], vouts[i] = o.OutPoint.Hash[:], int32(o.OutPoint.Index)
	}
	rows, err := a.runner.Pool().Query(ctx, `SELECT c.txid, c.vout, c.amount, c.block_hash FROM unnest($1::bytea[], $2::integer[]) AS u(txid, vout)
		JOIN `+a.schema+`.coins c ON c.txid = u.txid AND c.vout = u.vout`, txids, vouts)
	if err != nil {
		return err
	}
	type row struct {
		amount int64
		block  []byte
	}
	have := map[wire.OutPoint]row{}
	var txid, blk []byte
	var vout int32
	var amount int64
	if _, err := pgx.ForEachRow(rows, []any{&txid, &vout, &amount, &blk}, func() error {
		have[wire.OutPoint{Hash: chainhash.Hash(txid), Index: uint32(vout)}] = row{amount: amount, block: append([]byte(nil), blk...)}
		return nil
	}); err != nil {
		return err
	}
	for _, o := range outs {
		c, ok := have[o.OutPoint]
		var detail string
		switch {
		case !ok:
			detail = fmt.Sprintf("output %s pays %d sat to one of our addresses in block %d (%s) and is not in our coins", o.OutPoint, o.Amount, height, block)
		case c.amount != o.Amount:
			detail = fmt.Sprintf("output %s pays %d sat in block %d; our coin row says %d sat", o.OutPoint, o.Amount, height, c.amount)
		case len(c.block) != chainhash.HashSize || chainhash.Hash(c.block) != block:
			detail = fmt.Sprintf("output %s is in block %d (%s); our coin row does not say it is confirmed there", o.OutPoint, height, block)
		default:
			continue
		}
		op := o.OutPoint
		r.add(Mismatch{Kind: OutputNotInCoins, Coin: &op, AmountSat: o.Amount, Detail: detail})
	}
	return nil
}
