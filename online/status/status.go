package status

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cryptoassets/cryptoassets/online/audit"
	"github.com/cryptoassets/cryptoassets/online/election"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// Node is what the reader asks of an asset's node: its tip.
type Node interface {
	Tip(ctx context.Context) (int32, chainhash.Hash, error)
}

// Auditor is an asset's audit as serve runs it; *audit.Auditor implements it.
type Auditor interface {
	LastResult() *audit.Result
}

// AssetConfig is what the reader needs to know of one asset.
type AssetConfig struct {
	Name    string // its schema
	Network string
	Node    Node    // nil: the node is not asked
	Auditor Auditor // nil: this process runs no audit
	// HotFloorSat and HotCeilingSat bound the hot wallet when configured.
	HotFloorSat, HotCeilingSat *int64
}

// Config is what New needs.
type Config struct {
	Pool   *pgxpool.Pool
	Assets []AssetConfig
	// Webhooks are the configured receivers' URLs.
	Webhooks []string
	// Migrations are the release's embedded migrations, for Ready.
	Migrations fs.FS
	// Workers lists what this process runs; nil: none (a CLI command).
	Workers WorkerSource
	// Elections are the elections the configuration has, reported with
	// their lease rows (and so named even before any serve campaigned).
	// Lease rows beyond them are reported too.
	Elections []ElectionSpec
	// Instance names this process in the report, as its elections name it
	// (election.instance; default election.DefaultInstance, host-pid).
	Instance string
	// NodeTimeout bounds each node call (default 3s).
	NodeTimeout time.Duration
}

// Reader reads the figures.
type Reader struct {
	cfg    Config
	assets map[string]AssetConfig
}

// ErrUnknownAsset is an asset the service does not handle.
var ErrUnknownAsset = errors.New("unknown asset")

// New returns a reader.
func New(cfg Config) (*Reader, error) {
	if cfg.Pool == nil {
		return nil, errors.New("status: no database pool")
	}
	if cfg.NodeTimeout <= 0 {
		cfg.NodeTimeout = 3 * time.Second
	}
	if cfg.Instance == "" {
		cfg.Instance = election.DefaultInstance()
	}
	r := &Reader{cfg: cfg, assets: map[string]AssetConfig{}}
	for _, a := range cfg.Assets {
		if err := store.ValidateSchemaName(a.Name); err != nil {
			return nil, err
		}
		r.assets[a.Name] = a
	}
	return r, nil
}

// Instance is the name of this process in reports.
func (r *Reader) Instance() string { return r.cfg.Instance }

// AssetNames lists the assets in the order of the configuration.
func (r *Reader) AssetNames() []string {
	out := make([]string, 0, len(r.cfg.Assets))
	for _, a := range r.cfg.Assets {
		out = append(out, a.Name)
	}
	return out
}

// Report is everything the reader knows at one moment.
type Report struct {
	At       time.Time `json:"at"`
	Instance string    `json:"instance"`
	Assets   []Asset   `json:"assets"`
	Events   Events    `json:"events"`
	Webhooks []Webhook `json:"webhooks"`
	// Elections are the elections of every asset (the deliverer's), from
	// their lease rows: who holds each across the cluster.
	Elections []Election `json:"elections"`
	// Workers are the workers this process runs (serve); empty for a CLI
	// command, which runs none.
	Workers []Worker `json:"workers"`
}

// Asset is one asset's figures.
type Asset struct {
	Name     string   `json:"asset"`
	Network  string   `json:"network"`
	Node     NodeTip  `json:"node"`
	Follower Follower `json:"follower"`
	// LagBlocks is the node's tip minus the follower's height; nil when
	// either is unknown.
	LagBlocks   *int32       `json:"lag_blocks"`
	Deposits    StateCounts  `json:"deposits"`
	Withdrawals StateCounts  `json:"withdrawals"`
	Broadcasts  Broadcasts   `json:"broadcasts"`
	Hot         Wallet       `json:"hot"`
	Cold        Wallet       `json:"cold"`
	Breaker     Breaker      `json:"breaker"`
	Audit       AuditSummary `json:"audit"`
	// Elections are the asset's elections (follower, payments, audit) from
	// their lease rows: which instance runs which worker.
	Elections []Election `json:"elections"`
}

// NodeTip is the node's best block, or why it is unknown.
type NodeTip struct {
	Reachable bool   `json:"reachable"`
	Height    *int32 `json:"height"`
	Hash      string `json:"hash,omitempty"`
	Error     string `json:"error,omitempty"`
}

