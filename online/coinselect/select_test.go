package coinselect

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/txscript"
)

func TestSelect(t *testing.T) {
	change := p2wpkh(999)
	base := Params{FeeRate: 1000, LongTermFeeRate: 10_000, ChangeScript: change}
	with := func(f func(*Params)) Params { p := base; f(&p); return p }

	unconfirmed := coin(1_000_000)
	unconfirmed.Confirmed = false
	ownChange := coin(1_000_000)
	ownChange.Confirmed, ownChange.Change = false, true
	dup := coin(200_000)
	tiny := []Coin{coin(600), coin(600), coin(600), coin(600), coin(600)}
	required := coin(400)

	type want struct {
		err       error
		msg       []string // substrings of the error's message
		algorithm string
		fee       int64 // -1: do not check
		change    int64 // -1: any positive amount
		vsize     int64 // 0: do not check
		dropped   int64
		inputs    []int64 // amounts of the inputs, in any order (nil: do not check)
	}
	tests := []struct {
		name  string
		coins []Coin
		outs  []Output
		p     Params
		want  want
	}{
		{
			// 1 p2wpkh in, 1 out: 42 + 272 + 124 = 438 WU = 110 vB; the coin is
			// the amount plus exactly that fee.
			name: "exact match is changeless (bnb)", coins: []Coin{coin(100_110), coin(5_000_000)},
			outs: pay(100_000), p: base,
			want: want{algorithm: AlgorithmBnB, fee: 110, vsize: 110, inputs: []int64{100_110}},
		},
		{
			// At 10 sat/vB, 438 WU cost 1095 sat but 110 vB 1100: 1099 sat is
			// short, and the big coin pays, with change.
			name: "a satoshi short of an exact match is not changeless", coins: []Coin{coin(101_099), coin(5_000_000)},
			outs: pay(100_000), p: with(func(p *Params) { p.FeeRate = 10_000 }),
			want: want{algorithm: AlgorithmTxAuthor, fee: 1410, change: 5_000_000 - 100_000 - 1410, inputs: []int64{5_000_000}},
		},
		{
			// 2 in, 1 out: 710 WU = 178 vB. Only 50,000 + 30,178 falls in the
			// window.
			name: "bnb finds the changeless pair", coins: []Coin{coin(70_000), coin(50_000), coin(30_178)},
			outs: pay(80_000), p: base,
			want: want{algorithm: AlgorithmBnB, fee: 178, vsize: 178, inputs: []int64{50_000, 30_178}},
		},
		{
			// 1 in, 2 outs: 562 WU = 141 vB.
			name: "needs change (txauthor)", coins: []Coin{coin(1_000_000)},
			outs: pay(100_000), p: base,
			want: want{algorithm: AlgorithmTxAuthor, fee: 141, change: 899_859, vsize: 141},
		},
		{
			name: "p2wpkh input sizing", coins: []Coin{coin(1_000_000)}, outs: pay(100_000), p: with(func(p *Params) { p.FeeRate = 20_000 }),
			want: want{algorithm: AlgorithmTxAuthor, fee: 2820, change: 1_000_000 - 100_000 - 2820, vsize: 141},
		},
		{
			// 1 p2tr in: 164 + 66 = 230 WU; with 2 outs 520 WU = 130 vB.
			name: "p2tr input sizing", coins: []Coin{taprootCoin(1_000_000)}, outs: pay(100_000), p: with(func(p *Params) { p.FeeRate = 20_000 }),
			want: want{algorithm: AlgorithmTxAuthor, fee: 2600, change: 1_000_000 - 100_000 - 2600, vsize: 130},
		},
		{
			// A p2tr change output is 12 bytes longer than a p2wpkh one.
			name: "p2tr change output sizing", coins: []Coin{coin(1_000_000)}, outs: pay(100_000),
			p:    with(func(p *Params) { p.FeeRate = 20_000; p.ChangeScript = p2tr(7) }),
			want: want{algorithm: AlgorithmTxAuthor, fee: 3060, change: 1_000_000 - 100_000 - 3060, vsize: 153},
		},
		{
			name: "insufficient funds", coins: []Coin{coin(1_000), coin(2_000)}, outs: pay(5_000), p: base,
			want: want{err: ErrInsufficientFunds, msg: []string{"5000", "3000"}},
		},
		{
			name: "an unconfirmed coin that is not our change is never spent", coins: []Coin{unconfirmed, coin(10_000)},
			outs: pay(100_000), p: base,
			want: want{err: ErrInsufficientFunds, msg: []string{"100000", "10000"}},
		},
		{
			name: "our own unconfirmed change is spent", coins: []Coin{unconfirmed, ownChange},
			outs: pay(100_000), p: base,
			want: want{algorithm: AlgorithmTxAuthor, fee: 141, change: 899_859, inputs: []int64{1_000_000}},
		},
		{
			// At 10 sat/vB a p2wpkh input costs 680 sat: 600-sat coins are worth
			// nothing, however many there are.
			name: "coins worth less than their input's fee are skipped", coins: tiny,
			outs: pay(300), p: with(func(p *Params) { p.FeeRate = 10_000 }),
			want: want{err: ErrInsufficientFunds},
		},
		{
			name: "absolute fee cap", coins: []Coin{coin(1_000_000)}, outs: pay(100_000),
			p:    with(func(p *Params) { p.FeeRate = 100_000; p.MaxFee = 5_000 }),
			want: want{err: ErrFeeCap, msg: []string{"14100", "5000", "100 sat/vB"}},
		},
		{
			name: "fee-to-amount cap", coins: []Coin{coin(1_000_000)}, outs: pay(10_000),
			p:    with(func(p *Params) { p.FeeRate = 50_000; p.MaxFeeRatio = 0.05 }),
			want: want{err: ErrFeeRatio, msg: []string{"7050", "500", "10000", "50 sat/vB"}},
		},
		{
			// The changeless set pays 500 sat over its fee (within the cost of
			// change): 610 sat is over the cap, and change makes it 141.
			name: "a changeless set over the fee cap gives way to change", coins: []Coin{coin(100_610), coin(1_000_000)}, outs: pay(100_000),
			p:    with(func(p *Params) { p.MaxFee = 300 }),
			want: want{algorithm: AlgorithmTxAuthor, fee: 141, change: 899_859, inputs: []int64{1_000_000}},
		},
		{
			name: "fees under both caps pass", coins: []Coin{coin(1_000_000)}, outs: pay(100_000),
			p:    with(func(p *Params) { p.MaxFee = 141; p.MaxFeeRatio = 0.0015 }),
			want: want{algorithm: AlgorithmTxAuthor, fee: 141, change: -1},
		},
		{
			// 3,000 over the fee with change is more than the cost of change
			// (no bnb) and less than MinChange: it goes to the fee.
			name: "change below MinChange goes to the fee", coins: []Coin{coin(100_000 + 141 + 3_000)}, outs: pay(100_000),
			p:    with(func(p *Params) { p.MinChange = 5_000 }),
			want: want{algorithm: AlgorithmTxAuthor, fee: 3_141, vsize: 110, dropped: 3_031},
		},
		{
			name: "a required coin is spent even when not needed", coins: []Coin{coin(1_000_000)}, outs: pay(100_000),
			p:    with(func(p *Params) { p.Required = []Coin{required} }),
			want: want{algorithm: AlgorithmTxAuthor, fee: -1, change: -1, inputs: []int64{400, 1_000_000}},
		},
		{
			name: "a coin listed twice", coins: []Coin{dup, coin(5), dup}, outs: pay(100_000), p: base,
			want: want{err: ErrInvalid, msg: []string{"twice", dup.OutPoint.String()}},
		},
		{
			name: "a required coin also listed", coins: []Coin{dup}, outs: pay(100_000), p: with(func(p *Params) { p.Required = []Coin{dup} }),
			want: want{err: ErrInvalid, msg: []string{"twice"}},
		},
		{
			name: "no outputs", coins: []Coin{coin(1_000_000)}, p: base,
			want: want{err: ErrNoOutputs},
		},
		{
			name: "a dust output", coins: []Coin{coin(1_000_000)}, outs: pay(293), p: base,
			want: want{err: ErrInvalid, msg: []string{"293", "294"}},
		},
		{
			name: "MinChange below the change script's dust", coins: []Coin{coin(1_000_000)}, outs: pay(100_000),
			p:    with(func(p *Params) { p.MinChange = 100 }),
			want: want{err: ErrInvalid, msg: []string{"100", "294"}},
		},
		{
			name: "a coin of an unsupported script", coins: []Coin{{Amount: 1_000_000, Script: []byte{txscript.OP_TRUE}, Confirmed: true}},
			outs: pay(100_000), p: base,
			want: want{err: ErrInvalid, msg: []string{"script"}},
		},
		{
			name: "no fee rate", coins: []Coin{coin(1_000_000)}, outs: pay(100_000), p: with(func(p *Params) { p.FeeRate = 0 }),
			want: want{err: ErrInvalid, msg: []string{"fee rate"}},
		},
		{
			name: "a fee ratio that is not a number", coins: []Coin{coin(1_000_000)}, outs: pay(100_000),
			p:    with(func(p *Params) { p.MaxFeeRatio = math.NaN() }),
			want: want{err: ErrInvalid},
		},
		{
			name: "no change script", coins: []Coin{coin(1_000_000)}, outs: pay(100_000), p: with(func(p *Params) { p.ChangeScript = nil }),
			want: want{err: ErrInvalid, msg: []string{"change script"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sel, err := Select(tc.coins, tc.outs, tc.p)
			if tc.want.err != nil {
				if !errors.Is(err, tc.want.err) {
					t.Fatalf("err = %v, want %v (selection %+v)", err, tc.want.err, sel)
				}
				for _, m := range tc.want.msg {
					if !strings.Contains(err.Error(), m) {
						t.Errorf("error %q does not name %q", err, m)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Select: %v", err)
			}
			checkSelection(t, tc.coins, tc.outs, tc.p, sel)
			w := tc.want
			if sel.Algorithm != w.algorithm {
				t.Errorf("algorithm %q, want %q", sel.Algorithm, w.algorithm)
			}
			if w.fee >= 0 && sel.Fee != w.fee {
				t.Errorf("fee %d, want %d", sel.Fee, w.fee)
			}
			if (w.change < 0 && sel.Change <= 0) || (w.change >= 0 && sel.Change != w.change) {
				t.Errorf("change %d, want %d", sel.Change, w.change)
			}
			if w.vsize != 0 && sel.VSize != w.vsize {
				t.Errorf("vsize %d, want %d", sel.VSize, w.vsize)
			}
			if sel.ChangeDropped != w.dropped {
				t.Errorf("change dropped %d, want %d", sel.ChangeDropped, w.dropped)
			}
			if w.inputs != nil {
				got := map[int64]int{}
				for _, c := range sel.Inputs {
					got[c.Amount]++
				}
				for _, a := range w.inputs {
					got[a]--
				}
				for a, n := range got {
					if n != 0 {
						t.Errorf("inputs %v, want amounts %v (%d off at %d)", amounts(sel.Inputs), w.inputs, n, a)
					}
				}
			}
		})
	}
}

func amounts(cs []Coin) []int64 {
	out := make([]int64, len(cs))
	for i, c := range cs {
		out[i] = c.Amount
	}
	return out
}

// TestSelectRefusesANonStandardTransaction: 2,000 coins of 10,000 sat
// would pay 19,000,000 sat only in a transaction over 100,000 vB; the
// refusal is ErrTooLarge and, so that a caller pays fewer outputs,
// ErrInsufficientFunds.
func TestSelectRefusesANonStandardTransaction(t *testing.T) {
	var coins []Coin
	for range 2_000 {
		coins = append(coins, coin(10_000))
	}
	_, err := Select(coins, pay(19_000_000), Params{FeeRate: 1_000, ChangeScript: p2wpkh(1)})
	if !errors.Is(err, ErrTooLarge) || !errors.Is(err, ErrInsufficientFunds) {
		t.Fatalf("err = %v, want ErrTooLarge and ErrInsufficientFunds", err)
	}
	if !strings.Contains(err.Error(), "100000 vB") {
		t.Fatalf("error %q does not name the limit", err)
	}
	sel, err := Select(coins, pay(9_000_000), Params{FeeRate: 1_000, ChangeScript: p2wpkh(1)})
	if err != nil {
		t.Fatal(err)
	}
	checkSelection(t, coins, pay(9_000_000), Params{FeeRate: 1_000, ChangeScript: p2wpkh(1)}, sel)
}

// TestBnBPrefersLeastWaste: a one-coin and a two-coin set both pay
// exactly. Above the long-term rate each input wastes, so the one-coin
// set wins; below it spending now is cheaper than later, so the two-coin
// set wins (a consolidation).
func TestBnBPrefersLeastWaste(t *testing.T) {
	tests := []struct {
		name      string
		rate      int64
		one, a, b int64 // one pays alone, a+b together
		want      []int64
		waste     int64
	}{
		// 1 in: 110 vB; 2 in: 178 vB. Waste per p2wpkh input: (rate − 10 sat/vB) × 68 vB.
		{"above the long-term rate: fewer inputs", 20_000, 100_000 + 2_200, 60_000, 40_000 + 3_560, []int64{102_200}, 680},
		{"below the long-term rate: more inputs", 2_000, 100_000 + 220, 60_000, 40_000 + 356, []int64{60_000, 40_356}, -1088},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			coins := []Coin{coin(tc.one), coin(tc.a), coin(tc.b)}
			p := Params{FeeRate: tc.rate, LongTermFeeRate: 10_000, ChangeScript: p2wpkh(3)}
			sel, err := Select(coins, pay(100_000), p)
			if err != nil {
				t.Fatal(err)
			}
			checkSelection(t, coins, pay(100_000), p, sel)
			got := amounts(sel.Inputs)
			if sel.Algorithm != AlgorithmBnB || len(got) != len(tc.want) || sel.Waste != tc.waste {
				t.Fatalf("%s selected %v (waste %d), want bnb %v (waste %d)", sel.Algorithm, got, sel.Waste, tc.want, tc.waste)
			}
		})
	}
}

// TestBnBStopsAfter100000Steps: no subset of these coins lands in the
// window (their effective values are multiples of 10,000 sat, the window
// is a few hundred sat wide and between two of them), and the tree has
// 2^40 leaves: the search stops at its bound and txauthor pays, with change.
func TestBnBStopsAfter100000Steps(t *testing.T) {
	var coins []Coin
	for k := int64(1); k <= 40; k++ {
		coins = append(coins, coin(10_000*k+68)) // effective value 10,000k at 1 sat/vB
	}
	p := Params{FeeRate: 1_000, ChangeScript: p2wpkh(3)}
	outs := pay(5_005_000)
	pr, err := newProblem(coins, outs, p)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, steps := pr.branchAndBound(); ok || steps != maxBnBSteps {
		t.Fatalf("bnb found %v after %d steps, want nothing after %d", ok, steps, maxBnBSteps)
	}
	sel, err := Select(coins, outs, p)
	if err != nil {
		t.Fatal(err)
	}
	checkSelection(t, coins, outs, p, sel)
	if sel.Algorithm != AlgorithmTxAuthor || sel.Change == 0 {
		t.Fatalf("%s with change %d, want txauthor with change", sel.Algorithm, sel.Change)
	}
}
