package coins

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/internal/storetest"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type db struct {
	t      testing.TB
	ctx    context.Context
	runner *store.Runner
}

// newDB migrates a fresh database with a hot and a cold wallet and three
// addresses: a customer's (1), hot change (2), cold (3), whose scripts are
// hotScript, changeScript and coldScript.
func newDB(t testing.TB) *db {
	t.Helper()
	d := &db{t: t, ctx: testenv.Ctx(t, 2*time.Minute), runner: storetest.Runner(t, 4, "btc")}
	d.exec(`INSERT INTO btc.wallets (id, name, descriptor, script_type) VALUES (1, 'hot', 'h', 'p2wpkh'), (2, 'cold', 'c', 'p2tr')`)
	d.exec(`INSERT INTO btc.addresses (id, wallet_id, branch, idx, address, script) VALUES
		(1, 1, 0, 0, 'hot-receive', $1), (2, 1, 1, 0, 'hot-change', $2), (3, 2, 0, 0, 'cold-receive', $3)`, hotScript, changeScript, coldScript)
	return d
}

func (d *db) exec(sql string, args ...any) {
	d.t.Helper()
	if _, err := d.runner.Pool().Exec(d.ctx, sql, args...); err != nil {
		d.t.Fatal(err)
	}
}

func (d *db) tx(fn func(tx *store.Tx) error) {
	d.t.Helper()
	if err := d.runner.InTx(d.ctx, "test", fn); err != nil {
		d.t.Fatal(err)
	}
}

func (d *db) tip(h int32) {
	hash := chainhash.Hash{byte(h)}
	d.exec(`UPDATE btc.chain_cursor SET height = $1, hash = $2`, h, hash[:])
}

// batch records txid as one of our batches in state.
func (d *db) batch(txid chainhash.Hash, state string) int64 {
	d.t.Helper()
	var id int64
	if err := d.runner.Pool().QueryRow(d.ctx, `INSERT INTO btc.batches (state, txid, psbt, fee, fee_rate, vsize, locktime)
		VALUES ($1, $2, '\x00', 1000, 1000, 200, 0) RETURNING id`, state, txid[:]).Scan(&id); err != nil {
		d.t.Fatal(err)
	}
	return id
}

func (d *db) table() string {
	d.t.Helper()
	rows, err := d.runner.Pool().Query(d.ctx, `SELECT (to_jsonb(c) - 'first_seen_at' - 'updated_at')::text FROM btc.coins c ORDER BY txid, vout`)
	if err != nil {
		d.t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			d.t.Fatal(err)
		}
		b.WriteString(s + "\n")
	}
	return b.String()
}

// states maps each coin's outpoint to its state ("gone" if deleted).
func (d *db) state(op wire.OutPoint) string {
	d.t.Helper()
	cs, err := List(d.ctx, d.runner.Pool(), "btc", Filter{Limit: 1000})
	if err != nil {
		d.t.Fatal(err)
	}
	for _, c := range cs {
		if c.OutPoint == op {
			return c.State
		}
	}
	return "gone"
}

func out(op wire.OutPoint, addr int64, amount int64) Output {
	scripts := map[int64][]byte{1: hotScript, 2: changeScript, 3: coldScript}
	wallet := int16(1)
	if addr == 3 {
		wallet = 2
	}
	return Output{OutPoint: op, WalletID: wallet, AddressID: addr, Amount: amount, Script: scripts[addr]}
}

func op(b byte, i uint32) wire.OutPoint { return wire.OutPoint{Hash: chainhash.Hash{b}, Index: i} }

