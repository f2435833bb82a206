package deposits

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/storetest"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/addresses"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/events"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// testKey derives P2WPKH addresses from a fixed seed: a stand-in for the
// hot wallet's account key that needs no BIP32 code.
type testKey struct{ seed string }

func (k testKey) Derive(branch, index uint32) (addresses.Derived, error) {
	var buf [8]byte
	binary.BigEndian.PutUint32(buf[:4], branch)
	binary.BigEndian.PutUint32(buf[4:], index)
	sum := sha256.Sum256(append([]byte(k.seed), buf[:]...))
	_, pub := btcec.PrivKeyFromBytes(sum[:])
	a, err := btcutil.NewAddressWitnessPubKeyHash(btcutil.Hash160(pub.SerializeCompressed()), &chaincfg.RegressionNetParams)
	if err != nil {
		return addresses.Derived{}, err
	}
	script, _ := txscript.PayToAddrScript(a)
	return addresses.Derived{Address: a.EncodeAddress(), Script: script, Path: fmt.Sprintf("test/%d/%d", branch, index)}, nil
}
func (k testKey) Descriptor() string { return "test(" + k.seed + ")" }
func (k testKey) ScriptType() string { return "p2wpkh" }

type env struct {
	t      testing.TB
	ctx    context.Context
	node   *devenv.Btcd
	chain  chain.Node
	faucet *devenv.Faucet
	runner *store.Runner
	ledger *ledger.Ledger
	issuer *addresses.Issuer
}

func newEnv(t *testing.T) *env { return newEnvB(t) }

func newEnvB(t testing.TB) *env { return newEnvWith(t, devenv.BtcdOptions{}) }

func newEnvWith(t testing.TB, opt devenv.BtcdOptions) *env {
	t.Helper()
	ctx := testenv.Ctx(t, 5*time.Minute)
	node := testenv.NewNode(t, opt)
	runner := storetest.Runner(t, 16, "btc")
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

func (e *env) follower(confirmations int) *Follower {
	return NewFollower(e.ledger, e.chain, Config{Confirmations: confirmations, StartHeight: -1}, nil)
}

// payNow builds a faucet payment of amount to addr (at 10 sat/vB) and
// broadcasts it, unconfirmed.
func (e *env) payNow(addr string, amount int64) *wire.MsgTx {
	e.t.Helper()
	tx, err := e.faucet.Build(e.ctx, []devenv.Payment{{Address: addr, Amount: amount}}, 10_000)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.chain.Broadcast(e.ctx, tx); err != nil {
		e.t.Fatal(err)
	}
	return tx
}

func (e *env) account(name string, n int) []string {
	e.t.Helper()
	if _, err := e.ledger.CreateAccount(e.ctx, name); err != nil {
		e.t.Fatal(err)
	}
	as, err := e.issuer.NewAddresses(e.ctx, name, "", n)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, a := range as {
		out = append(out, a.Address)
	}
	return out
}

func (e *env) sync(f *Follower) {
	e.t.Helper()
	if err := f.SyncToTip(e.ctx); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) mineB(_ testing.TB, n int) { e.mine(n) }

func (e *env) mine(n int) {
	e.t.Helper()
	if _, err := e.node.Generate(e.ctx, n); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) balance(name string) (int64, int64) {
	e.t.Helper()
	a, err := e.ledger.GetAccount(e.ctx, name)
	if err != nil {
		e.t.Fatal(err)
	}
	return a.Available, a.Pending
}

// states counts deposits by state.
func (e *env) states() map[string]int {
	e.t.Helper()
	rows, err := e.runner.Pool().Query(e.ctx, `SELECT state, count(*) FROM btc.deposits GROUP BY state`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			e.t.Fatal(err)
		}
		out[s] = n
	}
	return out
}

// eventCounts counts events by type.
func (e *env) eventCounts() map[string]int {
	e.t.Helper()
	evs, err := events.List(e.ctx, e.runner.Pool(), 0, 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]int{}
	for _, ev := range evs {
		out[ev.Type]++
		var p map[string]any
		if err := json.Unmarshal(ev.Payload, &p); err != nil {
			e.t.Fatal(err)
		}
		for _, k := range []string{"event_id", "type", "asset", "account", "address", "txid", "vout", "amount_sat", "confirmations", "credited"} {
			if _, ok := p[k]; !ok {
				e.t.Fatalf("event %d (%s) lacks %q: %s", ev.ID, ev.Type, k, ev.Payload)
			}
		}
	}
	return out
}

