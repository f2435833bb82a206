package broadcast

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/online/chain"
)

// noTxIndexNode wraps the real node (started with --txindex) and answers
// getrawtransaction as a node without a transaction index does: mempool
// transactions only.
type noTxIndexNode struct{ *faultyNode }

func (n noTxIndexNode) Transaction(ctx context.Context, id chainhash.Hash) (*wire.MsgTx, error) {
	pool, err := n.MempoolTxids(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range pool {
		if p == id {
			return n.faultyNode.Transaction(ctx, id)
		}
	}
	return nil, fmt.Errorf("%w: %s (no transaction index)", chain.ErrNoTransaction, id)
}

// spendAll signs a transaction spending every output of tx (all pay the
// faucet key) back to the faucet.
func spendAll(t *testing.T, tx *wire.MsgTx) *wire.MsgTx {
	t.Helper()
	out := wire.NewMsgTx(2)
	prevs := map[wire.OutPoint]*wire.TxOut{}
	var total int64
	for i, o := range tx.TxOut {
		op := wire.OutPoint{Hash: tx.TxHash(), Index: uint32(i)}
		out.AddTxIn(wire.NewTxIn(&op, nil, nil))
		prevs[op] = o
		total += o.Value
	}
	script, _ := txscript.PayToAddrScript(devenv.FaucetAddress())
	out.AddTxOut(wire.NewTxOut(total-20_000, script))
	fetcher := txscript.NewMultiPrevOutFetcher(prevs)
	hashes := txscript.NewTxSigHashes(out, fetcher)
	for i, in := range out.TxIn {
		prev := prevs[in.PreviousOutPoint]
		wit, err := txscript.WitnessSignature(out, hashes, i, prev.Value, prev.PkScript, txscript.SigHashAll, devenv.FaucetKey(), true)
		if err != nil {
			t.Fatal(err)
		}
		out.TxIn[i].Witness = wit
	}
	return out
}

// A broadcast whose reply was lost, that confirmed and whose outputs were
// all spent since, is resolved as accepted by a node without a transaction
// index: the resolver reads the blocks since it was opened.
func TestResolveNeedsNoTransactionIndex(t *testing.T) {
	f := newFixture(t)
	node := noTxIndexNode{f.node}
	b, err := New(f.b.runner, "btc", node, nil)
	if err != nil {
		t.Fatal(err)
	}
	tx := f.tx(t)
	f.node.lostReply.Store(true)
	if _, err := b.Submit(f.ctx, "cold_topup", tx); err == nil {
		t.Fatal("the lost reply was not noticed")
	}
	f.node.lostReply.Store(false)
	n := f.btcd
	if _, err := n.Generate(f.ctx, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := f.node.Node.Broadcast(f.ctx, spendAll(t, tx)); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Generate(f.ctx, 1); err != nil {
		t.Fatal(err)
	}
	rs, err := b.Resolve(f.ctx)
	if err != nil || len(rs) != 1 {
		t.Fatalf("resolve: %+v %v", rs, err)
	}
	if rs[0].Outcome != Accepted || f.node.sent.Load() != 1 {
		t.Fatalf("a confirmed broadcast resolved as %q (%s), sent %d times", rs[0].Outcome, rs[0].Error, f.node.sent.Load())
	}
}

// The resolver reads a block once per open record, not a day of blocks
// every pass: a pass after the first reads only new blocks, and finds the
// record there.
func TestResolverReadsEachBlockOnce(t *testing.T) {
	f := newFixture(t)
	b, err := New(f.b.runner, "btc", noTxIndexNode{f.node}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tx := f.tx(t)
	f.node.refused.Store(true)
	if _, err := b.Submit(f.ctx, KindColdTopup, tx); err == nil {
		t.Fatal("the refused connection was not noticed")
	}
	if _, err := b.Resolve(f.ctx); err != nil {
		t.Fatal(err)
	}
	first := f.node.blocks.Load()
	if first < 100 {
		t.Fatalf("the first pass read %d blocks, want the last day's", first)
	}
	if _, err := b.Resolve(f.ctx); err != nil {
		t.Fatal(err)
	}
	if again := f.node.blocks.Load() - first; again != 0 {
		t.Fatalf("the second pass read %d blocks already read", again)
	}
	// The transaction reaches the chain another way and its outputs are
	// spent: only the blocks' contents show it.
	if _, err := f.node.Node.Broadcast(f.ctx, tx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.btcd.Generate(f.ctx, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := f.node.Node.Broadcast(f.ctx, spendAll(t, tx)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.btcd.Generate(f.ctx, 1); err != nil {
		t.Fatal(err)
	}
	before := f.node.blocks.Load()
	var rs []Record
	rs, err = b.Resolve(f.ctx)
	if err != nil || len(rs) != 1 || rs[0].Outcome != Accepted || !strings.Contains(rs[0].Error, "in block") {
		t.Fatalf("resolve: %+v %v", rs, err)
	}
	if read := f.node.blocks.Load() - before; read != 2 {
		t.Fatalf("the pass read %d blocks, want the 2 new ones", read)
	}
}