// A block that spends our coin by another transaction than the mempool's
// deletes the loser's unconfirmed coins and those of its child, but keeps
// a coin reserved by a batch; dropping the block again never brings back
// a coinbase coin.
func TestConflictDeletesTheLosersCoinsButNeverAReservedOne(t *testing.T) {
	d := newDB(t)
	blockA, blockB := chainhash.Hash{0xa}, chainhash.Hash{0xb}
	coin := op(1, 0)
	x, child, y := chainhash.Hash{0x10}, chainhash.Hash{0x11}, chainhash.Hash{0x12}
	d.tx(func(tx *store.Tx) error {
		return ConnectBlockTx(tx, "btc", blockA, 10, Matched{Outputs: []Output{out(coin, 1, 50_000)}})
	})
	// X spends the coin in the mempool with two change coins; a child
	// spends one of them.
	d.tx(func(tx *store.Tx) error {
		return MempoolTx(tx, "btc", Matched{
			Outputs: []Output{out(wire.OutPoint{Hash: x, Index: 0}, 2, 20_000), out(wire.OutPoint{Hash: x, Index: 1}, 2, 25_000),
				out(wire.OutPoint{Hash: child, Index: 0}, 2, 19_000)},
			Spends: []Spend{{OutPoint: coin, By: x}, {OutPoint: wire.OutPoint{Hash: x, Index: 0}, By: child}}})
	})
	reserved := d.batch(chainhash.Hash{0x99}, "reserved")
	d.exec(`UPDATE btc.coins SET reserved_by = $1 WHERE txid = $2 AND vout = 1`, reserved, x[:])
	if s := d.state(wire.OutPoint{Hash: x, Index: 0}); s != Spending {
		t.Fatalf("x:0 %s", s)
	}
	cb := op(2, 0)
	cbOut := out(cb, 3, 5_000_000)
	cbOut.Coinbase = true
	d.tx(func(tx *store.Tx) error {
		return ConnectBlockTx(tx, "btc", blockB, 11, Matched{Outputs: []Output{cbOut}, Spends: []Spend{{OutPoint: coin, By: y}}})
	})
	for _, tc := range []struct {
		op   wire.OutPoint
		want string
	}{
		{coin, Spent},
		{wire.OutPoint{Hash: x, Index: 0}, "gone"},
		{wire.OutPoint{Hash: x, Index: 1}, Unconfirmed}, // reserved: the batcher owns it
		{wire.OutPoint{Hash: child, Index: 0}, "gone"},
		{cb, Confirmed},
	} {
		if got := d.state(tc.op); got != tc.want {
			t.Fatalf("%v after the conflicting block: %s, want %s", tc.op, got, tc.want)
		}
	}
	d.tx(func(tx *store.Tx) error { return DisconnectBlockTx(tx, "btc", blockB) })
	if got := d.state(coin); got != Spending {
		t.Fatalf("the coin after the block left: %s, want spending (by y, in the mempool)", got)
	}
	if got := d.state(cb); got != "gone" {
		t.Fatalf("the coinbase coin after its block left: %s", got)
	}
}

// Connecting the same block twice (a rescan), and a mempool sighting of
// what a block already holds, change nothing.
func TestConnectIsIdempotentAndMempoolNeverUndoesABlock(t *testing.T) {
	d := newDB(t)
	blk := chainhash.Hash{0xa}
	m := Matched{Outputs: []Output{out(op(1, 0), 1, 1000), out(op(1, 1), 2, 2000)}, Spends: []Spend{{OutPoint: op(1, 0), By: chainhash.Hash{7}}}}
	d.tx(func(tx *store.Tx) error { return ConnectBlockTx(tx, "btc", blk, 5, m) })
	first := d.table()
	d.tx(func(tx *store.Tx) error { return ConnectBlockTx(tx, "btc", blk, 5, m) })
	d.tx(func(tx *store.Tx) error {
		return MempoolTx(tx, "btc", Matched{Outputs: m.Outputs, Spends: []Spend{{OutPoint: op(1, 0), By: chainhash.Hash{8}}}})
	})
	if got := d.table(); got != first {
		t.Fatalf("want\n%s\ngot\n%s", first, got)
	}
}

