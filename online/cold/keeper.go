package cold

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/cryptoassets/cryptoassets/online/addresses"
	"github.com/cryptoassets/cryptoassets/online/coins"
	"github.com/cryptoassets/cryptoassets/online/coinselect"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// SweepDest takes, inside the transaction that reserves a sweep, the cold
// address it pays (the contract of batcher.SweepDest; a func value of this
// type is assignable to it).
type SweepDest = func(tx *store.Tx) (addressID int64, script []byte, err error)

// Sweeper builds, signs and sends a sweep of amount from the hot wallet to
// dest, returning its batch id: the batcher, which holds the hot key.
type Sweeper interface {
	Sweep(ctx context.Context, amount int64, dest SweepDest) (int64, error)
}

// SweeperFunc adapts a function to Sweeper; serve passes the batcher's
// Sweep through it:
//
//	cold.SweeperFunc(func(ctx context.Context, a int64, d cold.SweepDest) (int64, error) { return b.Sweep(ctx, a, d) })
type SweeperFunc func(ctx context.Context, amount int64, dest SweepDest) (int64, error)

// Sweep implements Sweeper.
func (f SweeperFunc) Sweep(ctx context.Context, amount int64, dest SweepDest) (int64, error) {
	return f(ctx, amount, dest)
}

// ErrSweepLive: a sweep is already on its way; one at a time.
var ErrSweepLive = errors.New("another sweep is on its way")

// Levels is where the hot wallet stands against its thresholds.
type Levels struct {
	// Hot is the sum of the hot coins a new transaction may spend
	// (coins.SpendableTx); Needs what pending withdrawals will take from
	// them: those requested or awaiting approval, and those in a batch not
	// yet broadcast. Free is Hot - Needs, what the thresholds compare.
	Hot, Needs, Free int64
	// Cold is the sum of the cold coins a top-up may spend.
	Cold int64
	// LiveSweep and OpenTopUp are the ids of a sweep not yet confirmed and
	// of a top-up exported or imported and not yet confirmed (0: none).
	LiveSweep, OpenTopUp int64
}

// Levels reads the hot wallet's standing in one transaction.
func (t *TopUps) Levels(ctx context.Context) (Levels, error) {
	var lv Levels
	err := t.runner.InTx(ctx, "cold-levels", func(tx *store.Tx) error {
		var err error
		lv, err = t.levels(tx)
		return err
	})
	return lv, err
}

func (t *TopUps) levels(tx *store.Tx) (Levels, error) {
	var lv Levels
	var tip *int32
	if err := tx.QueryRow(`SELECT height FROM ` + t.schema + `.chain_cursor`).Scan(&tip); err != nil || tip == nil {
		return lv, errors.Join(err, errors.New("the chain follower has not run yet"))
	}
	hot, err := coins.SpendableTx(tx, t.asset, addresses.HotWallet, int32(t.cfg.CoinConfirmations), *tip)
	if err != nil {
		return lv, err
	}
	for _, c := range hot {
		lv.Hot += c.Amount
	}
	cs, _, err := t.spendable(tx)
	if err != nil {
		return lv, err
	}
	for _, c := range cs {
		lv.Cold += c.Amount
	}
	if err := tx.QueryRow(`SELECT coalesce(sum(w.amount), 0)::bigint FROM ` + t.schema + `.withdrawals w
		LEFT JOIN ` + t.schema + `.batches b ON b.id = w.batch_id
		WHERE w.state IN ('requested', 'awaiting_approval')
		   OR (w.state = 'batched' AND b.state IN ('reserved', 'rejected', 'abandoned'))`).Scan(&lv.Needs); err != nil {
		return lv, err
	}
	lv.Free = lv.Hot - lv.Needs
	if err := tx.QueryRow(`SELECT coalesce(min(id), 0) FROM ` + t.schema + `.batches WHERE kind = 'sweep' AND state IN ('reserved', 'broadcasting', 'broadcast')`).Scan(&lv.LiveSweep); err != nil {
		return lv, err
	}
	lv.OpenTopUp, err = t.openTopUp(tx)
	return lv, err
}

