package deposits

import (
	"context"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/events"
)

// prevValue is the value of the output tx's first input spends (a faucet
// coinbase), which Faucet.Replace needs.
func (e *env) prevValue(tx *wire.MsgTx) int64 {
	e.t.Helper()
	prev, err := e.chain.Transaction(e.ctx, tx.TxIn[0].PreviousOutPoint.Hash)
	if err != nil {
		e.t.Fatal(err)
	}
	return prev.TxOut[tx.TxIn[0].PreviousOutPoint.Index].Value
}

// A fee bump that pays the same address replaces the original deposit: one
// replaced, one credited, the pending balance back to zero.
func TestFeeBumpToTheSameAddressLive(t *testing.T) {
	e := newEnv(t)
	f := e.follower(1)
	e.sync(f)
	lee := e.account("lee", 1)
	orig := e.payNow(lee[0], 40_000)
	e.sync(f)
	if _, pend := e.balance("lee"); pend != 40_000 {
		t.Fatalf("lee pending %d", pend)
	}
	if _, err := e.faucet.Replace(e.ctx, orig, e.prevValue(orig), []devenv.Payment{{Address: lee[0], Amount: 40_000}}, 30_000); err != nil {
		t.Fatal(err)
	}
	e.sync(f)
	if st := e.states(); st[Replaced] != 1 || st[Seen] != 1 {
		t.Fatalf("after the fee bump: %v", st)
	}
	if _, pend := e.balance("lee"); pend != 40_000 {
		t.Fatalf("lee pending %d after the fee bump, want 40000 (the replacement only)", pend)
	}
	e.mine(1)
	e.sync(f)
	if st := e.states(); st[Replaced] != 1 || st[Credited] != 1 || len(st) != 2 {
		t.Fatalf("after the replacement confirmed: %v", st)
	}
	if av, pend := e.balance("lee"); av != 40_000 || pend != 0 {
		t.Fatalf("lee %d/%d", av, pend)
	}
	if ev := e.eventCounts(); ev[events.DepositReplaced] != 1 || ev[events.DepositCredited] != 1 {
		t.Fatalf("events %v", ev)
	}
	e.invariants()
}

// The same fee bump while the service is down, found by a new process
// whether the replacement is still in the mempool or already mined.
func TestFeeBumpToTheSameAddressAcrossARestart(t *testing.T) {
	for _, mined := range []bool{false, true} {
		name := "replacement in the mempool"
		if mined {
			name = "replacement mined while down"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			f := e.follower(1)
			e.sync(f)
			mia := e.account("mia", 1)
			orig := e.payNow(mia[0], 55_000)
			e.sync(f)
			// The service stops; the customer bumps the fee.
			if _, err := e.faucet.Replace(e.ctx, orig, e.prevValue(orig), []devenv.Payment{{Address: mia[0], Amount: 55_000}}, 30_000); err != nil {
				t.Fatal(err)
			}
			if mined {
				e.mine(2)
			}
			restarted := e.follower(1)
			e.sync(restarted)
			if !mined {
				if st := e.states(); st[Replaced] != 1 || st[Seen] != 1 {
					t.Fatalf("after restart: %v", st)
				}
				e.mine(1)
				e.sync(restarted)
			}
			if st := e.states(); st[Replaced] != 1 || st[Credited] != 1 || len(st) != 2 {
				t.Fatalf("after restart: %v", st)
			}
			if av, pend := e.balance("mia"); av != 55_000 || pend != 0 {
				t.Fatalf("mia %d/%d", av, pend)
			}
			if ev := e.eventCounts(); ev[events.DepositReplaced] != 1 {
				t.Fatalf("events %v", ev)
			}
			e.invariants()
		})
	}
}