// What vanished from the mempool is forgotten, unless it is ours: our
// batch's spend and change coin stay, and a reserved coin stays.
func TestForgetVanishedKeepsOurBatchesAndReservedCoins(t *testing.T) {
	d := newDB(t)
	confirmed1, confirmed2 := op(1, 0), op(1, 1)
	foreignSpender, ourBatch := chainhash.Hash{0x20}, chainhash.Hash{0x21}
	foreignPay, reservedPay := op(0x30, 0), op(0x31, 0)
	d.tx(func(tx *store.Tx) error {
		return ConnectBlockTx(tx, "btc", chainhash.Hash{0xa}, 10, Matched{Outputs: []Output{out(confirmed1, 1, 1000), out(confirmed2, 1, 2000)}})
	})
	ourChange := wire.OutPoint{Hash: ourBatch, Index: 1}
	d.tx(func(tx *store.Tx) error {
		return MempoolTx(tx, "btc", Matched{
			Outputs: []Output{out(foreignPay, 1, 3000), out(reservedPay, 1, 4000), out(ourChange, 2, 500)},
			Spends:  []Spend{{OutPoint: confirmed1, By: foreignSpender}, {OutPoint: confirmed2, By: ourBatch}}})
	})
	d.batch(ourBatch, "broadcast")
	other := d.batch(chainhash.Hash{0x98}, "reserved")
	d.exec(`UPDATE btc.coins SET reserved_by = $1 WHERE txid = $2`, other, reservedPay.Hash[:])
	// Everything as if the node had said it vanished.
	v := Vanished{Txs: []chainhash.Hash{foreignPay.Hash, reservedPay.Hash, ourBatch},
		Spends: []Spend{{OutPoint: confirmed1, By: foreignSpender}, {OutPoint: confirmed2, By: ourBatch}}}
	d.tx(func(tx *store.Tx) error { return ForgetVanishedTx(tx, "btc", v) })
	for _, tc := range []struct {
		op   wire.OutPoint
		want string
	}{
		{confirmed1, Confirmed},
		{confirmed2, Spending},
		{foreignPay, "gone"},
		{reservedPay, Unconfirmed},
		{ourChange, Unconfirmed},
	} {
		if got := d.state(tc.op); got != tc.want {
			t.Fatalf("%v: %s, want %s", tc.op, got, tc.want)
		}
	}
}

