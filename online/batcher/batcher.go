package batcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/addresses"
	"github.com/cryptoassets/cryptoassets/online/batches"
	"github.com/cryptoassets/cryptoassets/online/broadcast"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/hotwallet"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// Config is one asset's batching and fee policy. Fee rates are satoshis
// per 1000 virtual bytes.
type Config struct {
	// Interval: the oldest requested withdrawal waits at most this long.
	Interval time.Duration
	// Poll is how often the batcher looks for work and follows its
	// batches' confirmations.
	Poll time.Duration
	// ThresholdCount and ThresholdSat batch at once when that many
	// withdrawals, or that much, are waiting (0: off).
	ThresholdCount int
	ThresholdSat   int64
	// MaxOutputs bounds the withdrawals of one batch.
	MaxOutputs int
	// ConfTarget is the blocks the fee estimate aims at.
	ConfTarget int
	// FallbackFeeRate is used when the node has no estimate; the rate is
	// clamped to [MinRelayFeeRate, MaxFeeRate].
	FallbackFeeRate, MinRelayFeeRate, MaxFeeRate int64
	// LongTermFeeRate weighs spending coins now against later (waste).
	LongTermFeeRate int64
	// MaxFee (sat) and MaxFeeRatio (fee over the amount paid) cap a
	// batch's fee: one that would exceed either is not built.
	MaxFee      int64
	MaxFeeRatio float64
	// Confirmations make a batch confirmed; CoinConfirmations make a
	// received coin spendable (our own change is spendable at once).
	Confirmations     int
	CoinConfirmations int
	// DeadlineBlocks is how many blocks a batch has to confirm: while it
	// waits, the automatic bumper raises its rate each block along a line
	// from its first rate to its budget (the fee caps), reached at the
	// deadline. 0 means 6; negative turns automatic bumping off.
	DeadlineBlocks int
	// Resend is how often a broadcast batch not yet in a block is sent
	// again (a node that restarted may have dropped it).
	Resend time.Duration
}

func (c *Config) defaults() {
	if c.Interval <= 0 {
		c.Interval = time.Minute
	}
	if c.Poll <= 0 {
		c.Poll = 2 * time.Second
	}
	if c.MaxOutputs <= 0 {
		c.MaxOutputs = 1000
	}
	fp := batches.FeePolicy{ConfTarget: c.ConfTarget, Fallback: c.FallbackFeeRate, MinRelay: c.MinRelayFeeRate, Max: c.MaxFeeRate}.Defaults()
	c.ConfTarget, c.FallbackFeeRate, c.MinRelayFeeRate, c.MaxFeeRate = fp.ConfTarget, fp.Fallback, fp.MinRelay, fp.Max
	if c.LongTermFeeRate <= 0 {
		c.LongTermFeeRate = 10_000
	}
	if c.Confirmations < 1 {
		c.Confirmations = 1
	}
	if c.CoinConfirmations < 1 {
		c.CoinConfirmations = c.Confirmations
	}
	if c.DeadlineBlocks == 0 {
		c.DeadlineBlocks = 6
	}
	if c.Resend <= 0 {
		c.Resend = 10 * time.Minute
	}
}

// Batcher turns one asset's requested withdrawals into hot-wallet
// transactions and follows them to their confirmations.
type Batcher struct {
	cfg    Config
	ledger *ledger.Ledger
	runner *store.Runner
	schema string
	node   chain.Node
	issuer *addresses.Issuer
	signer *hotwallet.Signer
	bc     *broadcast.Broadcaster
	log    *slog.Logger
	// lastRefusal is the reason the last batch was not built, so the event
	// saying so is emitted once per change of reason, not every poll.
	lastRefusal string
	// resent remembers when each broadcast batch was last sent again.
	resent map[int64]time.Time
}

// New returns the batcher of l's asset. It registers the hooks of the
// batches' broadcast kinds (withdrawal, sweep, cold_topup) on bc, the
// asset's one broadcaster.
func New(l *ledger.Ledger, node chain.Node, issuer *addresses.Issuer, signer *hotwallet.Signer, bc *broadcast.Broadcaster, cfg Config, log *slog.Logger) (*Batcher, error) {
	if issuer == nil || signer == nil || bc == nil {
		return nil, errors.New("batcher: an address issuer, a hot signer and a broadcaster are needed")
	}
	cfg.defaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Batcher{cfg: cfg, ledger: l, runner: l.Runner(), schema: pgx.Identifier{l.Asset()}.Sanitize(), node: node,
		issuer: issuer, signer: signer, bc: bc, log: log.With("asset", l.Asset(), "worker", "batcher"), resent: map[int64]time.Time{}}
	b.handle(bc)
	return b, nil
}

