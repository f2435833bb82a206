package broadcast

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/online/store"
)

// rendezvousNode holds every lookup of a transaction until n callers are
// waiting, so n resolvers reach the close together.
type rendezvousNode struct {
	*faultyNode
	n       int
	mu      sync.Mutex
	waiting int
	all     chan struct{}
}

func (r *rendezvousNode) Transaction(ctx context.Context, id chainhash.Hash) (*wire.MsgTx, error) {
	r.mu.Lock()
	r.waiting++
	if r.waiting == r.n {
		close(r.all)
	}
	r.mu.Unlock()
	select {
	case <-r.all:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return r.faultyNode.Transaction(ctx, id)
}

// Resolvers in several processes (serve's, an operator's) settle the same
// open record at once: it is closed once and its hook runs once.
func TestConcurrentResolversCloseOnce(t *testing.T) {
	f := newFixture(t)
	const resolvers = 4
	tx := f.tx(t)
	f.node.lostReply.Store(true)
	if _, err := f.b.Submit(f.ctx, KindColdTopup, tx); err == nil {
		t.Fatal("the lost reply was not noticed")
	}
	f.node.lostReply.Store(false)
	node := &rendezvousNode{faultyNode: f.node, n: resolvers, all: make(chan struct{})}
	f.hookLog(t)
	retriesBefore := f.b.runner.Stats().Retries
	var wg sync.WaitGroup
	errs := make(chan error, resolvers)
	for range resolvers {
		b, err := New(f.b.runner, "btc", node, nil)
		if err != nil {
			t.Fatal(err)
		}
		// The close holds its transaction open a moment, so the other
		// resolvers' closes start before it commits and really collide.
		closed := logHook("closed", nil)
		b.Handle(KindColdTopup, Hooks{Closed: func(t *store.Tx, r Record) error {
			time.Sleep(200 * time.Millisecond)
			return closed(t, r)
		}})
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := b.Resolve(f.ctx)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	collisions := f.b.runner.Stats().Retries - retriesBefore
	if collisions == 0 {
		t.Fatal("the resolvers never collided: the test proved nothing")
	}
	r, err := f.b.Get(f.ctx, tx.TxHash())
	if err != nil || r.Outcome != Accepted || f.node.sent.Load() != 1 {
		t.Fatalf("record %+v %v, sent %d", r, err, f.node.sent.Load())
	}
	if n := f.count(t, `SELECT count(*) FROM btc.hook_log`); n != 1 {
		t.Fatalf("the closed hook's write committed %d times", n)
	}
	t.Logf("%d resolvers, %d serialization retries", resolvers, collisions)
}
