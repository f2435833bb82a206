package coinselect

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/mempool"
	"github.com/btcsuite/btcd/wire"
)

// maxFeeRate bounds Params.FeeRate (10,000 sat/vB) so that no product of
// a rate and a weight overflows.
const maxFeeRate = 10_000_000

// candidate is an eligible coin with its weight and what spending it
// costs. Values named ...U are in units of 1/4000 sat, in which the fee of
// w weight units at r sat/kvB is exactly r×w: no rounding until the end.
type candidate struct {
	*Coin  // the caller's, never written
	weight int64
	effU   int64 // 4000×amount − rate×weight: the coin's effective value
	wasteU int64 // (rate − long-term rate)×weight: its share of the waste
}

// problem is one validated selection request.
type problem struct {
	p          Params
	outs       []Output
	outTotal   int64
	outWU      int64 // every output but change
	changeWU   int64 // the change output
	changeIn   int64 // the input that will spend the change later
	minChange  int64
	longTerm   int64
	required   []candidate
	pool       []candidate // eligible, effective value > 0, not required
	skipped    int         // eligible coins worth nothing at this rate
	ineligible int         // unconfirmed coins that are not our change
}

// Select chooses coins paying outs under p: first a changeless
// branch-and-bound search, otherwise txauthor with change (doc.go). Bad
// input is refused with ErrInvalid or ErrNoOutputs; a selection over a
// fee cap with ErrFeeCap or ErrFeeRatio; every error names its numbers.
func Select(coins []Coin, outs []Output, p Params) (Selection, error) {
	pr, err := newProblem(coins, outs, p)
	if err != nil {
		return Selection{}, err
	}
	var capErr error
	if sel, ok, _ := pr.branchAndBound(); ok {
		if capErr = pr.checkCaps(sel); capErr == nil {
			return sel, nil
		}
	}
	sel, err := pr.txAuthor()
	if err != nil {
		if capErr != nil && errors.Is(err, ErrInsufficientFunds) {
			return Selection{}, capErr
		}
		return Selection{}, err
	}
	if err := pr.checkCaps(sel); err != nil {
		return Selection{}, err
	}
	return sel, nil
}

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

func newProblem(coins []Coin, outs []Output, p Params) (*problem, error) {
	switch {
	case p.FeeRate <= 0 || p.FeeRate > maxFeeRate:
		return nil, invalid("fee rate %d sat/kvB: use 1 to %d", p.FeeRate, maxFeeRate)
	case p.LongTermFeeRate < 0 || p.LongTermFeeRate > maxFeeRate:
		return nil, invalid("long-term fee rate %d sat/kvB: use 0 (the default, %d) to %d", p.LongTermFeeRate, DefaultLongTermFeeRate, maxFeeRate)
	case p.MaxFee < 0:
		return nil, invalid("fee cap %d sat is negative (0: no cap)", p.MaxFee)
	case math.IsNaN(p.MaxFeeRatio) || p.MaxFeeRatio < 0:
		return nil, invalid("fee-to-amount cap %v: use a share >= 0 (0: no cap)", p.MaxFeeRatio)
	}
	changeIn, ok := inputWeight(p.ChangeScript)
	if !ok {
		return nil, invalid("change script %x: use a p2wpkh or p2tr script", p.ChangeScript)
	}
	pr := &problem{p: p, outs: outs, changeWU: outputWeight(p.ChangeScript), changeIn: changeIn, longTerm: p.LongTermFeeRate}
	if pr.longTerm == 0 {
		pr.longTerm = DefaultLongTermFeeRate
	}
	dust := DustLimit(p.ChangeScript)
	switch {
	case p.MinChange == 0:
		pr.minChange = dust
	case p.MinChange < dust:
		return nil, invalid("minimum change %d sat is below the change script's dust limit of %d sat", p.MinChange, dust)
	default:
		pr.minChange = p.MinChange
	}

	if len(outs) == 0 {
		return nil, ErrNoOutputs
	}
	for i, o := range outs {
		if len(o.Script) == 0 || o.Amount <= 0 || o.Amount > btcutil.MaxSatoshi {
			return nil, invalid("output %d: amount %d sat to script %x", i, o.Amount, o.Script)
		}
		if mempool.IsDust(wire.NewTxOut(o.Amount, o.Script), 1000) {
			return nil, invalid("output %d: %d sat is below the dust limit of %d sat of its script", i, o.Amount, DustLimit(o.Script))
		}
		pr.outTotal += o.Amount
		if pr.outTotal > btcutil.MaxSatoshi {
			return nil, invalid("outputs total more than 21 million BTC")
		}
		pr.outWU += outputWeight(o.Script)
	}

	seen := newOutPointSet(len(coins) + len(p.Required))
	pr.pool = make([]candidate, 0, len(coins))
	var total int64
	take := func(c *Coin, required bool) error {
		if seen.add(&c.OutPoint) {
			return invalid("coin %s is listed twice", c.OutPoint)
		}
		if c.Amount < 0 || c.Amount > btcutil.MaxSatoshi {
			return invalid("coin %s: amount %d sat", c.OutPoint, c.Amount)
		}
		if total += c.Amount; total > btcutil.MaxSatoshi {
			return invalid("coins total more than 21 million BTC")
		}
		w, ok := inputWeight(c.Script)
		if !ok {
			return invalid("coin %s: script %x is neither p2wpkh nor p2tr", c.OutPoint, c.Script)
		}
		if !c.Confirmed && !c.Change {
			if required {
				return invalid("required coin %s is unconfirmed and not our change", c.OutPoint)
			}
			pr.ineligible++
			return nil
		}
		cd := candidate{Coin: c, weight: w, effU: 4000*c.Amount - p.FeeRate*w, wasteU: (p.FeeRate - pr.longTerm) * w}
		switch {
		case required:
			pr.required = append(pr.required, cd)
		case cd.effU <= 0:
			pr.skipped++
		default:
			pr.pool = append(pr.pool, cd)
		}
		return nil
	}
	for i := range p.Required {
		if err := take(&p.Required[i], true); err != nil {
			return nil, err
		}
	}
	for i := range coins {
		if err := take(&coins[i], false); err != nil {
			return nil, err
		}
	}
	pr.sortPool()
	return pr, nil
}

