package election

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cryptoassets/cryptoassets/internal/storetest"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	testLease = 600 * time.Millisecond
	testRenew = 200 * time.Millisecond
)

func newElection(t *testing.T, r *store.Runner, instance string) *Election {
	t.Helper()
	e, err := New(r, "follower", "btc", Config{Instance: instance, Lease: testLease, Renew: testRenew})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func setupWrites(t *testing.T, r *store.Runner) {
	t.Helper()
	if _, err := r.Pool().Exec(context.Background(), `CREATE TABLE election_writes (instance text NOT NULL, epoch bigint NOT NULL, holder text)`); err != nil {
		t.Fatal(err)
	}
}

// writeAs records who wrote, under the lease row as the fenced
// transaction sees it (its holder and epoch, which the fence's share lock
// keeps still until the commit). e.Epoch() would not do: a leader whose
// renewal timed out steps down while a write it fenced is still in flight,
// and that write is rightly committed.
func writeAs(ctx context.Context, r *store.Runner, e *Election) error {
	return r.InTx(ctx, "write", func(tx *store.Tx) error {
		_, err := tx.Exec(`INSERT INTO election_writes (instance, epoch, holder)
			SELECT $1, coalesce(max(epoch), 0), coalesce(max(holder), '') FROM public.worker_leases WHERE worker = $2 AND asset = $3`,
			e.Instance(), e.Worker(), e.Asset())
		return err
	})
}

func waitLeading(t *testing.T, e *Election) int64 {
	t.Helper()
	var epoch int64
	testenv.WaitFor(t, e.Instance()+" leading", func() bool { epoch = e.Epoch(); return epoch != 0 })
	return epoch
}

// Three instances campaign for one worker and each writes through its
// fenced runner as fast as it can while the leader is stopped (its lease
// released) and killed (its lease left to pass) in turns: at every moment
// at most one leads, every write committed was made by the lease's holder
// at that epoch, and the standbys' writes were refused. Each takeover
// comes within lease + renew of the leader's end.
func TestOneLeaderAtATime(t *testing.T) {
	r := storetest.Runner(t, 16)
	setupWrites(t, r)
	ctx := testenv.Ctx(t, 2*time.Minute)
	var leaders, maxLeaders atomic.Int32
	var refused, committed atomic.Int64
	type inst struct {
		e      *Election
		cancel context.CancelFunc
		done   chan struct{}
	}
	start := func(name string) *inst {
		e := newElection(t, r, name)
		e.OnRole(func(leading bool) {
			if leading {
				n := leaders.Add(1)
				for m := maxLeaders.Load(); n > m && !maxLeaders.CompareAndSwap(m, n); m = maxLeaders.Load() {
				}
			} else {
				leaders.Add(-1)
			}
		})
		fr := e.Runner(r)
		ictx, cancel := context.WithCancel(ctx)
		in := &inst{e: e, cancel: cancel, done: make(chan struct{})}
		go func() {
			defer close(in.done)
			_ = e.Run(ictx, func(ctx context.Context) error { <-ctx.Done(); return nil })
		}()
		// Every instance writes all the time, leading or not, once its
		// fence checks (a write before Run is not fenced at all).
		go func() {
			for !e.Campaigning() && ictx.Err() == nil {
				time.Sleep(time.Millisecond)
			}
			for ictx.Err() == nil {
				switch err := writeAs(ictx, fr, e); {
				case err == nil:
					committed.Add(1)
				case errors.Is(err, store.ErrFenced):
					refused.Add(1)
					time.Sleep(5 * time.Millisecond)
				}
			}
		}()
		return in
	}
	insts := []*inst{start("a"), start("b"), start("c")}
	leader := func() *inst {
		var l *inst
		testenv.WaitFor(t, "a leader", func() bool {
			for _, in := range insts {
				if in.e.Epoch() != 0 {
					l = in
					return true
				}
			}
			return false
		})
		return l
	}
	for round := range 4 {
		l := leader()
		time.Sleep(3 * testRenew)
		ended := time.Now()
		l.cancel()
		<-l.done
		if round%2 == 1 {
			// A kill: nothing released, the lease must pass first. The
			// election stopped cleanly, so pass it by hand as a kill would
			// leave it: held and running out.
			if _, err := r.Pool().Exec(ctx, `UPDATE public.worker_leases SET holder = holder || '-killed', expires_at = clock_timestamp() + $1 * interval '1 microsecond'`, testLease.Microseconds()); err != nil {
				t.Fatal(err)
			}
		}
		for i, in := range insts {
			if in == l {
				insts[i] = start(l.e.Instance() + "x")
			}
		}
		next := leader()
		if took := time.Since(ended); took > testLease+testRenew+100*time.Millisecond {
			t.Errorf("round %d: %s took over after %v, above lease %v + renew %v", round, next.e.Instance(), took, testLease, testRenew)
		}
	}
	for _, in := range insts {
		in.cancel()
		<-in.done
	}
	if maxLeaders.Load() != 1 {
		t.Fatalf("at most %d leaders at once, want 1", maxLeaders.Load())
	}
	if refused.Load() == 0 || committed.Load() == 0 {
		t.Fatalf("%d writes committed, %d refused: the test proves nothing unless both happened", committed.Load(), refused.Load())
	}
	// Every committed write was made at an epoch by that epoch's holder:
	// one holder per epoch, epochs one per term.
	var holders, epochs int
	if err := r.Pool().QueryRow(ctx, `SELECT count(DISTINCT (instance, epoch)), count(DISTINCT epoch) FROM election_writes`).Scan(&holders, &epochs); err != nil {
		t.Fatal(err)
	}
	if holders != epochs {
		t.Fatalf("%d (instance, epoch) pairs over %d epochs: an epoch was written by two instances", holders, epochs)
	}
	var zero int
	if err := r.Pool().QueryRow(ctx, `SELECT count(*) FROM election_writes WHERE epoch = 0 OR holder IS DISTINCT FROM instance`).Scan(&zero); err != nil || zero != 0 {
		t.Fatalf("%d writes by a process that did not hold the lease (%v)", zero, err)
	}
	t.Logf("%d writes committed, %d refused, %d epochs", committed.Load(), refused.Load(), epochs)
}

// A leader frozen past its lease. A transaction of its worker that passed
// the fence holds the lease row, so it cannot be taken over under it; the
// server ends that transaction once it idles past the lease minus a renew
// interval, so the freeze delays a takeover by that much at most and the
// stale transaction never commits. The new leader's epoch is one more, and
// the frozen one's next transaction is refused by the database even though
// its process still believes it leads.
func TestStaleEpochRefused(t *testing.T) {
	r := storetest.Runner(t, 8)
	setupWrites(t, r)
	ctx := testenv.Ctx(t, time.Minute)
	a, b := newElection(t, r, "a"), newElection(t, r, "b")
	actx, acancel := context.WithCancel(ctx)
	defer acancel()
	go func() { _ = a.Run(actx, func(ctx context.Context) error { <-ctx.Done(); return nil }) }()
	epoch := waitLeading(t, a)
	fa := a.Runner(r)

	inFence, finish := make(chan struct{}), make(chan struct{})
	var stale error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		stale = fa.InTxOnce(ctx, "frozen", func(tx *store.Tx) error {
			close(inFence)
			<-finish
			_, err := tx.Exec(`INSERT INTO election_writes VALUES ('a', $1)`, epoch)
			return err
		})
	}()
	<-inFence
	tx, err := r.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tx.Exec(ctx, `SET LOCAL lock_timeout = '100ms'; UPDATE public.worker_leases SET epoch = epoch + 1`)
	_ = tx.Rollback(ctx)
	if err == nil {
		t.Fatal("the lease row was updated under a fenced transaction's share lock")
	}
	// a freezes: its election stops renewing; only its worker's
	// transaction lives on.
	acancel()
	bctx, bcancel := context.WithCancel(ctx)
	defer bcancel()
	go func() { _ = b.Run(bctx, func(ctx context.Context) error { <-ctx.Done(); return nil }) }()
	if got := waitLeading(t, b); got != epoch+1 {
		t.Fatalf("b leads at epoch %d, want %d", got, epoch+1)
	}
	close(finish)
	wg.Wait()
	if stale == nil {
		t.Fatal("a's frozen transaction committed after b took over")
	}
	// a wakes and writes with its old epoch, as a paused process would.
	a.mu.Lock()
	a.epoch = epoch
	a.mu.Unlock()
	if err := writeAs(ctx, fa, a); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("a's write at stale epoch %d: %v, want ErrFenced", epoch, err)
	}
	var n int
	if err := r.Pool().QueryRow(ctx, `SELECT count(*) FROM election_writes`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d rows written by the stale leader (%v), want none", n, err)
	}
	if a.Stats().Refusals == 0 {
		t.Fatal("no refusal counted")
	}
	t.Logf("the frozen transaction ended with: %v", stale)
}