// Follower is the chain follower's stored cursor.
type Follower struct {
	// Height is nil before the follower's first block.
	Height    *int32    `json:"height"`
	Hash      string    `json:"hash,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// StateCount is how many rows are in one state and what they amount to.
type StateCount struct {
	Count int64 `json:"count"`
	Sat   int64 `json:"sat"`
}

// StateCounts are rows by state; every known state is present, with zeros.
type StateCounts map[string]StateCount

// Names lists the states: the known ones in order, then any other.
func (sc StateCounts) Names(known []string) []string {
	out := slices.Clone(known)
	var extra []string
	for st := range sc {
		if !slices.Contains(known, st) {
			extra = append(extra, st)
		}
	}
	slices.Sort(extra)
	return append(out, extra...)
}

// Broadcasts are the broadcast records not yet closed.
type Broadcasts struct {
	Open   int64 `json:"open"`
	Broken int64 `json:"broken"`
	// OldestOpenAt is when the oldest open record was opened.
	OldestOpenAt *time.Time `json:"oldest_open_at"`
}

// Wallet sums a wallet's unspent coins (confirmed or not, as the audit
// counts them).
type Wallet struct {
	Coins          int64 `json:"coins"`
	Sat            int64 `json:"sat"`
	UnconfirmedSat int64 `json:"unconfirmed_sat"`
	// ReservedSat is held by batches being built or sent.
	ReservedSat int64  `json:"reserved_sat"`
	FloorSat    *int64 `json:"floor_sat,omitempty"`
	CeilingSat  *int64 `json:"ceiling_sat,omitempty"`
	// Band places Sat against the floor and ceiling: below_floor,
	// above_ceiling, within, or unbounded when neither is configured. The
	// keeper (online/cold) acts on free coins (spendable, less what pending
	// withdrawals need), so a wallet within its band here may still be
	// topped up or swept.
	Band string `json:"band,omitempty"`
}

// Wallet bands.
const (
	BandBelowFloor   = "below_floor"
	BandAboveCeiling = "above_ceiling"
	BandWithin       = "within"
	BandUnbounded    = "unbounded"
)

// Breaker is the withdrawal circuit breaker.
type Breaker struct {
	Tripped   bool       `json:"tripped"`
	TrippedAt *time.Time `json:"tripped_at"`
	Reason    string     `json:"reason,omitempty"`
}

// AuditSummary is the last audit this process ran.
type AuditSummary struct {
	// Known is false when this process runs no audit (a CLI command) or
	// its first audit has not finished.
	Known      bool       `json:"known"`
	At         *time.Time `json:"at"`
	Settled    bool       `json:"settled"`
	Mismatches int        `json:"mismatches"`
	// ReserveRatio is what is held over what is owed ("1.0000").
	ReserveRatio string `json:"reserve_ratio,omitempty"`
	// LastMismatchEvent is the newest audit.mismatch event of the asset,
	// from any process: when, and how many mismatches it named.
	LastMismatchEvent *MismatchEvent `json:"last_mismatch_event"`
}

// MismatchEvent is one audit.mismatch event.
type MismatchEvent struct {
	ID    *int64    `json:"id"` // nil while unpublished
	At    time.Time `json:"at"`
	Count int       `json:"count"`
}

// Events is the outbox.
type Events struct {
	// PublishedUpTo is the newest published event id.
	PublishedUpTo int64 `json:"published_up_to"`
	// Unpublished events are committed and not numbered yet.
	Unpublished int64 `json:"unpublished"`
}

// Webhook is one receiver's delivery.
type Webhook struct {
	URL           string     `json:"url"`
	DeliveredUpTo int64      `json:"delivered_up_to"`
	Backlog       int64      `json:"backlog"`
	Failures      int        `json:"failures"` // consecutive failed attempts
	NextAttemptAt *time.Time `json:"next_attempt_at"`
	LastError     string     `json:"last_error,omitempty"`
}

// States the reader reports even when no row is in them; a state the
// tables hold beyond these is reported too.
var (
	DepositStates    = []string{"seen", "confirmed", "credited", "reorged", "replaced", "expired"}
	WithdrawalStates = []string{"awaiting_approval", "requested", "batched", "broadcast", "confirmed", "cancelled", "rejected", "failed"}
)

// Read reads every asset.
func (r *Reader) Read(ctx context.Context) (*Report, error) {
	return r.read(ctx, r.AssetNames())
}

// ReadAsset reads one asset (and the webhooks, the deliverer's election and
// the workers).
func (r *Reader) ReadAsset(ctx context.Context, name string) (*Report, error) {
	if _, ok := r.assets[name]; !ok {
		return nil, fmt.Errorf("%w %q: this configuration has %v", ErrUnknownAsset, name, r.AssetNames())
	}
	return r.read(ctx, []string{name})
}

func (r *Reader) read(ctx context.Context, names []string) (*Report, error) {
	rep := &Report{At: time.Now().UTC(), Instance: r.cfg.Instance, Assets: []Asset{}, Webhooks: []Webhook{}, Elections: []Election{}, Workers: []Worker{}}
	// The nodes are asked first, outside the snapshot, and together.
	tips := make([]NodeTip, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Go(func() { tips[i] = r.tip(ctx, r.assets[n].Node) })
	}
	wg.Wait()
	// One read-only snapshot: the figures of a report agree with each other.
	tx, err := r.cfg.Pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("status: database: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	for i, n := range names {
		a, err := r.readAsset(ctx, tx, r.assets[n])
		if err != nil {
			return nil, fmt.Errorf("status: asset %s: %w", n, err)
		}
		a.Node = tips[i]
		a.Elections = []Election{}
		if a.Node.Height != nil && a.Follower.Height != nil {
			lag := *a.Node.Height - *a.Follower.Height
			a.LagBlocks = &lag
		}
		rep.Assets = append(rep.Assets, a)
	}
	if err := r.readEvents(ctx, tx, rep); err != nil {
		return nil, fmt.Errorf("status: events: %w", err)
	}
	if err := r.readElections(ctx, tx, names, rep); err != nil {
		return nil, fmt.Errorf("status: elections: %w", err)
	}
	if r.cfg.Workers != nil {
		rep.Workers = r.cfg.Workers.Workers()
	}
	return rep, nil
}

func (r *Reader) tip(ctx context.Context, node Node) NodeTip {
	if node == nil {
		return NodeTip{Error: "no node configured"}
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.NodeTimeout)
	defer cancel()
	h, hash, err := node.Tip(ctx)
	if err != nil {
		return NodeTip{Error: err.Error()}
	}
	return NodeTip{Reachable: true, Height: &h, Hash: hash.String()}
}

func (r *Reader) readAsset(ctx context.Context, tx pgx.Tx, ac AssetConfig) (Asset, error) {
	s := pgx.Identifier{ac.Name}.Sanitize()
	a := Asset{Name: ac.Name, Network: ac.Network}

	var height *int32
	var hash []byte
	if err := tx.QueryRow(ctx, `SELECT height, hash, updated_at FROM `+s+`.chain_cursor`).Scan(&height, &hash, &a.Follower.UpdatedAt); err != nil {
		return a, fmt.Errorf("chain_cursor: %w", err)
	}
	a.Follower.Height = height
	if h, err := chainhash.NewHash(hash); err == nil && height != nil {
		a.Follower.Hash = h.String()
	}

	var err error
	if a.Deposits, err = countStates(ctx, tx, `SELECT state, count(*), coalesce(sum(amount), 0) FROM `+s+`.deposits GROUP BY state`, DepositStates); err != nil {
		return a, fmt.Errorf("deposits: %w", err)
	}
	if a.Withdrawals, err = countStates(ctx, tx, `SELECT state, count(*), coalesce(sum(amount), 0) FROM `+s+`.withdrawals GROUP BY state`, WithdrawalStates); err != nil {
		return a, fmt.Errorf("withdrawals: %w", err)
	}

	if err := tx.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE broken_at IS NOT NULL), min(opened_at)
		FROM `+s+`.broadcasts WHERE closed_at IS NULL`).Scan(&a.Broadcasts.Open, &a.Broadcasts.Broken, &a.Broadcasts.OldestOpenAt); err != nil {
		return a, fmt.Errorf("broadcasts: %w", err)
	}

	rows, err := tx.Query(ctx, `SELECT w.name, count(*), coalesce(sum(c.amount), 0), coalesce(sum(c.amount) FILTER (WHERE c.block_hash IS NULL), 0),
		coalesce(sum(c.amount) FILTER (WHERE c.reserved_by IS NOT NULL), 0)
		FROM `+s+`.coins c JOIN `+s+`.wallets w ON w.id = c.wallet_id WHERE c.spent_by IS NULL GROUP BY w.name`)
	if err != nil {
		return a, fmt.Errorf("coins: %w", err)
	}
	for rows.Next() {
		var name string
		var w Wallet
		if err := rows.Scan(&name, &w.Coins, &w.Sat, &w.UnconfirmedSat, &w.ReservedSat); err != nil {
			rows.Close()
			return a, fmt.Errorf("coins: %w", err)
		}
		switch name {
		case "hot":
			a.Hot = w
		case "cold":
			a.Cold = w
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return a, fmt.Errorf("coins: %w", err)
	}
	a.Hot.FloorSat, a.Hot.CeilingSat = ac.HotFloorSat, ac.HotCeilingSat
	a.Hot.Band = band(a.Hot)

	var at time.Time
	switch err := tx.QueryRow(ctx, `SELECT tripped_at, reason FROM `+s+`.withdrawal_breaker WHERE resumed_at IS NULL`).Scan(&at, &a.Breaker.Reason); {
	case err == nil:
		a.Breaker.Tripped, a.Breaker.TrippedAt = true, &at
	case !errors.Is(err, pgx.ErrNoRows):
		return a, fmt.Errorf("withdrawal_breaker: %w", err)
	}

	if ac.Auditor != nil {
		if res := ac.Auditor.LastResult(); res != nil {
			at := res.At.UTC()
			a.Audit = AuditSummary{Known: true, At: &at, Settled: res.Settled, Mismatches: len(res.Mismatches) + res.Omitted, ReserveRatio: res.Reserves.Ratio}
		}
	}
	var ev MismatchEvent
	switch err := tx.QueryRow(ctx, `SELECT id, created_at, coalesce((payload->>'count')::int, 0) FROM public.events
		WHERE asset = $1 AND type = $2 ORDER BY seq DESC LIMIT 1`, ac.Name, audit.EventMismatch).Scan(&ev.ID, &ev.At, &ev.Count); {
	case err == nil:
		a.Audit.LastMismatchEvent = &ev
	case !errors.Is(err, pgx.ErrNoRows):
		return a, fmt.Errorf("events: %w", err)
	}
	return a, nil
}