// invariants checks the ledger and that no deposit was credited twice.
func (e *env) invariants() {
	e.t.Helper()
	if err := e.ledger.Check(e.ctx); err != nil {
		e.t.Fatal(err)
	}
	var dup int
	if err := e.runner.Pool().QueryRow(e.ctx, `SELECT count(*) FROM (
		SELECT memo FROM btc.ledger_transactions WHERE kind = 'deposit.credit' GROUP BY memo HAVING count(*) >
		1 + (SELECT count(*) FROM btc.ledger_transactions r WHERE r.kind = 'deposit.reversal' AND r.memo = ledger_transactions.memo)) x`).Scan(&dup); err != nil {
		e.t.Fatal(err)
	}
	if dup != 0 {
		e.t.Fatalf("%d deposits credited more often than reversed + 1", dup)
	}
	// Every credited deposit's amount is in its account's available balance
	// unless moved away by a recorded ledger transaction: checked by Check's
	// conservation; here: credited deposits equal credit postings minus reversals.
	var credited, posted int64
	if err := e.runner.Pool().QueryRow(e.ctx, `SELECT coalesce(sum(amount), 0) FROM btc.deposits WHERE state = 'credited'`).Scan(&credited); err != nil {
		e.t.Fatal(err)
	}
	if err := e.runner.Pool().QueryRow(e.ctx, `SELECT coalesce(-sum(e.available_delta), 0) FROM btc.ledger_entries e
		JOIN btc.accounts a ON a.id = e.account_id WHERE a.kind = 'hot_wallet'`).Scan(&posted); err != nil {
		e.t.Fatal(err)
	}
	if credited != posted {
		e.t.Fatalf("credited deposits total %d, the hot wallet's available postings %d", credited, posted)
	}
}

func TestManyDepositsInOneBlockAndAcrossBlocks(t *testing.T) {
	e := newEnv(t)
	f := e.follower(3)
	e.sync(f)
	alice := e.account("alice", 20)
	bob := e.account("bob", 5)

	// One transaction paying twenty of alice's addresses, and bob paid in
	// three separate transactions.
	var pays []devenv.Payment
	for i, a := range alice {
		pays = append(pays, devenv.Payment{Address: a, Amount: int64(10_000 + i)})
	}
	if _, err := e.faucet.Pay(e.ctx, pays...); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := e.faucet.Pay(e.ctx, devenv.Payment{Address: bob[i], Amount: 50_000}); err != nil {
			t.Fatal(err)
		}
	}
	e.sync(f)
	if st := e.states(); st[Seen] != 23 {
		t.Fatalf("after the mempool scan: %v", st)
	}
	if av, pend := e.balance("alice"); av != 0 || pend != 20*10_000+190 {
		t.Fatalf("alice pending %d available %d", pend, av)
	}
	e.mine(1)
	// Another payment to bob lands in the next block.
	if _, err := e.faucet.Pay(e.ctx, devenv.Payment{Address: bob[3], Amount: 70_000}); err != nil {
		t.Fatal(err)
	}
	e.mine(1)
	e.sync(f)
	if st := e.states(); st[Confirmed] != 24 {
		t.Fatalf("after two blocks: %v", st)
	}
	e.mine(1)
	e.sync(f)
	st := e.states()
	if st[Credited] != 23 || st[Confirmed] != 1 {
		t.Fatalf("after three blocks: %v", st)
	}
	if av, pend := e.balance("bob"); av != 150_000 || pend != 70_000 {
		t.Fatalf("bob available %d pending %d", av, pend)
	}
	e.mine(1)
	e.sync(f)
	e.sync(f) // idempotent
	if av, pend := e.balance("alice"); av != 20*10_000+190 || pend != 0 {
		t.Fatalf("alice available %d pending %d", av, pend)
	}
	if av, _ := e.balance("bob"); av != 220_000 {
		t.Fatalf("bob available %d", av)
	}
	ev := e.eventCounts()
	if ev[events.DepositSeen] != 24 || ev[events.DepositCredited] != 24 {
		t.Fatalf("events %v", ev)
	}
	e.invariants()
}

func TestDepositsMadeWhileStoppedAreCredited(t *testing.T) {
	e := newEnv(t)
	f := e.follower(2)
	e.sync(f)
	carol := e.account("carol", 4)
	// The service is down: payments are made and blocks mined.
	for i, a := range carol {
		if _, err := e.faucet.Pay(e.ctx, devenv.Payment{Address: a, Amount: int64(20_000 * (i + 1))}); err != nil {
			t.Fatal(err)
		}
		e.mine(1)
	}
	e.mine(2)
	// A new process: fresh memory, the same database.
	restarted := e.follower(2)
	e.sync(restarted)
	if st := e.states(); st[Credited] != 4 {
		t.Fatalf("after restart: %v", st)
	}
	if av, _ := e.balance("carol"); av != 20_000*(1+2+3+4) {
		t.Fatalf("carol %d", av)
	}
	e.invariants()
}

