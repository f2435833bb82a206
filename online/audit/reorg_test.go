package audit

import (
	"testing"
	"time"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/chain"
)

func (e *env) peer(other *devenv.Btcd, connect bool) {
	e.t.Helper()
	if connect {
		if err := e.node.Client.Call(e.ctx, nil, "node", "connect", other.P2PAddr(), "temp"); err != nil {
			e.t.Fatalf("node connect: %v", err)
		}
		return
	}
	var peers []struct {
		Addr string `json:"addr"`
	}
	if err := e.node.Client.Call(e.ctx, &peers, "getpeerinfo"); err != nil {
		e.t.Fatal(err)
	}
	for _, p := range peers {
		if err := e.node.Client.Call(e.ctx, nil, "node", "disconnect", p.Addr); err != nil {
			e.t.Fatalf("node disconnect %s: %v", p.Addr, err)
		}
	}
	e.waitFor("peers to disconnect", func() bool {
		var peers []any
		_ = e.node.Client.Call(e.ctx, &peers, "getpeerinfo")
		return len(peers) == 0
	})
}

func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *env) sameTip(a, b chain.Node) bool {
	_, ha, err1 := a.Tip(e.ctx)
	_, hb, err2 := b.Tip(e.ctx)
	return err1 == nil && err2 == nil && ha == hb
}

// A reorganisation drops the block holding a booked batch and a credited
// deposit: the audit passes at every moment serve could run it, before the
// batcher has booked the batch back (the follower has moved its spends to
// the mempool), after, and once the batch and the deposit confirm again.
func TestAuditPassesThroughAReorgOfABookedBatch(t *testing.T) {
	e := newEnv(t)
	other := testenv.NewNode(t, devenv.BtcdOptions{NoMine: true})
	otherChain := chain.NewRPCNode(other.Client)
	e.peer(other, true)
	e.waitFor("the second node to sync", func() bool { return e.sameTip(e.chain, otherChain) })
	e.pay("erin", 3_000_000)
	e.mine(1)
	e.waitFor("sync", func() bool { return e.sameTip(e.chain, otherChain) })
	e.requireClean(e.audit())

	// Split: a batch and a deposit confirmed (and booked, credited) on our
	// side only.
	e.peer(other, false)
	e.request("erin", outside(t, 21), 1_000_000)
	e.step()
	e.pay("frank", 600_000)
	e.mine(1)
	e.step()
	if n := e.count(`SELECT count(*) FROM btc.batches WHERE ledger_tx_id IS NOT NULL`); n != 1 {
		t.Fatalf("%d batches booked before the reorg", n)
	}
	if n := e.count(`SELECT count(*) FROM btc.deposits WHERE state = 'credited'`); n != 2 {
		t.Fatalf("%d deposits credited before the reorg", n)
	}
	e.requireClean(e.audit())

	if _, err := other.Generate(e.ctx, 2); err != nil {
		t.Fatal(err)
	}
	e.peer(other, true)
	e.waitFor("the reorg", func() bool { return e.sameTip(e.chain, otherChain) })
	e.sync()
	// The follower has undone the block; the batcher has not looked yet.
	if n := e.count(`SELECT count(*) FROM btc.batches WHERE ledger_tx_id IS NOT NULL`); n != 1 {
		t.Fatalf("%d batches booked right after the reorg, want the one not yet booked back", n)
	}
	e.requireClean(e.audit())
	e.step()
	if n := e.count(`SELECT count(*) FROM btc.batches WHERE ledger_tx_id IS NOT NULL`); n != 0 {
		t.Fatalf("%d batches booked after the batcher saw the reorg", n)
	}
	r := e.audit()
	e.requireClean(r)
	if len(r.InFlight) != 1 {
		t.Fatalf("in flight after the reorg: %+v, want the batch", r.InFlight)
	}
	e.mine(1)
	e.step()
	r = e.audit()
	e.requireClean(r)
	if len(r.InFlight) != 0 || e.count(`SELECT count(*) FROM btc.deposits WHERE state = 'credited'`) != 2 {
		t.Fatalf("after the new block: in flight %+v", r.InFlight)
	}
}