// MaxTopUp is the most the cold wallet's spendable coins pay the hot
// wallet in one top-up at the current fee rate (0 when they pay nothing).
func (t *TopUps) MaxTopUp(ctx context.Context) (int64, error) {
	rate := t.feeRate(ctx)
	var best int64
	err := t.runner.InTx(ctx, "cold-max-topup", func(tx *store.Tx) error {
		best = 0
		cs, _, err := t.spendable(tx)
		if err != nil {
			return err
		}
		hot, change, err := t.peekScripts(tx)
		if err != nil {
			return err
		}
		pool, total := selectable(cs)
		p := t.params(rate, change)
		pays := func(amt int64) bool {
			_, err := coinselect.Select(pool, []coinselect.Output{{Script: hot, Amount: amt}}, p)
			return err == nil
		}
		// The largest amount that selects: payable amounts are a prefix.
		n := sort.Search(int(min(total, 1<<62)), func(a int) bool { return !pays(int64(a) + 1) })
		best = int64(n)
		return nil
	})
	return best, err
}

// Keeper holds one asset's hot wallet between its floor and its ceiling:
// above the ceiling it sweeps the surplus down to the target to a fresh
// cold address; below the floor it exports a top-up up to the target for
// the air-gapped signer. One serve process runs it per asset with a cold
// wallet.
type Keeper struct {
	topups  *TopUps
	sweeper Sweeper
	log     *slog.Logger
	// lastNote is the last reason nothing was done though a threshold was
	// crossed, logged once per change.
	lastNote string
	// own are the exports this keeper reserved and has not announced (its
	// files could not be written): the next step tries again without
	// waiting for the grace.
	own map[int64]bool
}

// NewKeeper returns the keeper of t's asset; sweeper nil leaves sweeps
// off (no hot key in this process).
func NewKeeper(t *TopUps, sweeper Sweeper, log *slog.Logger) *Keeper {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Keeper{topups: t, sweeper: sweeper, log: log.With("asset", t.asset, "worker", "cold-keeper"), own: map[int64]bool{}}
}

// Did is what one Step did.
type Did struct {
	Expired []int64
	Levels  Levels
	// SweepID and SweepAmount: the sweep built (0: none).
	SweepID, SweepAmount int64
	// TopUp is the top-up exported (ID 0: none), Files its files.
	TopUp Export
	Files []string
	// Announced are the top-ups whose cold.topup_exported this step
	// emitted: its own export's, and those of exports whose writer did not
	// announce them within the grace.
	Announced []int64
}

// Run steps every cfg.Interval until ctx ends; errors are logged and the
// next step tries again.
func (k *Keeper) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		if _, err := k.Step(ctx); err != nil && ctx.Err() == nil {
			k.log.Error("cold keeper", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(k.topups.cfg.Interval):
		}
	}
	return nil
}

// publish writes x's files into the export directory (none without one)
// and announces x.
func (k *Keeper) publish(ctx context.Context, x Export, did *Did) ([]string, bool, error) {
	dir := k.topups.cfg.ExportDir
	var files []string
	if dir != "" {
		var err error
		if files, err = WriteFiles(dir, x); err != nil {
			return nil, false, fmt.Errorf("top-up %d is exported but its files were not written, so it is not announced (the keeper tries again; cryptoassets cold export --dir DIR %d writes them elsewhere): %w", x.ID, x.ID, err)
		}
	}
	ok, err := k.topups.Announce(ctx, x.ID, files)
	if err != nil {
		return files, false, fmt.Errorf("top-up %d: its files are written but it is not announced (the keeper tries again): %w", x.ID, err)
	}
	delete(k.own, x.ID)
	if ok {
		did.Announced = append(did.Announced, x.ID)
	}
	return files, ok, nil
}

// recover announces the reserved top-ups nobody announced: this keeper's
// own at once, any other (an exporter that died between its reservation
// and its announcement, or could not write its files) once the grace has
// passed, writing their files into the export directory first.
func (k *Keeper) recover(ctx context.Context, did *Did) error {
	t := k.topups
	var xs []Export
	for id := range k.own {
		x, err := t.Get(ctx, id)
		if err != nil {
			return err
		}
		xs = append(xs, x)
	}
	late, err := t.Unannounced(ctx, t.cfg.AnnounceGrace())
	if err != nil {
		return fmt.Errorf("reading the top-ups not yet announced: %w", err)
	}
	for _, x := range late {
		if !k.own[x.ID] {
			xs = append(xs, x)
		}
	}
	var errs []error
	for _, x := range xs {
		if x.State != StateReserved {
			delete(k.own, x.ID) // cancelled or expired meanwhile: nothing to sign
			continue
		}
		files, ok, err := k.publish(ctx, x, did)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !ok {
			continue // announced meanwhile by its own writer
		}
		k.log.Warn("a top-up exported earlier is announced with its files: a signing ceremony is due", "batch", x.ID, "amount_sat", x.Amount,
			"expires_at", x.ExpiresAt, "dir", t.cfg.ExportDir, "files", len(files))
	}
	return errors.Join(errs...)
}