// sortPool orders the pool largest effective value first, ties in the
// order given. It sorts small keys and gathers once: sorting the
// candidates themselves would move ~100 bytes per swap.
func (pr *problem) sortPool() {
	type key struct {
		effU int64
		i    int32
	}
	keys := make([]key, len(pr.pool))
	for i, c := range pr.pool {
		keys[i] = key{c.effU, int32(i)}
	}
	slices.SortFunc(keys, func(a, b key) int {
		if c := cmp.Compare(b.effU, a.effU); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i)
	})
	sorted := make([]candidate, len(pr.pool))
	for j, k := range keys {
		sorted[j] = pr.pool[k.i]
	}
	pr.pool = sorted
}

// fixedWeight is the weight of everything but the inputs, with nIn inputs.
func (pr *problem) fixedWeight(nIn int, change bool) int64 {
	nOut, w := len(pr.outs), pr.outWU
	if change {
		nOut, w = nOut+1, w+pr.changeWU
	}
	return overheadWeight(nIn, nOut) + w
}

// settle turns chosen inputs into a Selection: with change when change is
// set and what is left over the fee is at least MinChange, otherwise
// changeless. ok is false when the inputs do not pay the outputs and the
// changeless fee.
func (pr *problem) settle(inputs []candidate, withChange bool, algorithm string) (Selection, bool) {
	var in, inWU, wasteU int64
	for _, c := range inputs {
		in += c.Amount
		inWU += c.weight
		wasteU += c.wasteU
	}
	sel := Selection{Algorithm: algorithm, Inputs: make([]Coin, len(inputs))}
	for i, c := range inputs {
		sel.Inputs[i] = *c.Coin
	}
	if withChange {
		vsize := vsizeOf(pr.fixedWeight(len(inputs), true) + inWU)
		fee := feeFor(pr.p.FeeRate, vsize)
		if change := in - pr.outTotal - fee; change >= pr.minChange {
			sel.Change, sel.Fee, sel.VSize = change, fee, vsize
			sel.Waste = (wasteU + pr.p.FeeRate*pr.changeWU + pr.longTerm*pr.changeIn) / 4000
			return sel, true
		}
	}
	sel.VSize = vsizeOf(pr.fixedWeight(len(inputs), false) + inWU)
	sel.Fee = in - pr.outTotal
	excess := sel.Fee - feeFor(pr.p.FeeRate, sel.VSize)
	if excess < 0 {
		return Selection{}, false
	}
	if withChange {
		sel.ChangeDropped = excess
	}
	sel.Waste = wasteU/4000 + excess
	return sel, true
}

// checkCaps refuses a selection over the standard weight or a fee cap.
func (pr *problem) checkCaps(sel Selection) error {
	at := fmt.Sprintf("at %s sat/vB for %d vB", rateText(pr.p.FeeRate), sel.VSize)
	if 4*sel.VSize > MaxStandardWeight {
		// Also ErrInsufficientFunds: the coins cannot pay this batch in one
		// standard transaction, and a smaller batch may be payable.
		return fmt.Errorf("%w (%w within one transaction): %d inputs make %d vB, over %d vB",
			ErrTooLarge, ErrInsufficientFunds, len(sel.Inputs), sel.VSize, MaxStandardWeight/4)
	}
	if pr.p.MaxFee > 0 && sel.Fee > pr.p.MaxFee {
		return fmt.Errorf("%w: the fee would be %d sat (%s), over the cap of %d sat", ErrFeeCap, sel.Fee, at, pr.p.MaxFee)
	}
	if limit := pr.p.MaxFeeRatio * float64(pr.outTotal); pr.p.MaxFeeRatio > 0 && float64(sel.Fee) > limit {
		return fmt.Errorf("%w: the fee would be %d sat (%s), over %s%% of the %d sat paid (%d sat)",
			ErrFeeRatio, sel.Fee, at, strconv.FormatFloat(100*pr.p.MaxFeeRatio, 'f', -1, 64), pr.outTotal, int64(limit))
	}
	return nil
}

// insufficient says what was needed and what there was.
func (pr *problem) insufficient() error {
	var spendable int64
	for _, c := range pr.pool {
		spendable += c.Amount
	}
	for _, c := range pr.required {
		spendable += c.Amount
	}
	minFee := feeFor(pr.p.FeeRate, vsizeOf(pr.fixedWeight(1, false)+p2trInputWU))
	var notes string
	if pr.skipped > 0 {
		notes += fmt.Sprintf("; %d coins are worth less than the fee of spending them", pr.skipped)
	}
	if pr.ineligible > 0 {
		notes += fmt.Sprintf("; %d unconfirmed coins that are not our change are not spent", pr.ineligible)
	}
	return fmt.Errorf("%w: paying %d sat in %d outputs at %s sat/vB (a fee of at least %d sat) from %d sat in %d spendable coins%s",
		ErrInsufficientFunds, pr.outTotal, len(pr.outs), rateText(pr.p.FeeRate), minFee, spendable, len(pr.pool)+len(pr.required), notes)
}

func rateText(satPerKvB int64) string {
	return strconv.FormatFloat(float64(satPerKvB)/1000, 'f', -1, 64)
}