func band(w Wallet) string {
	switch {
	case w.FloorSat == nil && w.CeilingSat == nil:
		return BandUnbounded
	case w.FloorSat != nil && w.Sat < *w.FloorSat:
		return BandBelowFloor
	case w.CeilingSat != nil && w.Sat > *w.CeilingSat:
		return BandAboveCeiling
	}
	return BandWithin
}

func countStates(ctx context.Context, tx pgx.Tx, sql string, states []string) (StateCounts, error) {
	out := StateCounts{}
	for _, st := range states {
		out[st] = StateCount{}
	}
	rows, err := tx.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var st string
		var c StateCount
		if err := rows.Scan(&st, &c.Count, &c.Sat); err != nil {
			return nil, err
		}
		out[st] = c
	}
	return out, rows.Err()
}

func (r *Reader) readEvents(ctx context.Context, tx pgx.Tx, rep *Report) error {
	if err := tx.QueryRow(ctx, `SELECT published_up_to FROM public.event_publication`).Scan(&rep.Events.PublishedUpTo); err != nil {
		return err
	}
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM public.events WHERE id IS NULL`).Scan(&rep.Events.Unpublished); err != nil {
		return err
	}
	urls := slices.Clone(r.cfg.Webhooks)
	for _, u := range urls {
		w := Webhook{URL: RedactURL(u)}
		var next time.Time
		var lastErr *string
		err := tx.QueryRow(ctx, `SELECT delivered_up_to, attempts, next_attempt_at, last_error FROM public.webhook_cursors WHERE url = $1`, u).
			Scan(&w.DeliveredUpTo, &w.Failures, &next, &lastErr)
		switch {
		case err == nil:
			w.NextAttemptAt = &next
			if lastErr != nil {
				w.LastError = *lastErr
			}
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		w.Backlog = max(rep.Events.PublishedUpTo-w.DeliveredUpTo, 0) + rep.Events.Unpublished
		rep.Webhooks = append(rep.Webhooks, w)
	}
	return nil
}

// RedactURL drops a URL's user information and query, which may hold
// credentials, for reports and metric labels.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable url)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}
