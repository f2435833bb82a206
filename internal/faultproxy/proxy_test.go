package faultproxy

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/chain/rpc"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// A sendrawtransaction through the proxy reaches the real node, which takes
// the transaction into its mempool, while the client gets a broken reply;
// other methods pass untouched; "first N" and "all" cut what they say.
func TestCutSendrawtransactionReplyLeavesTheTransactionInTheMempool(t *testing.T) {
	ctx := testenv.Ctx(t, 3*time.Minute)
	node := testenv.NewNode(t, devenv.BtcdOptions{})
	p, err := Start(strings.TrimPrefix(node.RPCURL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	viaClient, err := rpc.New(rpc.Config{URL: p.URL(), User: devenv.RPCUser, Password: devenv.RPCPassword, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	direct, via := chain.NewRPCNode(node.Client), chain.NewRPCNode(viaClient)
	faucet := devenv.NewFaucet(direct)
	inMempool := func(txid chainhash.Hash) bool {
		t.Helper()
		ids, err := direct.MempoolTxids(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return slices.Contains(ids, txid)
	}
	newTx := func(amount int64) *chainhash.Hash {
		t.Helper()
		tx, err := faucet.Build(ctx, []devenv.Payment{{Address: devenv.FaucetAddress().EncodeAddress(), Amount: amount}}, 10_000)
		if err != nil {
			t.Fatal(err)
		}
		h := tx.TxHash()
		_, err = via.Broadcast(ctx, tx)
		if err == nil {
			t.Fatalf("sendrawtransaction of %s through the proxy answered in full", h)
		}
		var rpcErr *rpc.Error
		if errors.As(err, &rpcErr) {
			t.Fatalf("a cut reply decoded as the node's error: %v", err)
		}
		if !strings.Contains(err.Error(), "unexpected EOF") {
			t.Fatalf("the client's error does not show a reply cut short: %v", err)
		}
		t.Logf("client saw: %v", err)
		if !inMempool(h) {
			t.Fatalf("the node does not have %s though it was asked", h)
		}
		return &h
	}

	// Nothing is cut before CutReplies.
	wantHeight, _, err := direct.Tip(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h, _, err := via.Tip(ctx); err != nil || h != wantHeight {
		t.Fatalf("getblockchaininfo through the proxy: %d %v, want %d", h, err, wantHeight)
	}

	// The first one only.
	p.CutReplies("sendrawtransaction", 1)
	first := newTx(1_000_000)
	if p.Seen() != 1 || p.Cut() != 1 {
		t.Fatalf("after one cut: seen %d cut %d", p.Seen(), p.Cut())
	}
	// The same bytes again: the budget is spent, the node's answer arrives
	// whole (btcd refuses a transaction it already has).
	tx, err := direct.Transaction(ctx, *first)
	if err != nil {
		t.Fatal(err)
	}
	_, err = via.Broadcast(ctx, tx)
	var rpcErr *rpc.Error
	if err != nil && !errors.As(err, &rpcErr) {
		t.Fatalf("the second sendrawtransaction was cut too: %v", err)
	}
	if p.Seen() != 2 || p.Cut() != 1 {
		t.Fatalf("after a whole reply: seen %d cut %d", p.Seen(), p.Cut())
	}

	// Every one, while other methods still pass.
	p.CutReplies("sendrawtransaction", All)
	newTx(2_000_000)
	if _, _, err := via.Tip(ctx); err != nil {
		t.Fatalf("getblockchaininfo while cutting sendrawtransaction: %v", err)
	}
	newTx(3_000_000)
	if p.Seen() != 4 || p.Cut() != 3 {
		t.Fatalf("after cutting all: seen %d cut %d, want 4 and 3", p.Seen(), p.Cut())
	}
	p.CutReplies("", 0)
	if _, _, err := via.Tip(ctx); err != nil || p.Requests() != 7 {
		t.Fatalf("after cutting stops: %v, %d requests forwarded", err, p.Requests())
	}
}