// SpendableTx offers the batcher exactly what it may spend.
func TestSpendableOffersOnlyWhatTheBatcherMaySpend(t *testing.T) {
	d := newDB(t)
	d.tip(120)
	broadcast, building := chainhash.Hash{0x40}, chainhash.Hash{0x41}
	d.batch(broadcast, "broadcast")
	res := d.batch(building, "reserved")
	cases := []struct {
		name   string
		o      Output
		height int32 // 0: unconfirmed
		setup  string
		want   bool
	}{
		{"confirmed deep enough", out(op(1, 0), 1, 1000), 118, "", true},
		{"confirmed at exactly min_conf", out(op(1, 1), 2, 1001), 119, "", true},
		{"too few confirmations", out(op(1, 2), 1, 1002), 120, "", false},
		{"reserved", out(op(1, 3), 1, 1003), 100, "reserved", false},
		{"spent in the mempool", out(op(1, 4), 1, 1004), 100, "spent", false},
		{"the cold wallet's", out(op(1, 5), 3, 1005), 100, "", false},
		{"unconfirmed from outside", out(op(2, 0), 1, 1006), 0, "", false},
		{"unconfirmed change of our broadcast batch", out(wire.OutPoint{Hash: broadcast, Index: 1}, 2, 1007), 0, "", true},
		{"unconfirmed change of a batch not sent yet", out(wire.OutPoint{Hash: building, Index: 1}, 2, 1008), 0, "", false},
		{"immature coinbase", out(op(3, 0), 1, 1009), 30, "coinbase", false},
		{"mature coinbase", out(op(4, 0), 1, 1010), 21, "coinbase", true},
		{"dust the follower ignored as a deposit", out(op(5, 0), 1, 300), 100, "ignored", false},
	}
	for _, c := range cases {
		d.tx(func(tx *store.Tx) error {
			o := c.o
			o.Coinbase = c.setup == "coinbase"
			if c.height == 0 {
				return MempoolTx(tx, "btc", Matched{Outputs: []Output{o}})
			}
			return ConnectBlockTx(tx, "btc", chainhash.Hash{byte(c.height)}, c.height, Matched{Outputs: []Output{o}})
		})
		switch c.setup {
		case "reserved":
			d.exec(`UPDATE btc.coins SET reserved_by = $1 WHERE txid = $2 AND vout = $3`, res, c.o.OutPoint.Hash[:], c.o.OutPoint.Index)
		case "ignored":
			d.exec(`INSERT INTO btc.ignored_outputs (txid, vout, address_id, amount, reason) SELECT txid, vout, address_id, amount, 'below_minimum'
				FROM btc.coins WHERE txid = $1 AND vout = $2`, c.o.OutPoint.Hash[:], c.o.OutPoint.Index)
		case "spent":
			d.tx(func(tx *store.Tx) error {
				return MempoolTx(tx, "btc", Matched{Spends: []Spend{{OutPoint: c.o.OutPoint, By: chainhash.Hash{0x77}}}})
			})
		}
	}
	got, err := Spendable(d.ctx, d.runner, "btc", 1, 2, 120)
	if err != nil {
		t.Fatal(err)
	}
	offered := map[wire.OutPoint]Coin{}
	for i, c := range got {
		offered[c.OutPoint] = c
		if i > 0 && got[i-1].Amount > c.Amount {
			t.Fatalf("not smallest first: %v", got)
		}
	}
	for _, c := range cases {
		if _, ok := offered[c.o.OutPoint]; ok != c.want {
			t.Errorf("%s: offered %v, want %v", c.name, ok, c.want)
		}
	}
	if c := offered[op(1, 1)]; c.Branch != 1 || c.Index != 0 || c.Address != "hot-change" || c.Confirmations != 2 {
		t.Fatalf("the change coin as offered: %+v", c)
	}
}

// List filters by wallet and state and pages in outpoint order; a bad
// filter is a clear error.
func TestListFiltersAndPages(t *testing.T) {
	d := newDB(t)
	d.tip(10)
	d.tx(func(tx *store.Tx) error {
		return ConnectBlockTx(tx, "btc", chainhash.Hash{9}, 9, Matched{Outputs: []Output{out(op(1, 0), 1, 100), out(op(1, 1), 2, 200), out(op(1, 2), 3, 300)}})
	})
	d.tx(func(tx *store.Tx) error {
		return MempoolTx(tx, "btc", Matched{Outputs: []Output{out(op(2, 0), 1, 400)}, Spends: []Spend{{OutPoint: op(1, 1), By: chainhash.Hash{2}}}})
	})
	d.tx(func(tx *store.Tx) error {
		return ConnectBlockTx(tx, "btc", chainhash.Hash{10}, 10, Matched{Spends: []Spend{{OutPoint: op(1, 0), By: chainhash.Hash{3}}}})
	})
	for _, tc := range []struct {
		f    Filter
		want []int64 // amounts, in outpoint order
	}{
		{Filter{}, []int64{100, 200, 300, 400}},
		{Filter{Wallet: "hot"}, []int64{100, 200, 400}},
		{Filter{Wallet: "cold"}, []int64{300}},
		{Filter{State: FilterUnspent}, []int64{300, 400}},
		{Filter{State: Unconfirmed}, []int64{400}},
		{Filter{State: Confirmed}, []int64{300}},
		{Filter{State: Spending}, []int64{200}},
		{Filter{State: Spent}, []int64{100, 200}},
		{Filter{Wallet: "hot", State: Spent, Limit: 1}, []int64{100}},
		{Filter{After: &wire.OutPoint{Hash: chainhash.Hash{1}, Index: 1}}, []int64{300, 400}},
	} {
		cs, err := List(d.ctx, d.runner.Pool(), "btc", tc.f)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, c := range cs {
			got = append(got, c.Amount)
		}
		if len(got) != len(tc.want) {
			t.Fatalf("%+v: %v, want %v", tc.f, got, tc.want)
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Fatalf("%+v: %v, want %v", tc.f, got, tc.want)
			}
		}
	}
	for _, f := range []Filter{{Wallet: "warm"}, {State: "unspnt"}, {Limit: 1001}, {Limit: -1}} {
		if _, err := List(d.ctx, d.runner.Pool(), "btc", f); err == nil || !strings.Contains(err.Error(), "use ") {
			t.Fatalf("%+v: %v", f, err)
		}
	}
	bs, err := Balances(d.ctx, d.runner.Pool(), "btc")
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 2 || bs[0] != (Balance{Wallet: "hot", Unconfirmed: 400, Spending: 200, Coins: 1}) ||
		bs[1] != (Balance{Wallet: "cold", Confirmed: 300, Coins: 1}) {
		t.Fatalf("balances %+v", bs)
	}
}

