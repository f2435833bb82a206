package deposits

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/events"
)

// droppingNode wraps the real node and shows some mempool transactions as
// dropped (evicted, or expired from the mempool) with nothing else
// spending their inputs: btcd cannot be made to evict one, so the fault is
// injected.
type droppingNode struct {
	chain.Node
	mu      sync.Mutex
	dropped map[chainhash.Hash]*wire.MsgTx
}

func (d *droppingNode) get(id chainhash.Hash) (*wire.MsgTx, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	tx, ok := d.dropped[id]
	return tx, ok
}

func (d *droppingNode) MempoolTxids(ctx context.Context) ([]chainhash.Hash, error) {
	ids, err := d.Node.MempoolTxids(ctx)
	var out []chainhash.Hash
	for _, id := range ids {
		if _, ok := d.get(id); !ok {
			out = append(out, id)
		}
	}
	return out, err
}

func (d *droppingNode) Transaction(ctx context.Context, id chainhash.Hash) (*wire.MsgTx, error) {
	if _, ok := d.get(id); ok {
		return nil, fmt.Errorf("%w: %s", chain.ErrNoTransaction, id)
	}
	return d.Node.Transaction(ctx, id)
}

func (d *droppingNode) IsUnspent(ctx context.Context, op wire.OutPoint) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, tx := range d.dropped {
		if op.Hash == id {
			return false, nil // a dropped transaction's outputs do not exist
		}
		for _, in := range tx.TxIn {
			if in.PreviousOutPoint == op {
				return true, nil // and nothing spends its inputs
			}
		}
	}
	return d.Node.IsUnspent(ctx, op)
}

// A seen deposit that left the mempool, is in no block and whose inputs
// nobody spent expires after seen_expiry with an event; if it confirms
// later after all, it is credited.
func TestSeenDepositMissingFromMempoolExpires(t *testing.T) {
	e := newEnv(t)
	view := &droppingNode{Node: e.chain, dropped: map[chainhash.Hash]*wire.MsgTx{}}
	f := NewFollower(e.ledger, view, Config{Confirmations: 1, StartHeight: -1, SeenExpiry: 50 * time.Millisecond}, nil)
	e.sync(f)
	quinn := e.account("quinn", 1)
	pay, err := e.faucet.Pay(e.ctx, devenv.Payment{Address: quinn[0], Amount: 18_000})
	if err != nil {
		t.Fatal(err)
	}
	e.sync(f)
	view.mu.Lock()
	view.dropped[pay.TxHash()] = pay
	view.mu.Unlock()
	e.sync(f) // found missing: the clock starts
	if st := e.states(); st[Seen] != 1 {
		t.Fatalf("just missing: %v", st)
	}
	time.Sleep(100 * time.Millisecond)
	e.sync(f)
	if st := e.states(); st[Expired] != 1 || len(st) != 1 {
		t.Fatalf("after seen_expiry: %v", st)
	}
	if av, pend := e.balance("quinn"); av != 0 || pend != 0 {
		t.Fatalf("quinn %d/%d after expiry", av, pend)
	}
	if ev := e.eventCounts(); ev[EventDepositExpired] != 1 {
		t.Fatalf("events %v", ev)
	}
	e.invariants()
	// It was only dropped by our node: a miner still had it.
	view.mu.Lock()
	delete(view.dropped, pay.TxHash())
	view.mu.Unlock()
	e.mine(1)
	e.sync(f)
	if st := e.states(); st[Credited] != 1 {
		t.Fatalf("after it confirmed: %v", st)
	}
	if av, pend := e.balance("quinn"); av != 18_000 || pend != 0 {
		t.Fatalf("quinn %d/%d", av, pend)
	}
	e.invariants()
}

// A seen deposit whose input another transaction spent while the service
// was down, and which nothing tracked (no replacement pays us, the node no
// longer has it), is replaced once the follower has caught up.
func TestSeenDepositWhoseInputWasSpentElsewhereIsReplaced(t *testing.T) {
	e := newEnv(t)
	f := e.follower(1)
	e.sync(f)
	rob := e.account("rob", 1)
	orig := e.payNow(rob[0], 26_000)
	e.sync(f)
	if _, err := e.faucet.Replace(e.ctx, orig, e.prevValue(orig), nil, 30_000); err != nil {
		t.Fatal(err)
	}
	// A restarted process whose stored inputs were lost (recorded before
	// they were kept): only the node's answers can resolve it.
	if _, err := e.runner.Pool().Exec(e.ctx, `UPDATE btc.deposits SET spends = NULL`); err != nil {
		t.Fatal(err)
	}
	restarted := e.follower(1)
	e.sync(restarted)
	// Without the inputs, the deposit can only expire; with them restored
	// by a second start, it is replaced at once.
	if _, err := e.runner.Pool().Exec(e.ctx, `UPDATE btc.deposits SET spends = $1`, encodeSpends(orig)); err != nil {
		t.Fatal(err)
	}
	again := e.follower(1)
	e.sync(again)
	if st := e.states(); st[Replaced] != 1 || len(st) != 1 {
		t.Fatalf("states %v", st)
	}
	if av, pend := e.balance("rob"); av != 0 || pend != 0 {
		t.Fatalf("rob %d/%d", av, pend)
	}
	if ev := e.eventCounts(); ev[events.DepositReplaced] != 1 {
		t.Fatalf("events %v", ev)
	}
	e.invariants()
}