// Step expires due exports, extends the cold address window, then acts on
// the thresholds: at most one sweep live and one top-up open at a time.
func (k *Keeper) Step(ctx context.Context) (Did, error) {
	var did Did
	var errs []error
	t := k.topups
	ids, err := t.ExpireDue(ctx)
	if err != nil {
		errs = append(errs, fmt.Errorf("expiring top-ups: %w", err))
	}
	did.Expired = ids
	if err := k.recover(ctx, &did); err != nil {
		errs = append(errs, err)
	}
	if err := t.cold.Extend(ctx); err != nil {
		errs = append(errs, fmt.Errorf("extending the cold addresses: %w", err))
	}
	lv, err := t.Levels(ctx)
	if err != nil {
		return did, errors.Join(append(errs, err)...)
	}
	did.Levels = lv
	cfg := t.cfg
	note := ""
	switch {
	case cfg.Ceiling > 0 && lv.Free > cfg.Ceiling:
		switch {
		case k.sweeper == nil:
			note = "above the ceiling, but this process holds no hot key to sweep with"
		case lv.LiveSweep != 0:
			note = fmt.Sprintf("above the ceiling, sweep %d still on its way", lv.LiveSweep)
		default:
			amt := lv.Free - cfg.Target
			id, err := k.sweeper.Sweep(ctx, amt, func(tx *store.Tx) (int64, []byte, error) {
				// Checked again in the sweep's own transaction: another
				// serve process's sweep, or a withdrawal requested since,
				// refuses it with everything it wrote.
				now, err := t.levels(tx)
				if err != nil {
					return 0, nil, err
				}
				if now.LiveSweep != 0 {
					return 0, nil, fmt.Errorf("%w: sweep %d", ErrSweepLive, now.LiveSweep)
				}
				if amt > now.Free-cfg.Target {
					return 0, nil, fmt.Errorf("the hot wallet's free coins changed meanwhile (%d sat free, target %d): not sweeping %d sat", now.Free, cfg.Target, amt)
				}
				a, err := t.cold.NextTx(tx, 0)
				return a.ID, a.Script, err
			})
			if err != nil {
				errs = append(errs, fmt.Errorf("sweeping %d sat to cold: %w", amt, err))
				break
			}
			did.SweepID, did.SweepAmount = id, amt
			k.log.Info("hot wallet above its ceiling: swept to cold", "batch", id, "amount_sat", amt,
				"hot_sat", lv.Hot, "needs_sat", lv.Needs, "ceiling_sat", cfg.Ceiling, "target_sat", cfg.Target)
		}
	case cfg.Floor > 0 && lv.Free < cfg.Floor:
		if lv.OpenTopUp != 0 {
			note = fmt.Sprintf("below the floor, top-up %d open", lv.OpenTopUp)
			break
		}
		amt := cfg.Target - lv.Free
		most, err := t.MaxTopUp(ctx)
		if err != nil {
			errs = append(errs, err)
			break
		}
		if most < amt {
			k.log.Warn("the cold wallet cannot top the hot wallet up to its target", "wanted_sat", amt, "payable_sat", most, "cold_sat", lv.Cold)
			amt = most
		}
		if amt <= 0 {
			note = "below the floor, and the cold wallet has nothing it can pay"
			break
		}
		x, err := t.Export(ctx, amt, "keeper")
		if err != nil {
			errs = append(errs, fmt.Errorf("exporting a top-up of %d sat: %w", amt, err))
			break
		}
		did.TopUp = x
		k.own[x.ID] = true
		files, _, err := k.publish(ctx, x, &did)
		did.Files = files
		if err != nil {
			errs = append(errs, err)
			break
		}
		k.log.Warn("hot wallet below its floor: a top-up is exported, a signing ceremony is due", "batch", x.ID, "amount_sat", x.Amount,
			"fee_sat", x.Fee, "expires_at", x.ExpiresAt, "dir", cfg.ExportDir, "hot_sat", lv.Hot, "needs_sat", lv.Needs, "floor_sat", cfg.Floor)
	}
	if note != k.lastNote {
		if note != "" {
			k.log.Info("cold keeper waits", "why", note, "hot_sat", lv.Hot, "needs_sat", lv.Needs)
		}
		k.lastNote = note
	}
	return did, errors.Join(errs...)
}
