package deposits

import (
	"bytes"
	"math"
	"reflect"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/online/coins"
)

var (
	ourScript    = []byte{0x00, 0x14, 1, 2, 3}
	changeScript = []byte{0x00, 0x14, 9, 9, 9}
)

func testLookup(script []byte) (watched, bool) {
	switch {
	case bytes.Equal(script, ourScript):
		return watched{addressID: 1, accountID: 7, address: "ours"}, true
	case bytes.Equal(script, changeScript):
		return watched{addressID: 2, address: "change"}, true
	case len(script) > 0 && script[0] == 0x51: // the fuzz target's "ours"
		return watched{addressID: 3, accountID: 8, address: "fuzz"}, true
	}
	return watched{}, false
}

func txPaying(coinbase bool, values ...int64) *wire.MsgTx {
	tx := wire.NewMsgTx(2)
	prev := wire.OutPoint{Hash: chainhash.Hash{1}, Index: 0}
	if coinbase {
		prev = wire.OutPoint{Index: math.MaxUint32}
	}
	tx.AddTxIn(wire.NewTxIn(&prev, []byte{1}, nil))
	for _, v := range values {
		tx.AddTxOut(wire.NewTxOut(v, ourScript))
	}
	tx.AddTxOut(wire.NewTxOut(5000, changeScript))
	return tx
}

func TestMatchTxsSortsOutputsIntoDepositsAndIgnored(t *testing.T) {
	cases := []struct {
		name     string
		txs      []*wire.MsgTx
		min      int64
		deposits int
		reasons  []string
		coinbase bool
	}{
		{"ordinary", []*wire.MsgTx{txPaying(false, 1000, 2000)}, 0, 2, nil, false},
		{"zero value", []*wire.MsgTx{txPaying(false, 0, 2000)}, 0, 1, []string{ReasonZeroValue}, false},
		{"below the minimum", []*wire.MsgTx{txPaying(false, 999, 1000)}, 1000, 1, []string{ReasonBelowMinimum}, false},
		{"negative", []*wire.MsgTx{txPaying(false, -1)}, 0, 0, []string{ReasonInvalidAmount}, false},
		{"beyond 21 million", []*wire.MsgTx{txPaying(false, maxAmount+1, maxAmount)}, 0, 1, []string{ReasonInvalidAmount}, false},
		{"coinbase", []*wire.MsgTx{txPaying(true, 50_0000_0000)}, 0, 1, nil, true},
		{"the same transaction twice", []*wire.MsgTx{txPaying(false, 1000), txPaying(false, 1000)}, 0, 1, nil, false},
		{"nil transaction", []*wire.MsgTx{nil}, 0, 0, nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := matchTxs(c.txs, nil, testLookup, matchRules{minDeposit: c.min}, true)
			if len(got.deposits) != c.deposits {
				t.Fatalf("%d deposits, want %d", len(got.deposits), c.deposits)
			}
			if len(got.ignored) != len(c.reasons) {
				t.Fatalf("ignored %+v, want reasons %v", got.ignored, c.reasons)
			}
			for i, r := range c.reasons {
				if got.ignored[i].reason != r {
					t.Fatalf("reason %q, want %q", got.ignored[i].reason, r)
				}
			}
			for _, d := range got.deposits {
				if d.coinbase != c.coinbase || (d.spends == nil) != c.coinbase {
					t.Fatalf("deposit %+v: coinbase %v", d, c.coinbase)
				}
				if d.addr.accountID == 0 {
					t.Fatal("a change output counted as a deposit")
				}
			}
		})
	}
}

