package signer

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
)

// forEach runs fn for every j in [0, n) on up to GOMAXPROCS workers, each
// taking the next j in order, and returns the error of the lowest j that
// failed. Once one fails no new j is started; every lower j was handed out
// before it and runs to its end, so the error returned is the same whatever
// the scheduling.
func forEach(n int, fn func(worker, j int) error) error {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for j := range n {
			if err := fn(0, j); err != nil {
				return err
			}
		}
		return nil
	}
	errs := make([]error, n)
	var next atomic.Int64
	var failed atomic.Bool
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for !failed.Load() {
				j := int(next.Add(1) - 1)
				if j >= n {
					return
				}
				if err := fn(w, j); err != nil {
					errs[j] = err
					failed.Store(true)
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Keys derives the signing key at each path on every core (a nil path is
// skipped), for a caller that checks the inputs are its own before it signs
// them with the same keys (Input.Key). errs[i] is the error of paths[i].
// The caller wipes the keys.
func Keys(m *hdkeys.Master, paths [][]uint32) (keys []*hdkeys.SigningKey, errs []error) {
	keys, errs = make([]*hdkeys.SigningKey, len(paths)), make([]error, len(paths))
	_ = forEach(len(paths), func(_, i int) error {
		if paths[i] != nil {
			keys[i], errs[i] = m.SigningKey(paths[i])
		}
		return nil
	})
	return keys, errs
}
