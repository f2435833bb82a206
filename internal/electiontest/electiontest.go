// Package electiontest runs real elections (online/election) in tests, as
// serve processes of other instances would.
package electiontest

import (
	"context"
	"testing"
	"time"

	"github.com/cryptoassets/cryptoassets/online/election"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// Lease and Renew are the test elections' settings.
const (
	Lease = 2 * time.Second
	Renew = 500 * time.Millisecond
)

// Campaign runs instance's election of worker (of asset, "" for every
// asset) on runner's database with a leader that idles, until stop is
// called (or the test ends); stop waits for Run to return, the lease
// released.
func Campaign(tb testing.TB, runner *store.Runner, worker, asset, instance string) (el *election.Election, stop func()) {
	tb.Helper()
	el, err := election.New(runner, worker, asset, election.Config{Instance: instance, Lease: Lease, Renew: Renew})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = el.Run(ctx, func(ctx context.Context) error { <-ctx.Done(); return nil })
	}()
	stop = func() { cancel(); <-done }
	tb.Cleanup(stop)
	return el, stop
}