// An output below the asset's minimum deposit is recorded with its reason
// and never credited; the larger one beside it is.
func TestBelowMinimumOutputIgnoredWithReason(t *testing.T) {
	e := newEnv(t)
	f := NewFollower(e.ledger, e.chain, Config{Confirmations: 1, StartHeight: -1, MinDeposit: 10_000}, nil)
	e.sync(f)
	sam := e.account("sam", 2)
	if _, err := e.faucet.Pay(e.ctx, devenv.Payment{Address: sam[0], Amount: 5_000}, devenv.Payment{Address: sam[1], Amount: 20_000}); err != nil {
		t.Fatal(err)
	}
	e.sync(f)
	e.mine(1)
	e.sync(f)
	if st := e.states(); st[Credited] != 1 || len(st) != 1 {
		t.Fatalf("states %v", st)
	}
	if av, pend := e.balance("sam"); av != 20_000 || pend != 0 {
		t.Fatalf("sam %d/%d", av, pend)
	}
	var reason string
	var amount int64
	var inBlock bool
	if err := e.runner.Pool().QueryRow(e.ctx, `SELECT reason, amount, block_hash IS NOT NULL FROM btc.ignored_outputs`).Scan(&reason, &amount, &inBlock); err != nil {
		t.Fatal(err)
	}
	if reason != ReasonBelowMinimum || amount != 5_000 || !inBlock {
		t.Fatalf("ignored output: %s %d in block %v", reason, amount, inBlock)
	}
	e.invariants()
}

// Two followers of one asset (two `serve` processes) run side by side: their
// block transactions are serialised, the loser of each race writes nothing,
// and every deposit is credited exactly once.
// rendezvous lets two callers meet: the first waits for the second, or for
// a short timeout when the other has nothing more to fetch.
type rendezvous struct {
	mu      sync.Mutex
	waiting chan struct{}
}

func (r *rendezvous) meet() {
	r.mu.Lock()
	if r.waiting != nil {
		close(r.waiting)
		r.waiting = nil
		r.mu.Unlock()
		return
	}
	ch := make(chan struct{})
	r.waiting = ch
	r.mu.Unlock()
	select {
	case <-ch:
	case <-time.After(500 * time.Millisecond):
		r.mu.Lock()
		if r.waiting == ch {
			r.waiting = nil
		}
		r.mu.Unlock()
	}
}

// rendezvousNode wraps the real node: a block is returned only after the
// other follower's fetch met this one.
type rendezvousNode struct {
	chain.Node
	meet *rendezvous
}

func (n *rendezvousNode) Block(ctx context.Context, h chainhash.Hash) (*wire.MsgBlock, error) {
	b, err := n.Node.Block(ctx, h)
	n.meet.meet()
	return b, err
}