// handle registers the batches' hooks for every broadcast kind of a batch:
// the same functions, which look at the batch's kind.
func (b *Batcher) handle(bc *broadcast.Broadcaster) {
	for _, kind := range []string{Kind, KindSweep, KindTopup} {
		bc.Handle(kind, broadcast.Hooks{Closed: b.closed, Abandoned: b.abandoned})
	}
}

// RegisterHooks registers the batches' hooks on bc for a process
// that runs no batcher (the CLI): an operator's --mark-sent or --abandon
// then moves the batch in the same transaction as the record.
func RegisterHooks(bc *broadcast.Broadcaster, l *ledger.Ledger, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Batcher{ledger: l, runner: l.Runner(), schema: pgx.Identifier{l.Asset()}.Sanitize(), log: log.With("asset", l.Asset())}
	b.handle(bc)
}

// Run batches and follows until ctx ends; errors are logged and retried.
func (b *Batcher) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		if err := b.Step(ctx); err != nil && ctx.Err() == nil {
			b.log.Error("batcher", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(b.cfg.Poll):
		}
	}
	return nil
}

// Step does one round: finish batches an earlier run left reserved, pay
// again the withdrawals of rejected or abandoned batches, build a batch
// when one is due, bump the batches whose fee line or operator asks for
// it, and follow every live batch's confirmations.
func (b *Batcher) Step(ctx context.Context) error {
	var errs []error
	if err := b.resume(ctx); err != nil {
		errs = append(errs, fmt.Errorf("resuming reserved batches: %w", err))
	}
	if err := b.replaceFailed(ctx); err != nil {
		errs = append(errs, fmt.Errorf("replacing failed batches: %w", err))
	}
	if due, err := b.due(ctx); err != nil {
		errs = append(errs, err)
	} else if due {
		if _, err := b.BatchNow(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	// Follow first: a batch found in a block is not bumped.
	if err := b.Follow(ctx); err != nil {
		errs = append(errs, fmt.Errorf("following batches: %w", err))
	}
	if err := b.bumpDue(ctx); err != nil {
		errs = append(errs, fmt.Errorf("bumping batches: %w", err))
	}
	return errors.Join(errs...)
}

// due reports whether the waiting withdrawals should be batched now.
func (b *Batcher) due(ctx context.Context) (bool, error) {
	var n int
	var sum int64
	var waited bool
	if err := b.runner.Pool().QueryRow(ctx, `SELECT count(*), coalesce(sum(amount), 0)::bigint,
		coalesce(min(created_at) <= now() - make_interval(secs => $1), false) FROM `+b.schema+`.withdrawals WHERE state = 'requested'`,
		b.cfg.Interval.Seconds()).Scan(&n, &sum, &waited); err != nil {
		return false, err
	}
	switch {
	case n == 0:
		return false, nil
	case b.cfg.ThresholdCount > 0 && n >= b.cfg.ThresholdCount, b.cfg.ThresholdSat > 0 && sum >= b.cfg.ThresholdSat:
		return true, nil
	}
	return waited, nil
}

// budget is the most any version of a batch paying paid may spend on fees:
// the absolute cap and the fee-to-amount cap, over the whole chain of
// replacements (only one can confirm, and each pays more than the last).
func (b *Batcher) budget(paid int64) int64 {
	budget := int64(math.MaxInt64)
	if b.cfg.MaxFee > 0 {
		budget = b.cfg.MaxFee
	}
	if b.cfg.MaxFeeRatio > 0 {
		budget = min(budget, int64(b.cfg.MaxFeeRatio*float64(paid)))
	}
	return budget
}

// deadline is the height a batch built at tip should confirm by (nil:
// automatic bumping is off).
func (b *Batcher) deadline(tip int32) *int32 {
	if b.cfg.DeadlineBlocks < 0 {
		return nil
	}
	d := tip + int32(b.cfg.DeadlineBlocks)
	return &d
}