func TestReplacedInMempool(t *testing.T) {
	e := newEnv(t)
	f := e.follower(1)
	e.sync(f)
	dave := e.account("dave", 1)
	tx := e.payNow(dave[0], 40_000)
	e.sync(f)
	if _, pend := e.balance("dave"); pend != 40_000 {
		t.Fatalf("dave pending %d", pend)
	}
	prev, err := e.chain.Transaction(e.ctx, tx.TxIn[0].PreviousOutPoint.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.faucet.Replace(e.ctx, tx, prev.TxOut[0].Value, nil, 100_000); err != nil {
		t.Fatal(err)
	}
	e.sync(f)
	if st := e.states(); st[Replaced] != 1 {
		t.Fatalf("states %v", st)
	}
	if av, pend := e.balance("dave"); av != 0 || pend != 0 {
		t.Fatalf("dave %d/%d after replacement", av, pend)
	}
	if ev := e.eventCounts(); ev[events.DepositReplaced] != 1 {
		t.Fatalf("events %v", ev)
	}
	e.mine(1)
	e.sync(f)
	if st := e.states(); st[Replaced] != 1 || st[Credited] != 0 {
		t.Fatalf("after the replacement confirmed: %v", st)
	}
	e.invariants()
}

// An address added to the database after its payment confirmed is found by
// a rescan, once; a second rescan changes nothing.
func TestRescanFindsMissedDeposit(t *testing.T) {
	e := newEnv(t)
	f := e.follower(1)
	e.sync(f)
	start, err := f.Height(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Pay an address the service has not handed out yet.
	if _, err := e.ledger.CreateAccount(e.ctx, "gina"); err != nil {
		t.Fatal(err)
	}
	next, err := testKey{seed: "deposits-test"}.Derive(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.faucet.Pay(e.ctx, devenv.Payment{Address: next.Address, Amount: 12_345}); err != nil {
		t.Fatal(err)
	}
	e.mine(3)
	e.sync(f)
	if st := e.states(); len(st) != 0 {
		t.Fatalf("nothing should be recorded yet: %v", st)
	}
	// Now it is handed out (index 0 is that address), and a rescan finds the payment.
	as, err := e.issuer.NewAddresses(e.ctx, "gina", "", 1)
	if err != nil || as[0].Address != next.Address {
		t.Fatalf("issued %v %v", as, err)
	}
	var calls int
	n, err := f.Rescan(e.ctx, start, func(done, total int) { calls++ })
	if err != nil || n != 1 {
		t.Fatalf("rescan found %d, %v", n, err)
	}
	if calls == 0 {
		t.Fatal("no progress reported")
	}
	if av, _ := e.balance("gina"); av != 12_345 {
		t.Fatalf("gina %d", av)
	}
	if n, err := f.Rescan(e.ctx, start, nil); err != nil || n != 0 {
		t.Fatalf("second rescan found %d, %v", n, err)
	}
	if _, err := f.Rescan(e.ctx, start+100, nil); err == nil {
		t.Fatal("a rescan ahead of the follower must be refused")
	}
	e.invariants()
}

// flakyNode wraps the real node and fails every third call, as a node that
// restarts or a network that drops would.
type flakyNode struct {
	chain.Node
	calls int
}

var errFlaky = fmt.Errorf("injected: connection refused")

func (f *flakyNode) fail() bool { f.calls++; return f.calls%3 == 0 }

func (f *flakyNode) Tip(ctx context.Context) (int32, chainhash.Hash, error) {
	if f.fail() {
		return 0, chainhash.Hash{}, errFlaky
	}
	return f.Node.Tip(ctx)
}

func (f *flakyNode) Block(ctx context.Context, h chainhash.Hash) (*wire.MsgBlock, error) {
	if f.fail() {
		return nil, errFlaky
	}
	return f.Node.Block(ctx, h)
}

func (f *flakyNode) MempoolTxids(ctx context.Context) ([]chainhash.Hash, error) {
	if f.fail() {
		return nil, errFlaky
	}
	return f.Node.MempoolTxids(ctx)
}

func TestFlakyNodeNeverCreditsTwice(t *testing.T) {
	e := newEnv(t)
	flaky := &flakyNode{Node: e.chain}
	f := NewFollower(e.ledger, flaky, Config{Confirmations: 2, StartHeight: -1}, nil)
	hank := e.account("hank", 6)
	stepUntilSynced := func() {
		for i := 0; i < 200; i++ {
			progressed, err := f.Step(e.ctx)
			if err == nil && !progressed {
				return
			}
		}
		t.Fatal("follower never caught up")
	}
	stepUntilSynced()
	for i, a := range hank {
		if _, err := e.faucet.Pay(e.ctx, devenv.Payment{Address: a, Amount: int64(1000 * (i + 1))}); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			stepUntilSynced()
		}
		e.mine(1)
	}
	e.mine(2)
	stepUntilSynced()
	stepUntilSynced()
	if st := e.states(); st[Credited] != 6 {
		t.Fatalf("states %v", st)
	}
	if av, pend := e.balance("hank"); av != 21_000 || pend != 0 {
		t.Fatalf("hank %d/%d", av, pend)
	}
	if flaky.calls < 20 {
		t.Fatalf("only %d node calls: the faults were not exercised", flaky.calls)
	}
	e.invariants()
}
