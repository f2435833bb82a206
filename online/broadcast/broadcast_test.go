package broadcast

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/storetest"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/chain"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// faultyNode wraps the real node. lostReply: the node gets the
// transaction but the answer never arrives. refused: the connection fails
// before the node sees anything. It counts and keeps what reached the node.
type faultyNode struct {
	chain.Node
	lostReply, refused atomic.Bool
	sent               atomic.Int32
	blocks             atomic.Int32 // blocks read
	mu                 sync.Mutex
	last               []byte // the bytes of the last transaction sent
}

func (f *faultyNode) Broadcast(ctx context.Context, tx *wire.MsgTx) (chainhash.Hash, error) {
	if f.refused.Load() {
		return chainhash.Hash{}, errors.New("dial tcp: connection refused")
	}
	f.sent.Add(1)
	var raw bytes.Buffer
	_ = tx.Serialize(&raw)
	f.mu.Lock()
	f.last = raw.Bytes()
	f.mu.Unlock()
	h, err := f.Node.Broadcast(ctx, tx)
	if f.lostReply.Load() {
		return chainhash.Hash{}, errors.New("read tcp: connection reset by peer")
	}
	return h, err
}

func (f *faultyNode) Block(ctx context.Context, hash chainhash.Hash) (*wire.MsgBlock, error) {
	f.blocks.Add(1)
	return f.Node.Block(ctx, hash)
}

type fixture struct {
	ctx    context.Context
	faucet *devenv.Faucet
	node   *faultyNode
	b      *Broadcaster
	btcd   *devenv.Btcd
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := testenv.Ctx(t, 2*time.Minute)
	n := testenv.NewNode(t, devenv.BtcdOptions{})
	real := chain.NewRPCNode(n.Client)
	node := &faultyNode{Node: real}
	b, err := New(storetest.Runner(t, 4, "btc"), "btc", node, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{ctx: ctx, faucet: devenv.NewFaucet(real), node: node, b: b, btcd: n}
}

func (f *fixture) tx(t *testing.T) *wire.MsgTx {
	t.Helper()
	tx, err := f.faucet.Build(f.ctx, []devenv.Payment{{Address: devenv.FaucetAddress().EncodeAddress(), Amount: 10_000}}, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

func TestSubmitRecordsAndNeverRepeats(t *testing.T) {
	f := newFixture(t)
	tx := f.tx(t)
	r, err := f.b.Submit(f.ctx, "cold_topup", tx)
	if err != nil || r.Outcome != Accepted || r.ClosedAt == nil || r.TxID != tx.TxHash() {
		t.Fatalf("submit: %+v %v", r, err)
	}
	again, err := f.b.Submit(f.ctx, "cold_topup", tx)
	if err != nil || again.ID != r.ID || f.node.sent.Load() != 1 {
		t.Fatalf("a second submit of the same transaction must not send it again: %+v %v, sent %d", again, err, f.node.sent.Load())
	}
}

func TestLostReplyIsResolvedByLooking(t *testing.T) {
	f := newFixture(t)
	tx := f.tx(t)
	f.node.lostReply.Store(true)
	r, err := f.b.Submit(f.ctx, "cold_topup", tx)
	if !errors.Is(err, ErrUnresolved) || r.ClosedAt != nil {
		t.Fatalf("lost reply: %+v %v", r, err)
	}
	f.node.lostReply.Store(false)
	rs, err := f.b.Resolve(f.ctx)
	if err != nil || len(rs) != 1 || rs[0].Outcome != Accepted || f.node.sent.Load() != 1 {
		t.Fatalf("resolve: %+v %v (sent %d: the node had it, nothing must be resent)", rs, err, f.node.sent.Load())
	}
}

func TestRefusedConnectionIsResolvedBySendingTheSameBytes(t *testing.T) {
	f := newFixture(t)
	tx := f.tx(t)
	f.node.refused.Store(true)
	if _, err := f.b.Submit(f.ctx, "cold_topup", tx); !errors.Is(err, ErrUnresolved) {
		t.Fatalf("refused: %v", err)
	}
	if _, err := f.b.Resolve(f.ctx); err != nil {
		t.Fatal(err) // still refused: stays open
	}
	if r, _ := f.b.Get(f.ctx, tx.TxHash()); r.ClosedAt != nil {
		t.Fatal("closed without an answer from the node")
	}
	f.node.refused.Store(false)
	rs, err := f.b.Resolve(f.ctx)
	if err != nil || len(rs) != 1 || rs[0].Outcome != Accepted || rs[0].Attempts != 3 || f.node.sent.Load() != 1 {
		t.Fatalf("resolve: %+v %v (sent %d)", rs, err, f.node.sent.Load())
	}
	if _, err := f.node.Transaction(f.ctx, tx.TxHash()); err != nil {
		t.Fatalf("the node does not have the transaction: %v", err)
	}
}

func TestRejectedIsClosed(t *testing.T) {
	f := newFixture(t)
	tx := f.tx(t)
	tx.TxIn[0].Witness = nil // unsigned: the node refuses it
	r, err := f.b.Submit(f.ctx, "cold_topup", tx)
	if err != nil || r.Outcome != Rejected || r.Error == "" {
		t.Fatalf("rejected: %+v %v", r, err)
	}
	list, err := f.b.List(f.ctx, Filter{Limit: 10})
	if err != nil || len(list) != 1 {
		t.Fatalf("list: %v %v", list, err)
	}
}
