package deposits

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/storetest"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/addresses"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/chain/rpc"
	"github.com/cryptoassets/cryptoassets/online/events"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// reorgingNode is the real node, except that when the follower first asks
// for the block at height at (by the hash it was given for it, or for that
// height's hash one at a time), the node is first switched to the other
// chain (reorg): the hashes and blocks fetched before belong to the old
// chain, and so does the block asked for by its old hash.
type reorgingNode struct {
	chain.Node
	at     int32
	atHash *chainhash.Hash
	once   sync.Once
	reorg  func()
	fired  bool
}

func (n *reorgingNode) fire() { n.once.Do(func() { n.reorg(); n.fired = true }) }

func (n *reorgingNode) BlockHash(ctx context.Context, h int32) (chainhash.Hash, error) {
	if h == n.at {
		n.fire()
	}
	return n.Node.BlockHash(ctx, h)
}

func (n *reorgingNode) BlockHashes(ctx context.Context, from, to int32) ([]chainhash.Hash, error) {
	hs, err := n.Node.BlockHashes(ctx, from, to)
	if err == nil && from <= n.at && n.at < from+int32(len(hs)) {
		n.atHash = &hs[n.at-from]
	}
	return hs, err
}

func (n *reorgingNode) Block(ctx context.Context, hash chainhash.Hash) (*wire.MsgBlock, error) {
	if n.atHash != nil && hash == *n.atHash {
		n.fire()
	}
	return n.Node.Block(ctx, hash)
}

const chainLock = `hashtextextended('cryptoassets.chain.' || 'btc', 0)`

