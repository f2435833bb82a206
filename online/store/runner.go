package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrConflictUnresolved is returned when a transaction kept failing with
// serialization conflicts until the Runner's attempt bound.
var ErrConflictUnresolved = errors.New("serialization conflict could not be resolved")

// RunnerConfig bounds the retries. Zero values take the defaults.
type RunnerConfig struct {
	MaxAttempts int           // total attempts per transaction (default 10)
	BaseDelay   time.Duration // first backoff ceiling (default 2ms)
	MaxDelay    time.Duration // largest backoff ceiling (default 250ms)
}

func (c RunnerConfig) withDefaults() RunnerConfig {
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 10
	}
	if c.BaseDelay <= 0 {
		c.BaseDelay = 2 * time.Millisecond
	}
	if c.MaxDelay <= 0 {
		c.MaxDelay = 250 * time.Millisecond
	}
	if c.MaxDelay < c.BaseDelay {
		c.MaxDelay = c.BaseDelay
	}
	return c
}

// ErrFenced is returned when a fenced Runner's Fence refuses a
// transaction: the worker's election epoch is no longer current. It is not
// retried; the worker must stop and campaign again.
var ErrFenced = errors.New("fenced: this worker no longer holds its election")

// Fence is a statement run first in every transaction of a fenced Runner,
// before the function. It returns an error wrapping ErrFenced when the
// transaction must not go on; any other error ends the attempt as the
// function's own would (a serialization failure is retried).
type Fence func(*Tx) error

// Runner runs functions in SERIALIZABLE transactions.
type Runner struct {
	pool  *pgxpool.Pool
	cfg   RunnerConfig
	log   *slog.Logger
	stats *runnerCounters
	fence Fence
}

type runnerCounters struct {
	attempts, retries, giveUps, commits atomic.Uint64
}

// RunnerStats are cumulative counters for metrics.
type RunnerStats struct {
	Attempts uint64 // transactions begun
	Retries  uint64 // attempts that ended in a conflict and were run again
	GiveUps  uint64 // transactions that hit the attempt bound
	Commits  uint64 // transactions committed
}

// NewRunner returns a Runner over pool. log may be nil.
func NewRunner(pool *pgxpool.Pool, cfg RunnerConfig, log *slog.Logger) *Runner {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runner{pool: pool, cfg: cfg.withDefaults(), log: log, stats: &runnerCounters{}}
}

// Fenced returns a Runner over the same pool and counters whose every
// transaction runs f first; r itself is unchanged. A worker elected to run
// alone gets one whose fence checks its election's epoch, so a transaction
// from a stale epoch is refused by the database before it writes.
func (r *Runner) Fenced(f Fence) *Runner {
	c := *r
	c.fence = f
	return &c
}

// Stats returns the counters so far.
func (r *Runner) Stats() RunnerStats {
	return RunnerStats{
		Attempts: r.stats.attempts.Load(),
		Retries:  r.stats.retries.Load(),
		GiveUps:  r.stats.giveUps.Load(),
		Commits:  r.stats.commits.Load(),
	}
}

// Pool is the underlying pool, for read-only queries and for the migrator.
func (r *Runner) Pool() *pgxpool.Pool { return r.pool }

// Tx is the transaction handed to a Runner function. It offers database
// statements only; the context is the Runner's, so the function itself needs
// none.
type Tx struct {
	ctx     context.Context
	tx      pgx.Tx
	attempt int
}

// Exec runs a statement.
func (t *Tx) Exec(sql string, args ...any) (pgconn.CommandTag, error) {
	return t.tx.Exec(t.ctx, sql, args...)
}

// Query runs a query returning rows.
func (t *Tx) Query(sql string, args ...any) (pgx.Rows, error) {
	return t.tx.Query(t.ctx, sql, args...)
}

// QueryRow runs a query returning at most one row.
func (t *Tx) QueryRow(sql string, args ...any) pgx.Row {
	return t.tx.QueryRow(t.ctx, sql, args...)
}

// SendBatch sends queued statements in one round trip.
func (t *Tx) SendBatch(b *pgx.Batch) pgx.BatchResults {
	return t.tx.SendBatch(t.ctx, b)
}

// CopyFrom bulk-inserts rows.
func (t *Tx) CopyFrom(table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	return t.tx.CopyFrom(t.ctx, table, columns, src)
}

// Attempt is 1 on the first run of the function, 2 on its first retry, and so on.
func (t *Tx) Attempt() int { return t.attempt }

// InTx runs fn in a SERIALIZABLE transaction and commits it, retrying the
// whole function on serialization failures and deadlocks. fn may run several
// times, so it must have no effect outside the transaction. name labels the
// transaction in logs.
func (r *Runner) InTx(ctx context.Context, name string, fn func(*Tx) error) error {
	var last error
	for attempt := 1; attempt <= r.cfg.MaxAttempts; attempt++ {
		err := r.once(ctx, attempt, fn)
		if err == nil {
			return nil
		}
		if !IsRetryable(err) {
			return err
		}
		last = err
		if attempt == r.cfg.MaxAttempts {
			break
		}
		r.stats.retries.Add(1)
		delay := r.backoff(attempt)
		r.log.Debug("transaction conflict, retrying", "tx", name, "attempt", attempt, "delay", delay, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (while waiting to retry after: %v)", name, ctx.Err(), err)
		case <-time.After(delay):
		}
	}
	r.stats.giveUps.Add(1)
	r.log.Warn("transaction conflict not resolved", "tx", name, "attempts", r.cfg.MaxAttempts, "err", last)
	return fmt.Errorf("%s: %w after %d attempts: %w", name, ErrConflictUnresolved, r.cfg.MaxAttempts, last)
}

// InTxOnce runs fn in a SERIALIZABLE transaction exactly once: a conflict is
// returned to the caller, never retried. Use it for steps that must not run
// twice even when the first run's outcome is unknown.
func (r *Runner) InTxOnce(ctx context.Context, name string, fn func(*Tx) error) error {
	if err := r.once(ctx, 1, fn); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func (r *Runner) once(ctx context.Context, attempt int, fn func(*Tx) error) (err error) {
	r.stats.attempts.Add(1)
	tx, err := r.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable, AccessMode: pgx.ReadWrite})
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			// A failed rollback only means the connection is gone; the
			// server aborts the transaction on its own.
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	t := &Tx{ctx: ctx, tx: tx, attempt: attempt}
	if r.fence != nil {
		if err := r.fence(t); err != nil {
			return err
		}
	}
	if err := fn(t); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	r.stats.commits.Add(1)
	return nil
}

// backoff is "full jitter": a random delay up to an exponentially growing
// ceiling, so conflicting workers spread out instead of colliding again.
func (r *Runner) backoff(attempt int) time.Duration {
	ceiling := r.cfg.BaseDelay << min(attempt-1, 20)
	if ceiling <= 0 || ceiling > r.cfg.MaxDelay {
		ceiling = r.cfg.MaxDelay
	}
	return time.Duration(rand.Int64N(int64(ceiling))) + 1
}

// SQLSTATE codes the Runner retries.
const (
	SQLStateSerializationFailure = "40001"
	SQLStateDeadlockDetected     = "40P01"
)

// IsRetryable reports whether err is a serialization failure or a deadlock.
func IsRetryable(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == SQLStateSerializationFailure || pg.Code == SQLStateDeadlockDetected
	}
	return false
}