// A coin created and spent in the same block is recorded spent in it; the
// block leaving the chain leaves both in the mempool, as before it.
func TestCoinCreatedAndSpentInOneBlock(t *testing.T) {
	d := newDB(t)
	parent, child := chainhash.Hash{0x50}, chainhash.Hash{0x51}
	mempool := Matched{Outputs: []Output{out(wire.OutPoint{Hash: parent}, 1, 9000), out(wire.OutPoint{Hash: child}, 2, 8000)},
		Spends: []Spend{{OutPoint: wire.OutPoint{Hash: parent}, By: child}}}
	d.tx(func(tx *store.Tx) error { return MempoolTx(tx, "btc", mempool) })
	before := d.table()
	blk := chainhash.Hash{0xc}
	d.tx(func(tx *store.Tx) error { return ConnectBlockTx(tx, "btc", blk, 7, mempool) })
	if s := d.state(wire.OutPoint{Hash: parent}); s != Spent {
		t.Fatalf("parent %s", s)
	}
	if s := d.state(wire.OutPoint{Hash: child}); s != Confirmed {
		t.Fatalf("child %s", s)
	}
	d.tx(func(tx *store.Tx) error { return DisconnectBlockTx(tx, "btc", blk) })
	if got := d.table(); got != before {
		t.Fatalf("before the block:\n%s\nafter it left:\n%s", before, got)
	}
}

// A mempool transaction spending a coin that a block shows spent by
// another (a node may keep such a dead transaction) is not recorded.
func TestDeadMempoolTransactionIsNotRecorded(t *testing.T) {
	d := newDB(t)
	coin := op(1, 0)
	y, zombie := chainhash.Hash{0x60}, chainhash.Hash{0x61}
	d.tx(func(tx *store.Tx) error {
		return ConnectBlockTx(tx, "btc", chainhash.Hash{0xa}, 10, Matched{Outputs: []Output{out(coin, 1, 50_000)}, Spends: []Spend{{OutPoint: coin, By: y}}})
	})
	d.tx(func(tx *store.Tx) error {
		return MempoolTx(tx, "btc", Matched{Outputs: []Output{out(wire.OutPoint{Hash: zombie}, 2, 40_000)}, Spends: []Spend{{OutPoint: coin, By: zombie}}})
	})
	if s := d.state(wire.OutPoint{Hash: zombie}); s != "gone" {
		t.Fatalf("the dead transaction's output: %s", s)
	}
	if s := d.state(coin); s != Spent {
		t.Fatalf("the coin: %s", s)
	}
}
