package coinselect

// maxBnBSteps bounds the search, as Bitcoin Core does.
const maxBnBSteps = 100_000

// branchAndBound is Bitcoin Core's changeless search (Murch's algorithm).
//
// The coins, largest effective value first, are the levels of a binary
// tree: at each level a coin is taken (explored first) or left. A branch
// is abandoned when what it holds plus everything still undecided cannot
// reach the target, when it already holds more than the target plus the
// cost of change (a change output would be cheaper than the excess), or,
// when the fee rate is above the long-term rate (so each input adds
// waste), when its waste already exceeds the best found. A branch whose
// value lands in the window is a candidate; the least waste wins, waste
// being what the inputs cost now over what they would cost at the long-term
// rate plus the excess given to the fee. Leaving a coin equal in value and
// weight to the one just left would explore the same sets again, so that
// branch is skipped.
//
// Values are in 1/4000 sat (see candidate), so the window is exact: a set
// is accepted only when its inputs pay the outputs and the fee of the
// whole transaction's vsize, rounded up, for its own input count.
//
// It returns the steps taken too, for the tests.
func (pr *problem) branchAndBound() (_ Selection, ok bool, steps int) {
	pool := pr.pool // largest effective value first
	n := len(pool)
	// ahead[i]: the effective value of pool[i:], all undecided from level i.
	ahead := make([]int64, n+1)
	for i := n - 1; i >= 0; i-- {
		ahead[i] = ahead[i+1] + pool[i].effU
	}

	rate := pr.p.FeeRate
	outU := 4000 * pr.outTotal
	changeCostU := rate*pr.changeWU + pr.longTerm*pr.changeIn
	wasteGrows := rate > pr.longTerm

	// The required coins are in every set.
	var valueU, wasteU, inWU int64
	for _, c := range pr.required {
		valueU += c.effU
		wasteU += c.wasteU
		inWU += c.weight
	}
	nReq := len(pr.required)
	// The least the outputs and overhead can cost (one input): the
	// target for pruning, never above the real one.
	lowTargetU := outU + rate*pr.fixedWeight(max(nReq, 1), false)
	if valueU+ahead[0] < lowTargetU {
		return Selection{}, false, 0
	}

	var taken []int // pool indexes in the current branch
	var best []int
	bestWasteU := int64(1<<63 - 1)
	found := false
	level := 0
	for ; steps < maxBnBSteps; steps++ {
		nIn := nReq + len(taken)
		fixed := pr.fixedWeight(max(nIn, 1), false)
		targetU := outU + rate*fixed
		back := false
		switch {
		case valueU+ahead[level] < targetU:
			back = true
		case valueU > targetU+changeCostU:
			back = true
		case wasteGrows && wasteU > bestWasteU:
			back = true
		case valueU >= targetU && nIn > 0:
			// The real fee is for the vsize rounded up: the weight's
			// remainder to a multiple of 4 is paid too.
			total := fixed + inWU
			excessU := valueU - targetU - rate*(4*vsizeOf(total)-total)
			if excessU >= 0 {
				if w := wasteU + excessU; w <= bestWasteU {
					best, bestWasteU, found = append(best[:0], taken...), w, true
				}
			}
			back = true
		}
		if back {
			if len(taken) == 0 {
				break // every branch explored
			}
			last := taken[len(taken)-1]
			taken = taken[:len(taken)-1]
			valueU -= pool[last].effU
			wasteU -= pool[last].wasteU
			inWU -= pool[last].weight
			level = last + 1 // the branch that leaves pool[last]
			continue
		}
		c := pool[level]
		leftPrev := level > 0 && (len(taken) == 0 || taken[len(taken)-1] != level-1)
		if !(leftPrev && c.effU == pool[level-1].effU && c.weight == pool[level-1].weight) {
			taken = append(taken, level)
			valueU += c.effU
			wasteU += c.wasteU
			inWU += c.weight
		}
		level++
	}
	if !found {
		return Selection{}, false, steps
	}
	inputs := append([]candidate(nil), pr.required...)
	for _, i := range best {
		inputs = append(inputs, pool[i])
	}
	sel, ok := pr.settle(inputs, false, AlgorithmBnB)
	return sel, ok, steps
}