// FuzzMatchTxs feeds the block matcher arbitrary transactions: it must
// never panic, and what it returns must always fit the deposits table, so
// no block content can make the follower's write fail.
func FuzzMatchTxs(f *testing.F) {
	var seed bytes.Buffer
	_ = txPaying(false, 1000, 0).Serialize(&seed)
	tx := txPaying(true, 7)
	tx.TxOut[0].PkScript = []byte{0x51}
	_ = tx.Serialize(&seed)
	f.Add(seed.Bytes(), int64(0))
	f.Add([]byte{}, int64(500))
	f.Fuzz(func(t *testing.T, data []byte, min int64) {
		r := bytes.NewReader(data)
		var txs []*wire.MsgTx
		for r.Len() > 0 && len(txs) < 50 {
			var tx wire.MsgTx
			if err := tx.Deserialize(r); err != nil {
				break
			}
			txs = append(txs, &tx)
		}
		got := matchTxs(txs, nil, testLookup, matchRules{minDeposit: min}, true)
		// With the txids hashed beforehand, as the follower does, the same.
		if hashed := matchTxs(txs, coins.Txids(txs), testLookup, matchRules{minDeposit: min}, true); !reflect.DeepEqual(hashed, got) {
			t.Fatalf("with txids given: %+v, hashed as needed: %+v", hashed, got)
		}
		seen := map[wire.OutPoint]bool{}
		for _, d := range got.deposits {
			op := wire.OutPoint{Hash: d.txid, Index: d.vout}
			if seen[op] {
				t.Fatalf("outpoint %v twice", op)
			}
			seen[op] = true
			if d.amount <= 0 || d.amount > maxAmount || d.amount < min {
				t.Fatalf("amount %d credited (minimum %d)", d.amount, min)
			}
			if d.addr.accountID == 0 || d.vout > math.MaxInt32 {
				t.Fatalf("bad deposit %+v", d)
			}
			if len(d.spends)%36 != 0 || (!d.coinbase && len(decodeSpends(d.spends))*36 != len(d.spends)) {
				t.Fatalf("spends of %d bytes", len(d.spends))
			}
		}
		for _, ig := range got.ignored {
			switch ig.reason {
			case ReasonZeroValue, ReasonBelowMinimum, ReasonInvalidAmount:
			default:
				t.Fatalf("reason %q", ig.reason)
			}
			op := wire.OutPoint{Hash: ig.txid, Index: ig.vout}
			if seen[op] {
				t.Fatalf("outpoint %v both credited and ignored", op)
			}
			seen[op] = true
		}
	})
}

// BenchmarkMatchBlock is the follower's matching of a block of 3,000
// transactions (two inputs and two outputs each, none of them ours), as it
// is done: the watch set looked up once per output and each transaction
// hashed once for both matchers and the mempool state; beside it, each of
// the three hashing the transactions for itself.
//
//	go test ./online/deposits -run '^$' -bench '^BenchmarkMatchBlock$'
func BenchmarkMatchBlock(b *testing.B) {
	var txs []*wire.MsgTx
	for i := 0; i < 3000; i++ {
		tx := wire.NewMsgTx(2)
		for j := 0; j < 2; j++ {
			tx.AddTxIn(wire.NewTxIn(&wire.OutPoint{Hash: chainhash.Hash{byte(i), byte(i >> 8), byte(j)}, Index: 1}, make([]byte, 107), nil))
		}
		for j := 0; j < 2; j++ {
			script := make([]byte, 22)
			script[1], script[2], script[3], script[4] = 0x14, byte(i), byte(i>>8), byte(j)
			tx.AddTxOut(wire.NewTxOut(1000, script))
		}
		txs = append(txs, tx)
	}
	f := &Follower{watch: newWatchSet()} // matchAll needs only its watch set and rules
	b.Run("hashed-once", func(b *testing.B) {
		for b.Loop() {
			_ = f.matchAll(txs, true)
		}
	})
	b.Run("hashed-by-each", func(b *testing.B) {
		for b.Loop() {
			h := f.watch.hits(txs)
			_ = matchTxs(txs, nil, h.lookup, matchRules{}, true)
			_ = coins.Match(txs, h.coin)
			_ = coins.Txids(txs)
		}
	})
}