// A reorganisation in the middle of a catch-up: the blocks fetched ahead,
// waiting while nothing was committed yet, are the old chain's, and so is
// the last, asked for by the hash fetched before the switch (the node keeps
// stale blocks). The old blocks are committed (the deposit in them
// credited), and the next step unwinds them and follows the new chain: no
// deposit credited from a block the chain no longer has.
func TestCatchUpReorgUnderThePipelinedFetchUnwindsTheBlocksFetchedAhead(t *testing.T) {
	e := newEnv(t)
	other := testenv.NewNode(t, devenv.BtcdOptions{NoMine: true})
	otherChain := chain.NewRPCNode(other.Client)
	e.peer(other, "connect")
	e.waitFor("the second node to sync", func() bool { return tip(e, e.chain) == tip(e, otherChain) })
	dana := e.account("dana", 1)

	node := &reorgingNode{Node: e.chain, at: -1}
	f := NewFollower(e.ledger, node, Config{Confirmations: 1, StartHeight: -1}, nil)
	e.sync(f)
	split, _, err := e.chain.Tip(e.ctx)
	if err != nil {
		t.Fatal(err)
	}

	// Our side: D in the first block after the split, three blocks in all.
	// The other side: five blocks without D.
	e.peer(other, "disconnect")
	d := e.payNow(dana[0], 40_000)
	e.mine(3)
	if _, err := other.Generate(e.ctx, 5); err != nil {
		t.Fatal(err)
	}

	// The chain lock held here keeps the follower from committing anything
	// until the node has switched chains.
	conn, err := e.runner.Pool().Acquire(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(e.ctx, `SELECT pg_advisory_lock(`+chainLock+`)`); err != nil {
		t.Fatal(err)
	}
	cursorAtReorg := int32(-2)
	node.at = split + 3
	node.reorg = func() {
		if h, err := f.Height(e.ctx); err == nil {
			cursorAtReorg = h
		}
		testenv.Connect(t, e.ctx, e.node, other)
		testenv.WaitFor(t, "the reorg", func() bool { return testenv.SameTip(e.ctx, e.chain, otherChain) })
		if _, err := conn.Exec(e.ctx, `SELECT pg_advisory_unlock(`+chainLock+`)`); err != nil {
			t.Error(err)
		}
	}
	e.sync(f)

	if !node.fired {
		t.Fatal("the catch-up never asked for the last block after the ones fetched ahead")
	}
	if cursorAtReorg != split {
		t.Fatalf("cursor at %d when the chain switched, want %d: blocks %d and %d were not fetched ahead of their commit",
			cursorAtReorg, split, split+1, split+2)
	}
	// The stored chain is the node's.
	top, _, err := e.chain.Tip(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if top != split+5 {
		t.Fatalf("node at %d, want the other chain's %d", top, split+5)
	}
	if h, err := f.Height(e.ctx); err != nil || h != top {
		t.Fatalf("follower at %d (%v), want %d", h, err, top)
	}
	for h := split; h <= top; h++ {
		want, err := e.chain.BlockHash(e.ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		var got []byte
		if err := e.runner.Pool().QueryRow(e.ctx, `SELECT hash FROM btc.chain_blocks WHERE height = $1`, h).Scan(&got); err != nil {
			t.Fatalf("height %d: %v", h, err)
		}
		if chainhash.Hash(got) != want {
			t.Fatalf("height %d: stored %x, node %s", h, got, want)
		}
	}
	// D was credited from the old chain's block, then reversed.
	evs, err := events.List(e.ctx, e.runner.Pool(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var credited, reversed int
	for _, ev := range evs {
		var p map[string]any
		_ = json.Unmarshal(ev.Payload, &p)
		if p["txid"] != d.TxHash().String() {
			continue
		}
		switch {
		case ev.Type == events.DepositCredited:
			credited++
		case ev.Type == events.DepositReorged && p["was_credited"] == true:
			reversed++
		}
	}
	if credited != 1 || reversed != 1 {
		t.Fatalf("D credited %d times and reversed %d times, want once each", credited, reversed)
	}
	if st := e.states(); st[Seen] != 1 || len(st) != 1 {
		t.Fatalf("states %v: D is back in the mempool only", st)
	}
	if av, pend := e.balance("dana"); av != 0 || pend != 40_000 {
		t.Fatalf("dana %d/%d, want 0/40000", av, pend)
	}
	e.invariants()
}

// Environment of the child process TestFollowerKilledMidCatchUp starts.
const (
	childDSN   = "CRYPTOASSETS_DEPOSITS_CHILD_DSN"
	childRPC   = "CRYPTOASSETS_DEPOSITS_CHILD_RPC"
	childStart = "CRYPTOASSETS_DEPOSITS_CHILD_START"
)

// catchUpChild is the follower process the test kills: it catches up on
// the test's database and node, and would say "synced" at the end.
func catchUpChild(t *testing.T) {
	ctx := context.Background()
	pool, err := store.Open(ctx, os.Getenv(childDSN), 4)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.New(store.NewRunner(pool, store.RunnerConfig{}, nil), "btc")
	if err != nil {
		t.Fatal(err)
	}
	client, err := rpc.New(rpc.Config{URL: os.Getenv(childRPC), User: devenv.RPCUser, Password: devenv.RPCPassword, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	start, _ := strconv.Atoi(os.Getenv(childStart))
	f := NewFollower(l, chain.NewRPCNode(client), Config{Confirmations: 3, StartHeight: int32(start)}, nil)
	if err := f.SyncToTip(ctx); err != nil {
		t.Fatal(err)
	}
	fmt.Println("synced")
}

// A follower process killed by SIGKILL in the middle of a catch-up (with
// several blocks per transaction and the next ones fetched ahead) leaves
// the blocks up to its cursor recorded and none after; a new follower
// finishes the catch-up, and every deposit is recorded, credited and
// reported once.
func TestFollowerKilledMidCatchUp(t *testing.T) {
	if os.Getenv(childDSN) != "" {
		catchUpChild(t)
		return
	}
	const blocks = 200
	dsn := testenv.NewDatabase(t)
	e := newEnvOn(t, dsn)
	eve := e.account("eve", 10)
	start, _, err := e.chain.Tip(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	for i := 0; i < blocks; i++ {
		amount := int64(10_000 + i)
		if _, err := e.faucet.Pay(e.ctx, devenv.Payment{Address: eve[i%len(eve)], Amount: amount}); err != nil {
			t.Fatal(err)
		}
		e.mine(1)
		want += amount
	}
	e.mine(2) // the last deposits reach their confirmations too
	top := start + blocks + 2

	cmd := exec.CommandContext(e.ctx, os.Args[0], "-test.run=^TestFollowerKilledMidCatchUp$", "-test.count=1")
	cmd.Env = append(os.Environ(), childDSN+"="+dsn, childRPC+"="+e.node.RPCURL(), childStart+"="+strconv.Itoa(int(start)))
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f := NewFollower(e.ledger, e.chain, Config{Confirmations: 3, StartHeight: start}, nil)
	killedAt := int32(-1)
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		h, err := f.Height(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if h >= start+20 {
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
			killedAt = h
			break
		}
	}
	_ = cmd.Wait()
	if killedAt < 0 {
		t.Fatalf("the child never got 20 blocks in:\n%s", out.String())
	}
	h, err := f.Height(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h >= top {
		t.Fatalf("the child caught up to %d before it was killed (at %d): nothing was interrupted\n%s", h, killedAt, out.String())
	}
	// What the killed process committed is whole: every block up to its
	// cursor and each block's deposit, nothing after.
	var stored, deposits, beyond int
	if err := e.runner.Pool().QueryRow(e.ctx, `SELECT (SELECT count(*) FROM btc.chain_blocks WHERE height > $1),
		(SELECT count(*) FROM btc.deposits), (SELECT count(*) FROM btc.chain_blocks WHERE height > $2)`, start, h).Scan(&stored, &deposits, &beyond); err != nil {
		t.Fatal(err)
	}
	if stored != int(h-start) || deposits != min(int(h-start), blocks) || beyond != 0 {
		t.Fatalf("killed at cursor %d: %d blocks and %d deposits stored above %d (%d beyond the cursor), want %d, %d and 0",
			h, stored, deposits, start, beyond, h-start, min(int(h-start), blocks))
	}
	e.invariants()

	e.sync(f)
	if st := e.states(); st[Credited] != blocks || len(st) != 1 {
		t.Fatalf("states %v, want %d credited", st, blocks)
	}
	if av, pend := e.balance("eve"); av != want || pend != 0 {
		t.Fatalf("eve %d/%d, want %d/0", av, pend, want)
	}
	if n := e.eventCounts(); n[events.DepositSeen] != blocks || n[events.DepositCredited] != blocks {
		t.Fatalf("events %v, want %d seen and %d credited", n, blocks, blocks)
	}
	e.invariants()
	t.Logf("killed with the cursor at %d of %d", h-start, blocks)
}

// newEnvOn is newEnv on the database at dsn.
func newEnvOn(t *testing.T, dsn string) *env {
	t.Helper()
	ctx := testenv.Ctx(t, 5*time.Minute)
	node := testenv.NewNode(t, devenv.BtcdOptions{})
	runner := storetest.RunnerOn(t, dsn, 16, "btc")
	l, err := ledger.New(runner, "btc")
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := addresses.NewIssuer(ctx, l, testKey{seed: "deposits-test"})
	if err != nil {
		t.Fatal(err)
	}
	cn := chain.NewRPCNode(node.Client)
	return &env{t: t, ctx: ctx, node: node, chain: cn, faucet: devenv.NewFaucet(cn), runner: runner, ledger: l, issuer: issuer}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	return len(p), nil
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b)
}
