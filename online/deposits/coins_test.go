package deposits

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/addresses"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/coins"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// privKey is the private key of testKey's address at (branch, index).
func (k testKey) privKey(branch, index uint32) *btcec.PrivateKey {
	var buf [8]byte
	binary.BigEndian.PutUint32(buf[:4], branch)
	binary.BigEndian.PutUint32(buf[4:], index)
	sum := sha256.Sum256(append([]byte(k.seed), buf[:]...))
	priv, _ := btcec.PrivKeyFromBytes(sum[:])
	return priv
}

// newChange takes the hot wallet's next change address (branch 1, no
// account) as the batcher does.
func (e *env) newChange() addresses.Change {
	e.t.Helper()
	var c addresses.Change
	if err := e.runner.InTx(e.ctx, "test-change", func(tx *store.Tx) error {
		var err error
		c, err = e.issuer.NewChangeTx(tx)
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	return c
}

// coinsNow lists every coin of the asset.
func (e *env) coinsNow() []coins.Coin {
	e.t.Helper()
	cs, err := coins.List(e.ctx, e.runner.Pool(), "btc", coins.Filter{Limit: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	return cs
}

// coinTable is the coins table row by row, without its timestamps.
func (e *env) coinTable() string {
	e.t.Helper()
	rows, err := e.runner.Pool().Query(e.ctx, `SELECT (to_jsonb(c) - 'first_seen_at' - 'updated_at')::text FROM btc.coins c ORDER BY txid, vout`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			e.t.Fatal(err)
		}
		b.WriteString(s + "\n")
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return b.String()
}

// spend builds a transaction spending cs (coins of testKey's addresses) to
// the faucet and, when change is set, 10,000 sat back to it; signed with
// the hot key, broadcast.
func (e *env) spend(cs []coins.Coin, change []byte, fee int64) *wire.MsgTx {
	e.t.Helper()
	return e.spendOn(e.chain, cs, change, fee)
}

func (e *env) spendOn(n chain.Node, cs []coins.Coin, change []byte, fee int64) *wire.MsgTx {
	e.t.Helper()
	tx := wire.NewMsgTx(2)
	prevs := map[wire.OutPoint]*wire.TxOut{}
	var total int64
	for _, c := range cs {
		in := wire.NewTxIn(&c.OutPoint, nil, nil)
		in.Sequence = wire.MaxTxInSequenceNum - 2
		tx.AddTxIn(in)
		prevs[c.OutPoint] = wire.NewTxOut(c.Amount, c.Script)
		total += c.Amount
	}
	faucet, _ := txscript.PayToAddrScript(devenv.FaucetAddress())
	if change != nil {
		tx.AddTxOut(wire.NewTxOut(10_000, change))
		total -= 10_000
	}
	tx.AddTxOut(wire.NewTxOut(total-fee, faucet))
	fetcher := txscript.NewMultiPrevOutFetcher(prevs)
	hashes := txscript.NewTxSigHashes(tx, fetcher)
	key := testKey{seed: "deposits-test"}
	for i, c := range cs {
		wit, err := txscript.WitnessSignature(tx, hashes, i, c.Amount, c.Script, txscript.SigHashAll, key.privKey(c.Branch, c.Index), true)
		if err != nil {
			e.t.Fatal(err)
		}
		tx.TxIn[i].Witness = wit
	}
	if _, err := n.Broadcast(e.ctx, tx); err != nil {
		e.t.Fatalf("broadcasting the hot spend: %v", err)
	}
	return tx
}

func (e *env) nodeCall(method string, args ...any) {
	e.t.Helper()
	if err := e.node.Client.Call(e.ctx, nil, method, args...); err != nil {
		e.t.Fatalf("%s: %v", method, err)
	}
}

// coinWant is what one coin should look like.
type coinWant struct {
	addressID int64
	amount    int64
	state     string
	conf      int32
	spentBy   *chainhash.Hash
}

func (e *env) wantCoins(step string, want []coinWant) {
	e.t.Helper()
	got := e.coinsNow()
	if len(got) != len(want) {
		e.t.Fatalf("%s: %d coins, want %d: %+v", step, len(got), len(want), got)
	}
	byAddr := map[int64]coins.Coin{}
	for _, c := range got {
		byAddr[c.AddressID] = c
	}
	for _, w := range want {
		c, ok := byAddr[w.addressID]
		if !ok {
			e.t.Fatalf("%s: no coin at address %d: %+v", step, w.addressID, got)
		}
		if c.Wallet != "hot" || c.Amount != w.amount || c.State != w.state || c.Confirmations != w.conf {
			e.t.Fatalf("%s: address %d: got %s %d sat %s conf %d, want hot %d sat %s conf %d",
				step, w.addressID, c.Wallet, c.Amount, c.State, c.Confirmations, w.amount, w.state, w.conf)
		}
		if (w.spentBy == nil) != (c.SpentBy == nil) || (w.spentBy != nil && *w.spentBy != *c.SpentBy) {
			e.t.Fatalf("%s: address %d spent by %v, want %v", step, w.addressID, c.SpentBy, w.spentBy)
		}
	}
}

func (e *env) addressID(addr string) int64 {
	e.t.Helper()
	var id int64
	if err := e.runner.Pool().QueryRow(e.ctx, `SELECT id FROM btc.addresses WHERE address = $1`, addr).Scan(&id); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// A payment to a customer's hot address and to a hot change address makes
// two coins (unconfirmed, then confirmed); a hot spend of both marks them
// spending, then spent in its block; dropping that block puts the table back
// exactly as it was before the block, taking the block again gives exactly
// what it gave, and a rescan over the same blocks changes nothing.
func TestCoinsFollowPaymentsSpendsReorgAndRescan(t *testing.T) {
	e := newEnv(t)
	f := e.follower(1)
	e.sync(f)
	alice := e.account("alice", 1)[0]
	change := e.newChange()
	aliceID := e.addressID(alice)

	pay, err := e.faucet.Build(e.ctx, []devenv.Payment{{Address: alice, Amount: 50_000}, {Address: change.Address, Amount: 20_000}}, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.chain.Broadcast(e.ctx, pay); err != nil {
		t.Fatal(err)
	}
	e.sync(f)
	e.wantCoins("in the mempool", []coinWant{{aliceID, 50_000, coins.Unconfirmed, 0, nil}, {change.ID, 20_000, coins.Unconfirmed, 0, nil}})
	e.mine(1)
	e.sync(f)
	payHeight, err := f.Height(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.wantCoins("in a block", []coinWant{{aliceID, 50_000, coins.Confirmed, 1, nil}, {change.ID, 20_000, coins.Confirmed, 1, nil}})

	x := e.spend(e.coinsNow(), nil, 2_000)
	xid := x.TxHash()
	e.sync(f)
	e.wantCoins("spent in the mempool", []coinWant{{aliceID, 50_000, coins.Spending, 1, &xid}, {change.ID, 20_000, coins.Spending, 1, &xid}})
	before := e.coinTable()

	hashes, err := e.node.Generate(e.ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	e.sync(f)
	e.wantCoins("spent in a block", []coinWant{{aliceID, 50_000, coins.Spent, 2, &xid}, {change.ID, 20_000, coins.Spent, 2, &xid}})
	after := e.coinTable()
	if after == before {
		t.Fatal("the block changed nothing in the coins table")
	}
	for _, c := range e.coinsNow() {
		if c.SpentHeight == nil || *c.SpentHeight != payHeight+1 {
			t.Fatalf("coin %v spent at %v, want height %d", c.OutPoint, c.SpentHeight, payHeight+1)
		}
	}

	e.nodeCall("invalidateblock", hashes[0])
	e.waitFor("the spend back in the mempool", func() bool {
		ids, _ := e.chain.MempoolTxids(e.ctx)
		for _, id := range ids {
			if id == xid {
				return true
			}
		}
		return false
	})
	e.sync(f)
	if got := e.coinTable(); got != before {
		t.Fatalf("after dropping the block the coins table is not as before it:\nbefore:\n%s\nafter the reorg:\n%s", before, got)
	}
	e.nodeCall("reconsiderblock", hashes[0])
	e.waitFor("the block back", func() bool { return tip(e, e.chain) == hashes[0] })
	e.sync(f)
	if got := e.coinTable(); got != after {
		t.Fatalf("taking the block again:\nwant:\n%s\ngot:\n%s", after, got)
	}

	found, err := f.Rescan(e.ctx, payHeight-1, nil)
	if err != nil || found != 0 {
		t.Fatalf("rescan: %d %v", found, err)
	}
	if got := e.coinTable(); got != after {
		t.Fatalf("the rescan changed the coins table:\nwant:\n%s\ngot:\n%s", after, got)
	}
	e.invariants()
}

// A rescan records the coins of an address stored after its payment
// confirmed, and the spend of that coin in a later block.
func TestRescanRecordsCoinsOfAnAddressAddedLater(t *testing.T) {
	e := newEnv(t)
	f := e.follower(1)
	e.sync(f)
	key := testKey{seed: "deposits-test"}
	later, err := key.Derive(1, 77) // a change address the database does not know yet
	if err != nil {
		t.Fatal(err)
	}
	pay := e.payNow(later.Address, 30_000)
	e.mine(1)
	e.sync(f)
	from, _ := f.Height(e.ctx)
	if n := len(e.coinsNow()); n != 0 {
		t.Fatalf("%d coins before the address is known", n)
	}
	var id int64
	if err := e.runner.Pool().QueryRow(e.ctx, `INSERT INTO btc.addresses (wallet_id, branch, idx, address, script) VALUES (1, 1, 77, $1, $2) RETURNING id`,
		later.Address, later.Script).Scan(&id); err != nil {
		t.Fatal(err)
	}
	vout := uint32(0)
	for i, o := range pay.TxOut {
		if bytes.Equal(o.PkScript, later.Script) {
			vout = uint32(i)
		}
	}
	coin := coins.Coin{OutPoint: wire.OutPoint{Hash: pay.TxHash(), Index: vout}, Amount: 30_000, Script: later.Script, Branch: 1, Index: 77}
	x := e.spend([]coins.Coin{coin}, nil, 1_000)
	xid := x.TxHash()
	e.mine(1)
	e.sync(f)
	if _, err := f.Rescan(e.ctx, from, nil); err != nil {
		t.Fatal(err)
	}
	e.wantCoins("after the rescan", []coinWant{{id, 30_000, coins.Spent, 2, &xid}})
}

// An unconfirmed coin whose transaction a conflicting one replaced (seen in
// the mempool, or only in the block that confirms it) is deleted: it never
// existed on chain.
func TestCoinOfAReplacedTransactionIsDeleted(t *testing.T) {
	for _, tc := range []struct {
		name          string
		seeTheReplace bool
	}{
		{"replaced in the mempool", true},
		{"replaced by a block", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			f := e.follower(1)
			e.sync(f)
			bob := e.account("bob", 1)[0]
			pay := e.payNow(bob, 40_000)
			e.sync(f)
			e.wantCoins("seen", []coinWant{{e.addressID(bob), 40_000, coins.Unconfirmed, 0, nil}})
			if _, err := e.faucet.Replace(e.ctx, pay, e.prevValue(pay), nil, 30_000); err != nil {
				t.Fatal(err)
			}
			if tc.seeTheReplace {
				e.sync(f)
				e.wantCoins("replaced in the mempool", nil)
			}
			e.mine(1)
			e.sync(f)
			e.wantCoins("after the conflict confirmed", nil)
			if st := e.states(); st[Replaced] != 1 {
				t.Fatalf("deposits %v", st)
			}
			e.invariants()
		})
	}
}

// A hot spend replaced in the mempool by another spend of the same coin
// loses its change coin; the coin is spent by the replacement.
func TestReplacedHotSpendLosesItsChangeCoin(t *testing.T) {
	e := newEnv(t)
	f := e.follower(1)
	e.sync(f)
	carol := e.account("carol", 1)[0]
	change := e.newChange()
	e.payNow(carol, 60_000)
	e.mine(1)
	e.sync(f)
	c := e.coinsNow()
	x := e.spend(c, change.Script, 2_000)
	xid := x.TxHash()
	e.sync(f)
	e.wantCoins("spent with change", []coinWant{{e.addressID(carol), 60_000, coins.Spending, 1, &xid}, {change.ID, 10_000, coins.Unconfirmed, 0, nil}})
	y := e.spend(c, nil, 5_000) // a fee bump without change
	yid := y.TxHash()
	e.sync(f)
	e.wantCoins("replaced", []coinWant{{e.addressID(carol), 60_000, coins.Spending, 1, &yid}})
	e.mine(1)
	e.sync(f)
	e.wantCoins("confirmed", []coinWant{{e.addressID(carol), 60_000, coins.Spent, 2, &yid}})
}

// The follower moves to another node of the same chain whose mempool never
// had some transactions (as after a node restart): a mempool spend by a
// transaction that is gone is cleared (the coin is spendable again) and a
// coin of a payment that is gone is deleted; but the spend and the change
// coin of our own batch are kept (the broadcaster sends it again).
func TestVanishedMempoolSpendsClearedButOurBatchsKept(t *testing.T) {
	e := newEnv(t)
	other := testenv.NewNode(t, devenv.BtcdOptions{NoMine: true})
	otherChain := chain.NewRPCNode(other.Client)
	e.peer(other, "connect")
	e.waitFor("the second node to sync", func() bool { return tip(e, e.chain) == tip(e, otherChain) })
	f := NewFollower(e.ledger, otherChain, Config{Confirmations: 1, StartHeight: -1}, nil)
	e.sync(f)
	dave := e.account("dave", 3)
	change := e.newChange()
	pay, err := e.faucet.Build(e.ctx, []devenv.Payment{{Address: dave[0], Amount: 50_000}, {Address: dave[1], Amount: 70_000}}, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.chain.Broadcast(e.ctx, pay); err != nil {
		t.Fatal(err)
	}
	e.mine(1)
	e.waitFor("the block on the second node", func() bool { return tip(e, e.chain) == tip(e, otherChain) })
	e.peer(other, "disconnect")
	e.sync(f)
	byAddr := map[string]coins.Coin{}
	for _, c := range e.coinsNow() {
		byAddr[c.Address] = c
	}
	// Sent to the second node only.
	foreign := e.spendOn(otherChain, []coins.Coin{byAddr[dave[0]]}, nil, 1_000)
	batch := e.spendOn(otherChain, []coins.Coin{byAddr[dave[1]]}, change.Script, 1_000)
	fid, bid := foreign.TxHash(), batch.TxHash()
	if _, err := e.runner.Pool().Exec(e.ctx, `INSERT INTO btc.batches (state, txid, psbt, fee, fee_rate, vsize, locktime) VALUES ('broadcast', $1, '\x00', 1000, 1000, 200, 0)`, bid[:]); err != nil {
		t.Fatal(err)
	}
	if _, err := devenv.NewFaucet(otherChain).Pay(e.ctx, devenv.Payment{Address: dave[2], Amount: 30_000}); err != nil {
		t.Fatal(err)
	}
	e.sync(f)
	ids := func(a string) int64 { return e.addressID(a) }
	e.wantCoins("seen through the second node", []coinWant{
		{ids(dave[0]), 50_000, coins.Spending, 1, &fid}, {ids(dave[1]), 70_000, coins.Spending, 1, &bid},
		{change.ID, 10_000, coins.Unconfirmed, 0, nil}, {ids(dave[2]), 30_000, coins.Unconfirmed, 0, nil}})

	moved := e.follower(1)
	e.sync(moved)
	e.wantCoins("through the first node", []coinWant{
		{ids(dave[0]), 50_000, coins.Confirmed, 1, nil}, {ids(dave[1]), 70_000, coins.Spending, 1, &bid},
		{change.ID, 10_000, coins.Unconfirmed, 0, nil}})
}

// A competing chain wins that confirms a double spend of a payment to us:
// the payment's coin, confirmed on the losing chain, is deleted (it never
// existed on the best chain), and the coin confirmed before the split stays.
func TestCoinConfirmedOnALosingChainIsDeletedWhenADoubleSpendWins(t *testing.T) {
	e := newEnv(t)
	other := testenv.NewNode(t, devenv.BtcdOptions{NoMine: true})
	otherChain := chain.NewRPCNode(other.Client)
	e.peer(other, "connect")
	e.waitFor("sync", func() bool { return tip(e, e.chain) == tip(e, otherChain) })
	f := e.follower(1)
	e.sync(f)
	erin := e.account("erin", 2)
	e.payNow(erin[0], 30_000)
	e.mine(1)
	e.waitFor("sync", func() bool { return tip(e, e.chain) == tip(e, otherChain) })
	e.sync(f)

	e.peer(other, "disconnect")
	pay := e.payNow(erin[1], 45_000)
	e.sync(f)
	e.mine(1)
	e.sync(f)
	e.wantCoins("before the reorg", []coinWant{{e.addressID(erin[0]), 30_000, coins.Confirmed, 2, nil}, {e.addressID(erin[1]), 45_000, coins.Confirmed, 1, nil}})
	if _, err := devenv.NewFaucet(otherChain).Replace(e.ctx, pay, e.prevValue(pay), nil, 20_000); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Generate(e.ctx, 2); err != nil {
		t.Fatal(err)
	}
	e.peer(other, "connect")
	e.waitFor("the reorg", func() bool { return tip(e, e.chain) == tip(e, otherChain) })
	e.sync(f)
	// btcd keeps the losing payment in its mempool: it is not a coin again.
	e.wantCoins("after the reorg", []coinWant{{e.addressID(erin[0]), 30_000, coins.Confirmed, 3, nil}})
	e.invariants()
}