func TestTwoFollowersForOneAssetAreSerialised(t *testing.T) {
	e := newEnv(t)
	// Each follower fetches its next block only when the other has fetched
	// one too (or a moment passed): both have then read the same cursor, and
	// one of them must lose the race to write it.
	meet := &rendezvous{}
	cfg := Config{Confirmations: 2, StartHeight: -1}
	a := NewFollower(e.ledger, &rendezvousNode{Node: e.chain, meet: meet}, cfg, nil)
	b := NewFollower(e.ledger, &rendezvousNode{Node: e.chain, meet: meet}, cfg, nil)
	e.sync(e.follower(2))
	tess := e.account("tess", 12)
	for i, addr := range tess {
		if _, err := e.faucet.Pay(e.ctx, devenv.Payment{Address: addr, Amount: int64(10_000 + i)}); err != nil {
			t.Fatal(err)
		}
		e.mine(1)
	}
	e.mine(2)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, f := range []*Follower{a, b} {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = f.SyncToTip(e.ctx) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	races := a.lostRaces.Load() + b.lostRaces.Load()
	t.Logf("lost races: %d + %d", a.lostRaces.Load(), b.lostRaces.Load())
	if races == 0 {
		t.Fatal("the two followers never collided: the test proved nothing")
	}
	if st := e.states(); st[Credited] != 12 || len(st) != 1 {
		t.Fatalf("states %v", st)
	}
	var want int64
	for i := range tess {
		want += int64(10_000 + i)
	}
	if av, pend := e.balance("tess"); av != want || pend != 0 {
		t.Fatalf("tess %d/%d, want %d", av, pend, want)
	}
	if ev := e.eventCounts(); ev[events.DepositCredited] != 12 || ev[events.DepositSeen] != 12 {
		t.Fatalf("events %v", ev)
	}
	e.invariants()
}

// A coinbase paying a customer's address is credited no earlier than its
// maturity (100 blocks), whatever the asset's confirmations.
func TestCoinbaseDepositCreditedOnlyWhenMature(t *testing.T) {
	ours, err := testKey{seed: "deposits-test"}.Derive(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The node mines to the faucet and to our address, choosing at random.
	e := newEnvWith(t, devenv.BtcdOptions{ExtraArgs: []string{"--miningaddr=" + ours.Address}})
	f := e.follower(1)
	e.sync(f)
	if as := e.account("vera", 1); as[0] != ours.Address {
		t.Fatalf("issued %s, want %s", as[0], ours.Address)
	}
	var reward int64
	for i := 0; reward == 0; i++ {
		if i == 64 {
			t.Fatal("no block paid our address")
		}
		hashes, err := e.node.Generate(e.ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		h, err := chainhash.NewHashFromStr(hashes[0])
		if err != nil {
			t.Fatal(err)
		}
		blk, err := e.chain.Block(e.ctx, *h)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range blk.Transactions[0].TxOut {
			if string(o.PkScript) == string(ours.Script) {
				reward = o.Value
			}
		}
	}
	e.sync(f)
	var cb bool
	if err := e.runner.Pool().QueryRow(e.ctx, `SELECT bool_and(coinbase) FROM btc.deposits`).Scan(&cb); err != nil || !cb {
		t.Fatalf("the coinbase deposit is not marked: %v %v", cb, err)
	}
	// Other blocks may pay us too; only the first one is followed here.
	e.mine(coinbaseMaturity - 2)
	e.sync(f)
	var state string
	var conf int
	first := `SELECT state, confirmations FROM btc.deposits ORDER BY block_height LIMIT 1`
	if err := e.runner.Pool().QueryRow(e.ctx, first).Scan(&state, &conf); err != nil {
		t.Fatal(err)
	}
	if state != Confirmed || conf != coinbaseMaturity-1 {
		t.Fatalf("at %d confirmations the coinbase deposit is %s", conf, state)
	}
	e.mine(1)
	e.sync(f)
	if err := e.runner.Pool().QueryRow(e.ctx, first).Scan(&state, &conf); err != nil {
		t.Fatal(err)
	}
	if state != Credited || conf != coinbaseMaturity {
		t.Fatalf("at %d confirmations the coinbase deposit is %s", conf, state)
	}
	e.invariants()
}

// switchingNode wraps the real node; after a dropped connection it answers
// as another node would (the address now reaches a mainnet node).
type switchingNode struct {
	chain.Node
	down    bool
	network string
}

func (s *switchingNode) Tip(ctx context.Context) (int32, chainhash.Hash, error) {
	if s.down {
		return 0, chainhash.Hash{}, errFlaky
	}
	return s.Node.Tip(ctx)
}

func (s *switchingNode) Network(ctx context.Context) (string, error) {
	if s.network != "" {
		return s.network, nil
	}
	return s.Node.Network(ctx)
}

// The node's network is checked again after every reconnect: a follower
// that reaches a node of another chain stops, naming both.
func TestFollowerRechecksTheNetworkAfterAReconnect(t *testing.T) {
	e := newEnv(t)
	view := &switchingNode{Node: e.chain}
	f := NewFollower(e.ledger, view, Config{Confirmations: 1, StartHeight: -1, Poll: 10 * time.Millisecond}, nil)
	e.sync(f)
	before, err := f.Height(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	view.down = true
	if _, err := f.Step(e.ctx); err == nil {
		t.Fatal("a step against a node that is down succeeded")
	}
	view.down, view.network = false, "mainnet"
	e.mine(1)
	done := make(chan error, 1)
	go func() { done <- f.Run(e.ctx) }()
	select {
	case err := <-done:
		if !errors.Is(err, chain.ErrWrongNetwork) || !strings.Contains(err.Error(), "mainnet") || !strings.Contains(err.Error(), "regtest") {
			t.Fatalf("run stopped with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the follower kept running against a node of another network")
	}
	if after, _ := f.Height(e.ctx); after != before {
		t.Fatalf("the cursor moved from %d to %d on the wrong network", before, after)
	}
}