// Bad settings and names are refused with the reason, before anything is
// written.
func TestNewRefuses(t *testing.T) {
	r := storetest.Runner(t, 2)
	cases := []struct {
		name, worker, asset string
		cfg                 Config
		want                string
	}{
		{"renew above half the lease", "follower", "btc", Config{Lease: time.Second, Renew: 600 * time.Millisecond}, "at most half the lease"},
		{"lease too short", "follower", "btc", Config{Lease: 50 * time.Millisecond}, "below 100ms"},
		{"negative renew", "follower", "btc", Config{Lease: time.Second, Renew: -time.Second}, "must be above 0"},
		{"instance too long", "follower", "btc", Config{Instance: strings.Repeat("x", 201)}, "longer than 200 bytes"},
		{"worker name", "Follower!", "btc", Config{}, "worker name"},
		{"asset name", "follower", "B-TC", Config{}, "election:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(r, tc.worker, tc.asset, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one containing %q", err, tc.want)
			}
		})
	}
	if n := countLeases(t, r); n != 0 {
		t.Fatalf("%d leases written", n)
	}
	e, err := New(r, "deliverer", "", Config{})
	if err != nil {
		t.Fatal(err)
	}
	if e.Key() != "deliverer" || e.cfg.Lease != DefaultLease || e.cfg.Renew != DefaultLease/3 || e.Instance() != DefaultInstance() {
		t.Fatalf("defaults: key %s, %+v", e.Key(), e.cfg)
	}
}

