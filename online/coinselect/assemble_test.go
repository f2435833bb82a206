package coinselect

import (
	"bytes"
	"errors"
	"testing"
)

func TestAssembleSignalsRBFAndLocksToTheTip(t *testing.T) {
	a, b := coin(600_000), taprootCoin(500_000)
	outs := pay(300_000, 200_000, 100_000)
	change := p2tr(42)
	sel := Selection{Inputs: []Coin{a, b}, Change: 499_000, Fee: 1_000}
	for pos := 0; pos <= len(outs); pos++ {
		// Draws: the input shuffle's (from [0, 2): keep them in place),
		// then the change position's (from [0, 4)).
		var draws []int
		tx, vout, err := AssembleWith(sel, outs, change, 871_234, func(n int) int {
			draws = append(draws, n)
			if n == len(outs)+1 {
				return pos
			}
			return n - 1
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(draws) != 2 || draws[0] != 2 || draws[1] != len(outs)+1 {
			t.Fatalf("draws from %v, want [2 %d]", draws, len(outs)+1)
		}
		if tx.Version != 2 || tx.LockTime != 871_234 {
			t.Fatalf("version %d, locktime %d", tx.Version, tx.LockTime)
		}
		for i, in := range tx.TxIn {
			if in.Sequence != 0xfffffffd || in.PreviousOutPoint != sel.Inputs[i].OutPoint || len(in.SignatureScript) != 0 || in.Witness != nil {
				t.Fatalf("input %d: %+v", i, in)
			}
		}
		if vout != pos || len(tx.TxOut) != 4 || tx.TxOut[vout].Value != 499_000 || !bytes.Equal(tx.TxOut[vout].PkScript, change) {
			t.Fatalf("change at %d of %d outputs, want %d", vout, len(tx.TxOut), pos)
		}
		j := 0
		for i, o := range tx.TxOut {
			if i == vout {
				continue
			}
			if o.Value != outs[j].Amount || !bytes.Equal(o.PkScript, outs[j].Script) {
				t.Fatalf("output %d is not payment %d", i, j)
			}
			j++
		}
	}
	// Without change nothing is inserted and nothing is drawn.
	tx, vout, err := AssembleWith(Selection{Inputs: []Coin{a}, Fee: 0}, pay(600_000), change, 5, func(int) int { t.Fatal("drawn"); return 0 })
	if err != nil || vout != -1 || len(tx.TxOut) != 1 {
		t.Fatalf("changeless: vout %d, %d outputs, %v", vout, len(tx.TxOut), err)
	}
}

// TestAssembleShufflesInputsAndPlacesChangeAtRandom: over many draws from
// crypto/rand the change lands at every position and every input first.
func TestAssembleShufflesInputsAndPlacesChangeAtRandom(t *testing.T) {
	sel := Selection{Inputs: []Coin{coin(50_000), coin(30_000), coin(20_000)}, Change: 39_000, Fee: 1_000}
	changeAt, first := map[int]int{}, map[int64]int{}
	for range 200 {
		tx, vout, err := Assemble(sel, pay(20_000, 20_000, 20_000), p2wpkh(1), 10)
		if err != nil {
			t.Fatal(err)
		}
		changeAt[vout]++
		for _, c := range sel.Inputs {
			if c.OutPoint == tx.TxIn[0].PreviousOutPoint {
				first[c.Amount]++
			}
		}
	}
	for pos := 0; pos <= 3; pos++ {
		if changeAt[pos] == 0 {
			t.Fatalf("change never at %d in 200 draws: %v", pos, changeAt)
		}
	}
	for _, c := range sel.Inputs {
		if first[c.Amount] == 0 {
			t.Fatalf("input of %d sat never first in 200 draws: %v", c.Amount, first)
		}
	}
}

func TestAssembleRefusesAnInconsistentSelection(t *testing.T) {
	c := coin(100_000)
	tests := []struct {
		name     string
		sel      Selection
		outs     []Output
		locktime uint32
		change   []byte
	}{
		{"inputs short of outputs + change + fee", Selection{Inputs: []Coin{c}, Change: 50_000, Fee: 1_000}, pay(50_000), 1, p2wpkh(1)},
		{"no inputs", Selection{}, pay(50_000), 1, p2wpkh(1)},
		{"negative fee", Selection{Inputs: []Coin{c}, Change: 60_000, Fee: -10_000}, pay(50_000), 1, p2wpkh(1)},
		{"lock time is a timestamp", Selection{Inputs: []Coin{c}, Fee: 50_000}, pay(50_000), 500_000_000, p2wpkh(1)},
		{"change without a change script", Selection{Inputs: []Coin{c}, Change: 49_000, Fee: 1_000}, pay(50_000), 1, nil},
		{"no outputs", Selection{Inputs: []Coin{c}, Fee: 100_000}, nil, 1, p2wpkh(1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tx, _, err := Assemble(tc.sel, tc.outs, tc.change, tc.locktime)
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrNoOutputs) || tx != nil {
				t.Fatalf("tx %v, err %v", tx, err)
			}
		})
	}
}

func TestClampFeeRate(t *testing.T) {
	tests := []struct {
		name                                 string
		estimate, fallback, minRelay, maxFee int64
		want                                 int64
	}{
		{"estimate within bounds", 12_000, 5_000, 1_000, 100_000, 12_000},
		{"no estimate: fallback", 0, 5_000, 1_000, 100_000, 5_000},
		{"negative estimate (node's -1): fallback", -1, 5_000, 1_000, 100_000, 5_000},
		{"below the minimum relay rate", 400, 5_000, 1_000, 100_000, 1_000},
		{"fallback below the minimum relay rate", 0, 500, 1_000, 100_000, 1_000},
		{"over the cap", 900_000, 5_000, 1_000, 100_000, 100_000},
		{"fallback over the cap", 0, 200_000, 1_000, 100_000, 100_000},
		{"no cap", 900_000, 5_000, 1_000, 0, 900_000},
		{"cap below the minimum relay rate: relay wins", 5_000, 5_000, 1_000, 500, 1_000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ClampFeeRate(tc.estimate, tc.fallback, tc.minRelay, tc.maxFee); got != tc.want {
				t.Fatalf("ClampFeeRate(%d, %d, %d, %d) = %d, want %d", tc.estimate, tc.fallback, tc.minRelay, tc.maxFee, got, tc.want)
			}
		})
	}
}
