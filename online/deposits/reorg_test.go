package deposits

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/chainhash"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/events"
	"github.com/cryptoassets/cryptoassets/online/ledger"
)

func (e *env) peer(other *devenv.Btcd, cmd string) {
	e.t.Helper()
	if cmd == "connect" {
		testenv.Connect(e.t, e.ctx, e.node, other)
	} else {
		testenv.Disconnect(e.t, e.ctx, e.node)
	}
}

func (e *env) waitFor(what string, cond func() bool) { e.t.Helper(); testenv.WaitFor(e.t, what, cond) }

func tip(e *env, n chain.Node) string {
	_, h, err := n.Tip(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return h.String()
}

// Two real nodes are split, mine competing chains, and are joined again.
// The follower must un-confirm, reverse, and re-confirm correctly.
func TestReorgWithTwoNodes(t *testing.T) {
	e := newEnv(t)
	other := testenv.NewNode(t, devenv.BtcdOptions{NoMine: true})
	otherChain := chain.NewRPCNode(other.Client)
	e.peer(other, "connect")
	e.waitFor("the second node to sync", func() bool { return tip(e, e.chain) == tip(e, otherChain) })

	f := e.follower(2)
	e.sync(f)
	erin := e.account("erin", 3)
	frank := e.account("frank", 1)

	// D1: credited before the split; it must survive.
	if _, err := e.faucet.Pay(e.ctx, devenv.Payment{Address: erin[0], Amount: 30_000}); err != nil {
		t.Fatal(err)
	}
	e.mine(2)
	e.waitFor("sync", func() bool { return tip(e, e.chain) == tip(e, otherChain) })
	e.sync(f)

	// Split.
	e.peer(other, "disconnect")
	// D2 pays erin on our side only: its transaction will come back.
	if _, err := e.faucet.Pay(e.ctx, devenv.Payment{Address: erin[1], Amount: 45_000}); err != nil {
		t.Fatal(err)
	}
	// D3 pays frank on our side; the other side confirms a double spend.
	d3 := e.payNow(frank[0], 80_000)
	e.sync(f)
	e.mine(2)
	e.sync(f)
	if st := e.states(); st[Credited] != 3 {
		t.Fatalf("before the reorg: %v", st)
	}
	// Frank spends most of it before the reorg.
	if _, err := e.ledger.Transfer(e.ctx, ledger.TransferRequest{From: "frank", To: "erin", Amount: 60_000}); err != nil {
		t.Fatal(err)
	}
	prev, err := e.chain.Transaction(e.ctx, d3.TxIn[0].PreviousOutPoint.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := devenv.NewFaucet(otherChain).Replace(e.ctx, d3, prev.TxOut[0].Value, nil, 20_000); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Generate(e.ctx, 3); err != nil {
		t.Fatal(err)
	}

	// Join: our node switches to the longer chain.
	e.peer(other, "connect")
	e.waitFor("the reorg", func() bool { return tip(e, e.chain) == tip(e, otherChain) })
	e.sync(f)

	st := e.states()
	// D3's transaction lost to the double spend in the new chain.
	if st[Credited] != 1 || st[Seen]+st[Confirmed] != 1 || st[Replaced] != 1 {
		t.Fatalf("after the reorg: %v", st)
	}
	if av, _ := e.balance("frank"); av != 0 {
		t.Fatalf("frank %d: his remaining 20000 should have been taken back", av)
	}
	losses, err := e.ledger.GetAccount(e.ctx, "internal:reorg_losses")
	if err != nil {
		t.Fatal(err)
	}
	if losses.Available != -60_000 {
		t.Fatalf("reorg losses %d, want -60000 (what frank had already spent)", losses.Available)
	}
	evs, err := events.List(e.ctx, e.runner.Pool(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var alerts int
	for _, ev := range evs {
		if ev.Type != events.DepositReorged {
			continue
		}
		var p map[string]any
		_ = json.Unmarshal(ev.Payload, &p)
		if p["was_credited"] == true && p["alert"] != nil {
			alerts++
		}
	}
	if alerts != 2 {
		t.Fatalf("%d reversal alerts, want 2 (D2 and D3)", alerts)
	}
	e.invariants()

	// D2 confirms again on the new chain and is credited once more.
	e.mine(2)
	e.sync(f)
	st = e.states()
	if st[Credited] != 2 || st[Replaced] != 1 {
		t.Fatalf("after re-confirmation: %v", st)
	}
	if av, _ := e.balance("erin"); av != 30_000+45_000+60_000 {
		t.Fatalf("erin %d", av)
	}
	e.invariants()
}

// hidingNode wraps the real node and hides some transactions from its
// mempool, as Bitcoin Core does with a transaction whose input a confirmed
// conflict spent (btcd keeps such a transaction, so the fault is injected).
type hidingNode struct {
	chain.Node
	hide map[chainhash.Hash]bool
}

func (h *hidingNode) MempoolTxids(ctx context.Context) ([]chainhash.Hash, error) {
	ids, err := h.Node.MempoolTxids(ctx)
	var out []chainhash.Hash
	for _, id := range ids {
		if !h.hide[id] {
			out = append(out, id)
		}
	}
	return out, err
}

// A credited deposit whose transaction vanishes in a reorganisation (its
// input spent by a conflict on the winning chain) becomes reorged, is
// reversed once, and stays reorged.
func TestReorgedDepositThatVanishes(t *testing.T) {
	e := newEnv(t)
	other := testenv.NewNode(t, devenv.BtcdOptions{NoMine: true})
	otherChain := chain.NewRPCNode(other.Client)
	e.peer(other, "connect")
	e.waitFor("sync", func() bool { return tip(e, e.chain) == tip(e, otherChain) })
	view := &hidingNode{Node: e.chain, hide: map[chainhash.Hash]bool{}}
	f := NewFollower(e.ledger, view, Config{Confirmations: 1, StartHeight: -1}, nil)
	e.sync(f)
	ivy := e.account("ivy", 1)

	e.peer(other, "disconnect")
	pay := e.payNow(ivy[0], 25_000)
	e.mine(1)
	e.sync(f)
	if av, _ := e.balance("ivy"); av != 25_000 {
		t.Fatalf("ivy %d before the reorg; states %v", av, e.states())
	}
	prev, err := e.chain.Transaction(e.ctx, pay.TxIn[0].PreviousOutPoint.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := devenv.NewFaucet(otherChain).Replace(e.ctx, pay, prev.TxOut[0].Value, nil, 20_000); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Generate(e.ctx, 2); err != nil {
		t.Fatal(err)
	}
	view.hide[pay.TxHash()] = true
	e.peer(other, "connect")
	e.waitFor("the reorg", func() bool { return tip(e, e.chain) == tip(e, otherChain) })
	e.sync(f)
	e.mine(1)
	e.sync(f)

	if st := e.states(); st[Reorged] != 1 || len(st) != 1 {
		t.Fatalf("states %v", st)
	}
	if av, pend := e.balance("ivy"); av != 0 || pend != 0 {
		t.Fatalf("ivy %d/%d after the deposit vanished", av, pend)
	}
	if ev := e.eventCounts(); ev[events.DepositReorged] != 1 || ev[events.DepositCredited] != 1 {
		t.Fatalf("events %v", ev)
	}
	e.invariants()
}