// A mempool deposit whose write failed is recorded by the next scan: its
// txid is not marked examined before the write commits.
func TestMempoolDepositRecordedAfterAFailedWrite(t *testing.T) {
	e := newEnv(t)
	f := e.follower(1)
	e.sync(f)
	nora := e.account("nora", 1)
	// A real database error, injected: inserts into deposits fail until the
	// trigger is dropped.
	if _, err := e.runner.Pool().Exec(e.ctx, `CREATE FUNCTION btc.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'injected: disk full'; END $$;
		CREATE TRIGGER refuse BEFORE INSERT ON btc.deposits FOR EACH ROW EXECUTE FUNCTION btc.refuse()`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.faucet.Pay(e.ctx, devenv.Payment{Address: nora[0], Amount: 21_000}); err != nil {
		t.Fatal(err)
	}
	if err := f.SyncToTip(e.ctx); err == nil || !strings.Contains(err.Error(), "injected") {
		t.Fatalf("sync with a failing database: %v", err)
	}
	if _, err := e.runner.Pool().Exec(e.ctx, `DROP TRIGGER refuse ON btc.deposits`); err != nil {
		t.Fatal(err)
	}
	e.sync(f)
	if st := e.states(); st[Seen] != 1 {
		t.Fatalf("after the database recovered: %v", st)
	}
	if ev := e.eventCounts(); ev[events.DepositSeen] != 1 {
		t.Fatalf("events %v", ev)
	}
	e.invariants()
}

// One zero-value output to one of our addresses must not stop the chain:
// the other deposits of its transaction, its block and later blocks are
// credited.
func TestZeroValueOutputDoesNotStopTheFollower(t *testing.T) {
	e := newEnv(t)
	f := e.follower(1)
	e.sync(f)
	olga := e.account("olga", 3)
	if _, err := e.faucet.Pay(e.ctx, devenv.Payment{Address: olga[0], Amount: 0}, devenv.Payment{Address: olga[1], Amount: 5_000}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.faucet.Pay(e.ctx, devenv.Payment{Address: olga[2], Amount: 7_000}); err != nil {
		t.Fatal(err)
	}
	e.sync(f)
	e.mine(1)
	e.sync(f)
	if _, err := e.faucet.Pay(e.ctx, devenv.Payment{Address: olga[0], Amount: 9_000}); err != nil {
		t.Fatal(err)
	}
	e.mine(1)
	e.sync(f)
	if st := e.states(); st[Credited] != 3 || len(st) != 1 {
		t.Fatalf("states %v", st)
	}
	if av, pend := e.balance("olga"); av != 21_000 || pend != 0 {
		t.Fatalf("olga %d/%d", av, pend)
	}
	var reason string
	if err := e.runner.Pool().QueryRow(e.ctx, `SELECT reason FROM btc.ignored_outputs WHERE amount = 0`).Scan(&reason); err != nil || reason != ReasonZeroValue {
		t.Fatalf("the zero-value output is recorded as %q, %v", reason, err)
	}
	e.invariants()
}

// pausingNode wraps the real node and runs a hook once when a chosen block
// is fetched: a rescan that has read the block and is about to write it.
type pausingNode struct {
	chain.Node
	at   chainhash.Hash
	hook func()
}

func (p *pausingNode) Block(ctx context.Context, h chainhash.Hash) (*wire.MsgBlock, error) {
	b, err := p.Node.Block(ctx, h)
	if h == p.at && p.hook != nil {
		hook := p.hook
		p.hook = nil
		hook()
	}
	return b, err
}

// A rescan beside the live follower, through a reorganisation that
// double-spends a deposit, must never credit it.
func TestRescanBesideFollowerThroughReorgNeverCreditsDoubleSpend(t *testing.T) {
	e := newEnv(t)
	other := testenv.NewNode(t, devenv.BtcdOptions{NoMine: true})
	otherChain := chain.NewRPCNode(other.Client)
	e.peer(other, "connect")
	e.waitFor("sync", func() bool { return tip(e, e.chain) == tip(e, otherChain) })
	live := e.follower(2)
	e.sync(live)
	pia := e.account("pia", 1)

	e.peer(other, "disconnect")
	pay := e.payNow(pia[0], 33_000)
	e.mine(1)
	e.sync(live)
	height, err := live.Height(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	stale, err := e.chain.BlockHash(e.ctx, height)
	if err != nil {
		t.Fatal(err)
	}
	if st := e.states(); st[Confirmed] != 1 {
		t.Fatalf("before the reorg: %v", st)
	}
	// The other side double-spends the deposit on a longer chain.
	if _, err := devenv.NewFaucet(otherChain).Replace(e.ctx, pay, e.prevValue(pay), nil, 20_000); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Generate(e.ctx, 2); err != nil {
		t.Fatal(err)
	}
	// The rescan reads the deposit's block, then the reorganisation
	// happens and the live follower processes it before the rescan writes.
	view := &pausingNode{Node: e.chain, at: stale, hook: func() {
		e.peer(other, "connect")
		e.waitFor("the reorg", func() bool { return tip(e, e.chain) == tip(e, otherChain) })
		e.sync(live)
	}}
	rescan := NewFollower(e.ledger, view, Config{Confirmations: 2, StartHeight: -1}, nil)
	n, err := rescan.Rescan(e.ctx, height, nil)
	t.Logf("rescan found %d, %v", n, err)
	if view.hook != nil {
		t.Fatal("the reorganisation did not happen during the rescan")
	}
	e.mine(2)
	e.sync(live)
	if st := e.states(); st[Credited] != 0 || st[Confirmed] != 0 {
		t.Fatalf("the double-spent deposit: %v", st)
	}
	if av, pend := e.balance("pia"); av != 0 || pend != 0 {
		t.Fatalf("pia %d/%d", av, pend)
	}
	if ev := e.eventCounts(); ev[events.DepositCredited] != 0 {
		t.Fatalf("events %v", ev)
	}
	e.invariants()
}

// A follower whose asset is recorded as mainnet refuses a regtest node,
// naming both networks, and writes nothing.
func TestFollowerRefusesANodeOnAnotherNetwork(t *testing.T) {
	e := newEnv(t)
	if _, err := e.runner.Pool().Exec(e.ctx, `UPDATE public.assets SET network = 'mainnet' WHERE schema_name = 'btc'`); err != nil {
		t.Fatal(err)
	}
	f := e.follower(1)
	err := f.SyncToTip(e.ctx)
	if err == nil || !strings.Contains(err.Error(), "mainnet") || !strings.Contains(err.Error(), "regtest") {
		t.Fatalf("a mainnet asset on a regtest node: %v", err)
	}
	if h, err := f.Height(e.ctx); err != nil || h != -1 {
		t.Fatalf("cursor %d, %v: nothing may be written", h, err)
	}
}

// The runbook's "move the cursor back and rescan", done right after a
// reorganisation the follower has not processed yet: the deposit left in
// the stale block is never credited.
func TestCursorMovedBackAcrossAReorgNeverCreditsTheStaleDeposit(t *testing.T) {
	e := newEnv(t)
	other := testenv.NewNode(t, devenv.BtcdOptions{NoMine: true})
	otherChain := chain.NewRPCNode(other.Client)
	e.peer(other, "connect")
	e.waitFor("sync", func() bool { return tip(e, e.chain) == tip(e, otherChain) })
	f := e.follower(2)
	e.sync(f)
	uma := e.account("uma", 1)
	e.peer(other, "disconnect")
	pay := e.payNow(uma[0], 44_000)
	e.mine(1)
	e.sync(f)
	height, err := f.Height(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := devenv.NewFaucet(otherChain).Replace(e.ctx, pay, e.prevValue(pay), nil, 20_000); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Generate(e.ctx, 2); err != nil {
		t.Fatal(err)
	}
	e.peer(other, "connect")
	e.waitFor("the reorg", func() bool { return tip(e, e.chain) == tip(e, otherChain) })
	// The operator moves the cursor back below the deposit's block.
	if _, err := e.runner.Pool().Exec(e.ctx, `UPDATE btc.chain_cursor SET height = $1, hash = (SELECT hash FROM btc.chain_blocks WHERE height = $1)`, height-1); err != nil {
		t.Fatal(err)
	}
	restarted := e.follower(2)
	e.sync(restarted)
	e.mine(2)
	e.sync(restarted)
	if st := e.states(); st[Credited] != 0 || st[Confirmed] != 0 {
		t.Fatalf("the double-spent deposit: %v", st)
	}
	if av, _ := e.balance("uma"); av != 0 {
		t.Fatalf("uma available %d", av)
	}
	e.invariants()
}
