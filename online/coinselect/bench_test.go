package coinselect

import (
	"cmp"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/btcsuite/btcd/wire"
)

// benchWallet is a 100,000-coin hot wallet (amounts log-uniform from
// 1,000 sat to 1 BTC, a third of them p2tr, one in ten unconfirmed
// change) and a batch of 50 withdrawals.
func benchWallet() ([]Coin, []Output) {
	r := rand.New(rand.NewPCG(100_000, 50))
	coins := make([]Coin, 100_000)
	for i := range coins {
		var op wire.OutPoint
		binary.BigEndian.PutUint32(op.Hash[:], uint32(i))
		s := p2wpkh(uint32(i))
		if i%3 == 0 {
			s = p2tr(uint32(i))
		}
		coins[i] = Coin{OutPoint: op, Amount: int64(math.Exp(math.Log(1e3) + r.Float64()*math.Log(1e5))), Script: s, Confirmed: i%10 != 0, Change: i%10 == 0}
	}
	outs := make([]Output, 50)
	for i := range outs {
		outs[i] = Output{Script: p2wpkh(1<<30 + uint32(i)), Amount: int64(math.Exp(math.Log(1e4) + r.Float64()*math.Log(1e3)))}
	}
	return coins, outs
}

// BenchmarkSelect100kCoins: one Select over the whole wallet at 10 sat/vB
// (the branch-and-bound search, then txauthor when it finds no changeless
// set). Compare with BenchmarkSortCoins100k in the same run.
func BenchmarkSelect100kCoins(b *testing.B) {
	coins, outs := benchWallet()
	p := Params{FeeRate: 10_000, ChangeScript: p2wpkh(7)}
	sel, err := Select(coins, outs, p)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%s: %d inputs, fee %d sat, change %d sat, %d vB", sel.Algorithm, len(sel.Inputs), sel.Fee, sel.Change, sel.VSize)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Select(coins, outs, p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSortCoins100k is the baseline: copying the same coins and
// sorting them by amount, the least any selection over them must do.
func BenchmarkSortCoins100k(b *testing.B) {
	coins, _ := benchWallet()
	b.ReportAllocs()
	for b.Loop() {
		c := slices.Clone(coins)
		slices.SortFunc(c, func(x, y Coin) int { return cmp.Compare(y.Amount, x.Amount) })
	}
}
