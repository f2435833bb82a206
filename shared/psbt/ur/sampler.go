package ur

// randomSampler draws indexes with given relative weights by Walker's alias
// method, in the exact construction order of the BCR-2020-005 reference
// (Vose's variant as written by Keith Schwarz): encoder and decoder must
// turn the same random numbers into the same indexes, so this cannot be
// swapped for any other sampler, however equivalent in distribution.
type randomSampler struct {
	prob  []float64
	alias []int
}

// newRandomSampler takes positive weights; they need not sum to 1.
func newRandomSampler(weights []float64) *randomSampler {
	n := len(weights)
	sum := 0.0
	for _, w := range weights {
		sum += w
	}
	p := make([]float64, n)
	for i, w := range weights {
		p[i] = w * float64(n) / sum
	}
	var small, large []int
	for j := n - 1; j >= 0; j-- {
		if p[j] < 1 {
			small = append(small, j)
		} else {
			large = append(large, j)
		}
	}
	s := &randomSampler{prob: make([]float64, n), alias: make([]int, n)}
	for len(small) > 0 && len(large) > 0 {
		a := small[len(small)-1]
		small = small[:len(small)-1]
		g := large[len(large)-1]
		large = large[:len(large)-1]
		s.prob[a] = p[a]
		s.alias[a] = g
		p[g] += p[a] - 1
		if p[g] < 1 {
			small = append(small, g)
		} else {
			large = append(large, g)
		}
	}
	for _, g := range large {
		s.prob[g] = 1
	}
	for _, a := range small {
		s.prob[a] = 1
	}
	return s
}

// next draws one index using two numbers from rng.
func (s *randomSampler) next(rng *xoshiro256) int {
	r1, r2 := rng.nextDouble(), rng.nextDouble()
	n := len(s.prob)
	i := min(int(float64(n)*r1), n-1) // r1 can round up to 1.0
	if r2 < s.prob[i] {
		return i
	}
	return s.alias[i]
}

// newDegreeSampler weights degree d (index d-1) of a fountain part by 1/d,
// for a message of seqLen fragments.
func newDegreeSampler(seqLen int) *randomSampler {
	w := make([]float64, seqLen)
	for i := range w {
		w[i] = 1 / float64(i+1)
	}
	return newRandomSampler(w)
}

// shuffledPrefix returns the first count elements of the reference shuffle
// of [0, n): repeatedly remove the element at rng.nextInt(0, remaining-1)
// from the ordered remaining list and append it to the output. A Fenwick
// tree finds the k-th remaining element in O(log n), so a part of high
// degree costs O(n log n) rather than the O(n²) of removing from a list.
func shuffledPrefix(n, count int, rng *xoshiro256) []int {
	tree := newRemainingSet(n)
	out := make([]int, 0, count)
	for remaining := n; len(out) < count; remaining-- {
		k := min(rng.nextInt(0, remaining-1), remaining-1) // nextDouble can round up to 1.0
		out = append(out, tree.removeKth(k))
	}
	return out
}

// remainingSet is a Fenwick tree over [0, n) counting which elements remain.
type remainingSet struct {
	tree []int32 // 1-based
	top  int     // highest power of two <= n
}

func newRemainingSet(n int) *remainingSet {
	t := make([]int32, n+1)
	for i := 1; i <= n; i++ {
		t[i]++
		if j := i + i&-i; j <= n {
			t[j] += t[i]
		}
	}
	top := 1
	for top*2 <= n {
		top *= 2
	}
	return &remainingSet{tree: t, top: top}
}

// removeKth removes and returns the k-th (0-based) remaining element.
func (r *remainingSet) removeKth(k int) int {
	pos, rem := 0, int32(k)+1
	for step := r.top; step > 0; step /= 2 {
		if next := pos + step; next < len(r.tree) && r.tree[next] < rem {
			pos = next
			rem -= r.tree[next]
		}
	}
	// pos is the count of elements before the answer; the answer is pos (0-based).
	for i := pos + 1; i < len(r.tree); i += i & -i {
		r.tree[i]--
	}
	return pos
}
