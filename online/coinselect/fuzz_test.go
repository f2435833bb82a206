package coinselect

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/btcsuite/btcd/wire"
)

// wallet is a random wallet and batch drawn from a seed and a few knobs.
type wallet struct {
	coins []Coin
	outs  []Output
	p     Params
	dup   bool // a coin is listed twice
}

func randomWallet(seed uint64, nCoins uint16, rate uint32, nOuts uint8, flags uint8, minChange uint16, maxFee uint32, ratio uint8) wallet {
	r := rand.New(rand.NewPCG(seed, 0x636f696e))
	script := func(taproot bool, n uint32) []byte {
		if taproot {
			return p2tr(n)
		}
		return p2wpkh(n)
	}
	// Amounts spread over six orders of magnitude, as a real wallet's are.
	amount := func(lo, hi float64) int64 { return int64(math.Exp(lo + r.Float64()*(hi-lo))) }
	w := wallet{p: Params{
		FeeRate:         1000 + int64(rate%200_000),
		LongTermFeeRate: int64(flags>>4) * 2_000,
		ChangeScript:    script(flags&1 != 0, 9),
	}}
	if flags&2 != 0 {
		w.p.MaxFee = int64(maxFee % 2_000_000)
	}
	if flags&4 != 0 {
		w.p.MaxFeeRatio = float64(ratio) / 1000
	}
	if minChange > 0 {
		w.p.MinChange = DustLimit(w.p.ChangeScript) + int64(minChange)
	}
	n := int(nCoins % 400)
	for i := range n {
		var op wire.OutPoint
		binary.BigEndian.PutUint64(op.Hash[:], seed)
		op.Index = uint32(i)
		c := Coin{OutPoint: op, Amount: amount(math.Log(100), math.Log(2e8)), Script: script(r.IntN(3) == 0, uint32(i)),
			Confirmed: r.IntN(5) != 0}
		c.Change = !c.Confirmed && r.IntN(2) == 0
		if flags&8 != 0 && i < 3 && (c.Confirmed || c.Change) {
			w.p.Required = append(w.p.Required, c)
			continue
		}
		w.coins = append(w.coins, c)
	}
	if flags&0x80 != 0 && len(w.coins) > 1 {
		w.coins = append(w.coins, w.coins[r.IntN(len(w.coins))])
		w.dup = true
	}
	for i := range int(nOuts%60) + 1 {
		w.outs = append(w.outs, Output{Script: script(r.IntN(2) == 0, 500+uint32(i)), Amount: amount(math.Log(400), math.Log(5e7))})
	}
	return w
}

// checkRandom selects for w and checks the outcome: every Selection keeps
// the exactness invariants (checkSelection), and ErrInsufficientFunds is
// returned only when even every eligible coin worth spending cannot pay.
func checkRandom(t testing.TB, w wallet) (Selection, error) {
	sel, err := Select(w.coins, w.outs, w.p)
	switch {
	case w.dup:
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("a coin listed twice: err = %v", err)
		}
	case err == nil:
		checkSelection(t, w.coins, w.outs, w.p, sel)
	case errors.Is(err, ErrInsufficientFunds):
		all := append([]Coin(nil), w.p.Required...)
		for _, c := range w.coins {
			weight, _ := inputWeight(c.Script)
			if (c.Confirmed || c.Change) && 4000*c.Amount > weight*w.p.FeeRate {
				all = append(all, c)
			}
		}
		var in, out int64
		for _, c := range all {
			in += c.Amount
		}
		for _, o := range w.outs {
			out += o.Amount
		}
		tx := wire.NewMsgTx(2)
		for _, c := range all {
			op := c.OutPoint
			tx.AddTxIn(wire.NewTxIn(&op, nil, nil))
		}
		for _, o := range w.outs {
			tx.AddTxOut(wire.NewTxOut(o.Amount, o.Script))
		}
		if len(all) > 0 {
			if fee := (w.p.FeeRate*signedVSize(t, tx, all) + 999) / 1000; in-out >= fee {
				t.Fatalf("insufficient funds, but all %d coins worth spending pay %d + fee %d from %d: %v", len(all), out, fee, in, err)
			}
		}
	case errors.Is(err, ErrFeeCap), errors.Is(err, ErrFeeRatio), errors.Is(err, ErrTooLarge):
		if w.p.MaxFee == 0 && errors.Is(err, ErrFeeCap) || w.p.MaxFeeRatio == 0 && errors.Is(err, ErrFeeRatio) {
			t.Fatalf("cap error without a cap: %v", err)
		}
	default:
		t.Fatalf("unexpected error: %v", err)
	}
	return sel, err
}

func FuzzSelect(f *testing.F) {
	f.Add(uint64(1), uint16(20), uint32(0), uint8(1), uint8(0), uint16(0), uint32(0), uint8(0))
	f.Add(uint64(2), uint16(300), uint32(19_000), uint8(49), uint8(0x31), uint16(0), uint32(0), uint8(0))
	f.Add(uint64(3), uint16(5), uint32(150_000), uint8(3), uint8(0x06), uint16(100), uint32(20_000), uint8(20))
	f.Add(uint64(4), uint16(150), uint32(4_000), uint8(10), uint8(0x89), uint16(5_000), uint32(0), uint8(0))
	f.Add(uint64(5), uint16(399), uint32(1_000), uint8(59), uint8(0xf8), uint16(0), uint32(0), uint8(0))
	f.Fuzz(func(t *testing.T, seed uint64, nCoins uint16, rate uint32, nOuts uint8, flags uint8, minChange uint16, maxFee uint32, ratio uint8) {
		w := randomWallet(seed, nCoins, rate, nOuts, flags, minChange, maxFee, ratio)
		checkRandom(t, w)
	})
}

// TestSelectRandomWallets runs the fuzz checks over many random wallets
// and fails unless both algorithms, and refusals, were seen.
func TestSelectRandomWallets(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	count := map[string]int{}
	for i := range 300 {
		// Small batches from large wallets find changeless sets.
		w := randomWallet(uint64(i), uint16(r.IntN(400)), uint32(r.IntN(30_000)), uint8(r.IntN(4)), uint8(r.IntN(128)), 0, 0, 0)
		sel, err := checkRandom(t, w)
		switch {
		case err != nil:
			count["refused"]++
		default:
			count[sel.Algorithm]++
		}
	}
	t.Logf("outcomes: %v", count)
	for _, k := range []string{AlgorithmBnB, AlgorithmTxAuthor, "refused"} {
		if count[k] == 0 {
			t.Fatalf("no %s outcome in 300 wallets: %v", k, count)
		}
	}
}
