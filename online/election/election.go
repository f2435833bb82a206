package election

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/store"
)

// Defaults of Config.
const (
	DefaultLease = 5 * time.Second
)

// Config is what every election of one process shares.
type Config struct {
	// Instance names this process as a lease holder; default host-pid.
	// Two live processes must never share one; a process started under
	// the name of a dead one takes its leases over at once.
	Instance string
	// Lease is how long a holder's lease lasts after each renewal; a
	// killed holder is replaced within Lease + 2 × Renew. Default 5s.
	Lease time.Duration
	// Renew is how often the holder renews and a standby campaigns;
	// default Lease/3. It must be below Lease/2.
	Renew time.Duration
	Log   *slog.Logger
}

// DefaultInstance is host-pid.
func DefaultInstance() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "localhost"
	}
	return fmt.Sprintf("%s-%d", h, os.Getpid())
}

// WithDefaults fills the zero fields and checks the rest.
func (c Config) WithDefaults() (Config, error) {
	if c.Instance == "" {
		c.Instance = DefaultInstance()
	}
	if c.Lease == 0 {
		c.Lease = DefaultLease
	}
	if c.Renew == 0 {
		c.Renew = c.Lease / 3
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	switch {
	case len(c.Instance) > 200:
		return c, fmt.Errorf("election: instance %q is longer than 200 bytes", c.Instance)
	case c.Lease < 100*time.Millisecond:
		return c, fmt.Errorf("election: lease %v is below 100ms", c.Lease)
	case c.Renew <= 0 || c.Renew*2 > c.Lease:
		return c, fmt.Errorf("election: renew interval %v must be above 0 and at most half the lease %v", c.Renew, c.Lease)
	}
	return c, nil
}

// TxTimeout bounds each statement and each idle wait inside a fenced
// transaction: the lease minus one renew interval.
func (c Config) TxTimeout() time.Duration { return c.Lease - c.Renew }

var workerName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,63}$`)

// Election is one worker's election (of one asset, or of every asset when
// asset is "") as seen by this process.
type Election struct {
	runner        *store.Runner // unfenced: the lease row is not a worker's write
	worker, asset string
	cfg           Config

	// asking is read-held by each fence while it asks the database, so a
	// step-down lets a fence already asking get its answer (a refusal)
	// before the worker's context is cancelled.
	asking sync.RWMutex

	mu      sync.Mutex
	started bool  // Run was called: the fence checks from now on
	epoch   int64 // the held epoch; 0 when not leading
	lost    chan struct{}
	onRole  func(leading bool)

	terms, refusals atomic.Uint64
}

// New is worker's election over runner's database.
func New(runner *store.Runner, worker, asset string, cfg Config) (*Election, error) {
	if !workerName.MatchString(worker) {
		return nil, fmt.Errorf("election: worker name %q: want lower case letters, digits and dashes", worker)
	}
	if asset != "" {
		if err := store.ValidateSchemaName(asset); err != nil {
			return nil, fmt.Errorf("election: %w", err)
		}
	}
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return nil, err
	}
	return &Election{runner: runner, worker: worker, asset: asset, cfg: cfg}, nil
}

// Key is worker/asset (worker alone for a worker of every asset).
func (e *Election) Key() string {
	if e.asset == "" {
		return e.worker
	}
	return e.worker + "/" + e.asset
}

// Worker is the election's name: the worker column of its lease row.
func (e *Election) Worker() string { return e.worker }

// Asset is the election's asset, "" for one of every asset.
func (e *Election) Asset() string { return e.asset }

// Campaigning says Run was called: from then on the fence checks every
// transaction (before it, a fenced runner's writes pass unchecked, as the
// workers' registration while they are built does).
func (e *Election) Campaigning() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.started
}

// Instance is the holder name this process campaigns with.
func (e *Election) Instance() string { return e.cfg.Instance }

// OnRole sets a function called whenever this process becomes leader
// (true) or stops leading (false). Set it before Run.
func (e *Election) OnRole(fn func(leading bool)) { e.onRole = fn }

// Epoch is the epoch held, 0 when this process does not lead.
func (e *Election) Epoch() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.epoch
}

// Stats are an election's counters.
type Stats struct {
	Terms    uint64 // times this process was elected
	Refusals uint64 // transactions its fence refused
}

// Stats returns the counters so far.
func (e *Election) Stats() Stats {
	return Stats{Terms: e.terms.Load(), Refusals: e.refusals.Load()}
}

// Runner is runner fenced by this election: the one to build the worker on.
func (e *Election) Runner(runner *store.Runner) *store.Runner { return runner.Fenced(e.Fence) }

const fenceSQL = `SELECT set_config('statement_timeout', $5, true), set_config('idle_in_transaction_session_timeout', $5, true)
FROM public.worker_leases
WHERE worker = $1 AND asset = $2 AND holder = $3 AND epoch = $4 AND expires_at > clock_timestamp()
FOR SHARE`

// Fence is the store.Fence of this election's worker: the transaction goes
// on only while the database shows this process holding the current epoch
// of an unexpired lease, and keeps the lease row share-locked until it ends.
func (e *Election) Fence(tx *store.Tx) error {
	e.asking.RLock()
	defer e.asking.RUnlock()
	e.mu.Lock()
	started, epoch, lost := e.started, e.epoch, e.lost
	e.mu.Unlock()
	if !started {
		return nil
	}
	pause("fence/" + e.Key())
	if epoch == 0 {
		return e.refuse(epoch, lost, "this process does not lead")
	}
	var a, b string
	ms := fmt.Sprintf("%dms", e.cfg.TxTimeout().Milliseconds())
	err := tx.QueryRow(fenceSQL, e.worker, e.asset, e.cfg.Instance, epoch, ms).Scan(&a, &b)
	if errors.Is(err, pgx.ErrNoRows) {
		return e.refuse(epoch, lost, "refused by the database")
	}
	return err
}

func (e *Election) refuse(epoch int64, lost chan struct{}, why string) error {
	e.refusals.Add(1)
	e.cfg.Log.Warn("election: write refused by the fence", "election", e.Key(), "instance", e.cfg.Instance, "epoch", epoch, "why", why)
	e.endTerm(lost)
	return fmt.Errorf("election %s, epoch %d: %w", e.Key(), epoch, store.ErrFenced)
}

// Run campaigns until ctx ends. Each time it is elected it runs lead with
// a context that ends when the lease is lost (a renewal that fails until
// the lease would pass, or a refused fence), waits for lead to return and
// campaigns again. When ctx ends it stops lead and releases the lease, so a
// standby takes over at once. A lead that returns by itself while leading
// ends Run with its error, after the lease is released.
func (e *Election) Run(ctx context.Context, lead func(context.Context) error) error {
	e.mu.Lock()
	if e.started {
		e.mu.Unlock()
		return fmt.Errorf("election %s: Run called twice", e.Key())
	}
	e.started = true
	e.mu.Unlock()
	for ctx.Err() == nil {
		epoch, validUntil, err := e.campaign(ctx)
		if err != nil && ctx.Err() == nil {
			e.cfg.Log.Warn("election: campaign failed", "election", e.Key(), "err", err)
		}
		if epoch == 0 {
			e.sleep(ctx, e.cfg.Renew/2+rand.N(e.cfg.Renew/2+1))
			continue
		}
		done, err := e.term(ctx, epoch, validUntil, lead)
		if done {
			return err
		}
	}
	return nil
}

// term leads from epoch until the lease is lost (false) or Run must end
// (true, with lead's error).
func (e *Election) term(ctx context.Context, epoch int64, validUntil time.Time, lead func(context.Context) error) (bool, error) {
	lost := make(chan struct{})
	e.mu.Lock()
	e.epoch, e.lost = epoch, lost
	e.mu.Unlock()
	e.terms.Add(1)
	e.cfg.Log.Info("election: leading", "election", e.Key(), "instance", e.cfg.Instance, "epoch", epoch)
	e.role(true)
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ended := make(chan error, 1)
	go func() { ended <- lead(tctx) }()
	stepDown := func(why string) {
		e.endTerm(lost)
		e.letFencesAnswer()
		cancel()
		<-ended
		e.role(false)
		e.cfg.Log.Warn("election: stopped leading", "election", e.Key(), "instance", e.cfg.Instance, "epoch", epoch, "why", why)
	}
	t := time.NewTicker(e.cfg.Renew)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			stepDown("stopping")
			e.release(epoch)
			return true, nil
		case err := <-ended:
			e.endTerm(lost)
			e.role(false)
			e.release(epoch)
			if ctx.Err() != nil {
				return true, nil
			}
			e.cfg.Log.Error("election: the worker stopped by itself; its lease is released", "election", e.Key(), "err", err)
			return true, err
		case <-lost:
			stepDown("its fence was refused")
			return false, nil
		case <-t.C:
			until, ok, err := e.renew(ctx, epoch)
			switch {
			case ok:
				validUntil = until
			case err == nil:
				stepDown("its lease was taken over")
				return false, nil
			case !time.Now().Add(e.cfg.Renew).Before(validUntil):
				// The next try would come after the lease passed.
				stepDown(fmt.Sprintf("its lease could not be renewed: %v", err))
				return false, nil
			default:
				e.cfg.Log.Warn("election: renewal failed, trying again", "election", e.Key(), "err", err)
			}
		}
	}
}

// endTerm ends the term whose channel is lost: the fence refuses at once,
// and the term's loop hears of it.
func (e *Election) endTerm(lost chan struct{}) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if lost == nil || e.lost != lost {
		return
	}
	e.epoch = 0
	select {
	case <-lost:
	default:
		close(lost)
	}
}

// letFencesAnswer waits, up to a renew interval, for the fences asking the
// database to get their answer.
func (e *Election) letFencesAnswer() {
	done := make(chan struct{})
	go func() { e.asking.Lock(); e.asking.Unlock(); close(done) }()
	select {
	case <-done:
	case <-time.After(e.cfg.Renew):
	}
}

func (e *Election) role(leading bool) {
	if e.onRole != nil {
		e.onRole(leading)
	}
}

func (e *Election) sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func (e *Election) micros() int64 { return e.cfg.Lease.Microseconds() }

// leaseTx runs fn on the unfenced runner with the lease statements bounded
// by one renew interval, so a lease row locked by another's transaction
// makes this attempt fail instead of hanging the campaign; and with the
// transaction ended by the database once it is idle for as long, so this
// process frozen mid-transaction (SIGSTOP, a paused VM) holds no lease row
// locked against the others for longer than that.
func (e *Election) leaseTx(ctx context.Context, name string, fn func(*store.Tx) error) error {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Renew)
	defer cancel()
	bound := fmt.Sprintf("%dms", e.cfg.Renew.Milliseconds())
	return e.runner.InTx(ctx, name, func(tx *store.Tx) error {
		if _, err := tx.Exec(`SELECT set_config('lock_timeout', $1, true), set_config('idle_in_transaction_session_timeout', $1, true)`, bound); err != nil {
			return err
		}
		return fn(tx)
	})
}

// campaign takes the lease when it is free or has passed, or is held under
// this instance's own name: a restarted process (its predecessor is dead,
// names being unique among live ones; one that is not is fenced off by the
// new epoch) and this process after a term it ended itself (whose workers
// have stopped). Epoch 0 when another instance holds it.
func (e *Election) campaign(ctx context.Context) (epoch int64, validUntil time.Time, err error) {
	start := time.Now()
	err = e.leaseTx(ctx, "election-campaign", func(tx *store.Tx) error {
		epoch = 0
		err := tx.QueryRow(`INSERT INTO public.worker_leases AS l (worker, asset, holder, epoch, acquired_at, renewed_at, expires_at)
			VALUES ($1, $2, $3, 1, clock_timestamp(), clock_timestamp(), clock_timestamp() + $4 * interval '1 microsecond')
			ON CONFLICT (worker, asset) DO UPDATE SET holder = EXCLUDED.holder, epoch = l.epoch + 1,
				acquired_at = EXCLUDED.acquired_at, renewed_at = EXCLUDED.renewed_at, expires_at = EXCLUDED.expires_at
			WHERE l.expires_at <= clock_timestamp() OR l.holder = EXCLUDED.holder
			RETURNING epoch`, e.worker, e.asset, e.cfg.Instance, e.micros()).Scan(&epoch)
		pause("campaign/" + e.Key())
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil {
		return 0, time.Time{}, err
	}
	return epoch, start.Add(e.cfg.Lease), nil
}

// renew extends the lease held at epoch; ok false with no error when the
// lease is no longer this process's.
func (e *Election) renew(ctx context.Context, epoch int64) (validUntil time.Time, ok bool, err error) {
	start := time.Now()
	err = e.leaseTx(ctx, "election-renew", func(tx *store.Tx) error {
		tag, err := tx.Exec(`UPDATE public.worker_leases SET renewed_at = clock_timestamp(), expires_at = clock_timestamp() + $5 * interval '1 microsecond'
			WHERE worker = $1 AND asset = $2 AND holder = $3 AND epoch = $4 AND expires_at > clock_timestamp()`,
			e.worker, e.asset, e.cfg.Instance, epoch, e.micros())
		ok = err == nil && tag.RowsAffected() == 1
		return err
	})
	if err != nil {
		return time.Time{}, false, err
	}
	return start.Add(e.cfg.Lease), ok, nil
}

// release ends the lease held at epoch now, so a standby need not wait for
// it to pass. The fence refuses the epoch from then on.
func (e *Election) release(epoch int64) {
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.Renew)
	defer cancel()
	err := e.leaseTx(ctx, "election-release", func(tx *store.Tx) error {
		_, err := tx.Exec(`UPDATE public.worker_leases SET expires_at = greatest(renewed_at, clock_timestamp())
			WHERE worker = $1 AND asset = $2 AND holder = $3 AND epoch = $4`, e.worker, e.asset, e.cfg.Instance, epoch)
		return err
	})
	if err != nil {
		e.cfg.Log.Warn("election: releasing the lease failed; it passes by itself", "election", e.Key(), "err", err)
	}
}

// Lease is one row of public.worker_leases.
type Lease struct {
	Worker, Asset, Holder string
	Epoch                 int64
	AcquiredAt, ExpiresAt time.Time
	Live                  bool // not expired by the database's clock
	// ExpiresIn is ExpiresAt less the database's clock at the read:
	// negative once the lease has passed.
	ExpiresIn time.Duration
}

// Leases reads every lease, for status, metrics and tests; q may be a
// transaction (status reads them in its snapshot).
func Leases(ctx context.Context, q interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}) ([]Lease, error) {
	rows, err := q.Query(ctx, `SELECT worker, asset, holder, epoch, acquired_at, expires_at, expires_at > c.now,
		(extract(epoch FROM expires_at - c.now) * 1e6)::bigint
		FROM public.worker_leases, LATERAL (SELECT clock_timestamp() AS now) c ORDER BY asset, worker`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Lease, error) {
		var l Lease
		var micros int64
		err := r.Scan(&l.Worker, &l.Asset, &l.Holder, &l.Epoch, &l.AcquiredAt, &l.ExpiresAt, &l.Live, &micros)
		l.ExpiresIn = time.Duration(micros) * time.Microsecond
		return l, err
	})
}