func countLeases(t *testing.T, r *store.Runner) int {
	t.Helper()
	var n int
	if err := r.Pool().QueryRow(context.Background(), `SELECT count(*) FROM public.worker_leases`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A process started under the name of a dead holder takes its live lease
// at once, at a new epoch; under another name it waits for the lease to
// pass.
func TestRestartUnderTheSameNameTakesOverAtOnce(t *testing.T) {
	r := storetest.Runner(t, 4)
	ctx := testenv.Ctx(t, time.Minute)
	for _, tc := range []struct {
		name, restartAs string
		atOnce          bool
	}{
		{"same name", "a", true},
		{"another name", "b", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := r.Pool().Exec(ctx, `DELETE FROM public.worker_leases`); err != nil {
				t.Fatal(err)
			}
			// a's lease as a killed a leaves it: live for a whole lease.
			if _, err := r.Pool().Exec(ctx, `INSERT INTO public.worker_leases VALUES ('follower', 'btc', 'a', 7, now(), clock_timestamp(), clock_timestamp() + $1 * interval '1 microsecond')`, testLease.Microseconds()); err != nil {
				t.Fatal(err)
			}
			e := newElection(t, r, tc.restartAs)
			epoch, _, err := e.campaign(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tc.atOnce != (epoch == 8) || (!tc.atOnce && epoch != 0) {
				t.Fatalf("campaign as %s: epoch %d", tc.restartAs, epoch)
			}
		})
	}
}

// Leases reads each lease's state on the database's clock: live with time
// left, or passed with how long ago.
func TestLeasesReadExpiryOnTheDatabaseClock(t *testing.T) {
	r := storetest.Runner(t, 2)
	ctx := testenv.Ctx(t, time.Minute)
	tests := []struct {
		worker string
		offset string // expires_at less now()
		live   bool
	}{{"future", "1 hour", true}, {"past", "-1 hour", false}}
	for _, tc := range tests {
		if _, err := r.Pool().Exec(ctx, `INSERT INTO public.worker_leases (worker, asset, holder, epoch, acquired_at, renewed_at, expires_at)
			VALUES ($1, '', 'x', 3, now() - interval '2 hours', now() - interval '2 hours', now() + $2::interval)`, tc.worker, tc.offset); err != nil {
			t.Fatal(err)
		}
	}
	ls, err := Leases(ctx, r.Pool())
	if err != nil || len(ls) != len(tests) {
		t.Fatalf("leases %+v %v", ls, err)
	}
	for _, l := range ls {
		for _, tc := range tests {
			if l.Worker != tc.worker {
				continue
			}
			in := l.ExpiresIn
			if l.Live != tc.live || l.Epoch != 3 || l.Holder != "x" || (tc.live != (in > 59*time.Minute && in <= time.Hour)) || (!tc.live && (in > -time.Hour || in < -61*time.Minute)) {
				t.Fatalf("%s: %+v", tc.worker, l)
			}
		}
	}
}
