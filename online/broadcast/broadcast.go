package broadcast

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// Kinds of broadcast (the broadcasts.kind column).
const (
	KindColdTopup  = "cold_topup"
	KindWithdrawal = "withdrawal"
	KindSweep      = "sweep"
)

// kinds are the accepted kinds; the value says whether the kind's hooks
// must be registered (Handle) before one of its records may change state:
// a hot withdrawal's or a sweep's batch moves with its record, never
// behind it.
var kinds = map[string]bool{KindColdTopup: false, KindWithdrawal: true, KindSweep: true}

// Outcomes of a closed broadcast.
const (
	Accepted     = "accepted"
	AlreadyKnown = "already_known"
	Rejected     = "rejected"
	// Abandoned: an operator gave the record up (broadcasts resolve ID
	// --abandon) when its transaction was nowhere on the node.
	Abandoned = "abandoned"
)

// EventBroken is emitted once when a record becomes broken.
const EventBroken = "broadcast.broken"

// DefaultBrokenAfter is how long a record may stay open before it is broken.
const DefaultBrokenAfter = time.Hour

// ErrUnresolved means the node's answer was lost: the record stays open
// until Resolve settles it.
var ErrUnresolved = errors.New("broadcast outcome unknown: the record stays open; run `cryptoassets broadcasts resolve`")

// ErrNoHandler means a record's kind needs hooks this process has not
// registered: its state is left as it is.
var ErrNoHandler = errors.New("no handler for this kind of broadcast is registered in this process")

// Record is one broadcast.
type Record struct {
	ID       int64
	TxID     chainhash.Hash
	Kind     string
	OpenedAt time.Time
	ClosedAt *time.Time
	Outcome  string // "" while open
	Error    string
	Attempts int
	// BrokenAt is set when the record stayed open too long or its inputs
	// were spent by another transaction; BrokenReason says which.
	BrokenAt     *time.Time
	BrokenReason string
	// ResolvedBy names the operator who settled it by hand.
	ResolvedBy string
}

// Hooks are run inside the transaction that changes a record of their
// kind; an error rolls the change back. Any may be nil.
type Hooks struct {
	// Closed: the node's answer (accepted, already_known, rejected) or an
	// operator's --mark-sent was recorded.
	Closed func(t *store.Tx, r Record) error
	// Abandoned: an operator gave the record up.
	Abandoned func(t *store.Tx, r Record) error
	// Broken: the record became broken.
	Broken func(t *store.Tx, r Record) error
}

// Broadcaster records and sends transactions for one asset. It is the one
// way a transaction reaches the network.
type Broadcaster struct {
	runner      *store.Runner
	node        chain.Node
	asset       string
	schema      string
	log         *slog.Logger
	brokenAfter time.Duration

	mu    sync.RWMutex
	hooks map[string]Hooks

	scanMu  sync.Mutex
	absent  absentFrom               // the resolver's blocks already read
	chainAt map[int32]chainhash.Hash // the best chain's hashes it read them at
}

// Option configures a Broadcaster.
type Option func(*Broadcaster)

// BrokenAfter sets the age at which an open record becomes broken
// (DefaultBrokenAfter when unset).
func BrokenAfter(d time.Duration) Option {
	return func(b *Broadcaster) {
		if d > 0 {
			b.brokenAfter = d
		}
	}
}

// New returns a broadcaster for asset (its schema) through node.
func New(runner *store.Runner, asset string, node chain.Node, log *slog.Logger, opts ...Option) (*Broadcaster, error) {
	if err := store.ValidateSchemaName(asset); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Broadcaster{runner: runner, node: node, asset: asset, schema: pgx.Identifier{asset}.Sanitize(),
		log: log.With("asset", asset), brokenAfter: DefaultBrokenAfter, hooks: map[string]Hooks{}, absent: absentFrom{}, chainAt: map[int32]chainhash.Hash{}}
	for _, o := range opts {
		o(b)
	}
	return b, nil
}

// Handle registers the hooks of kind, replacing earlier ones.
func (b *Broadcaster) Handle(kind string, h Hooks) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.hooks[kind] = h
}

// hooksFor returns kind's hooks, or ErrNoHandler when the kind needs hooks
// and none are registered.
func (b *Broadcaster) hooksFor(kind string) (Hooks, error) {
	b.mu.RLock()
	h, ok := b.hooks[kind]
	b.mu.RUnlock()
	if !ok && kinds[kind] {
		return Hooks{}, fmt.Errorf("%w: %s records are settled by `cryptoassets serve`, whose batcher moves their batch with them", ErrNoHandler, kind)
	}
	return h, nil
}

func checkKind(kind string) error {
	if _, ok := kinds[kind]; !ok {
		return fmt.Errorf("unknown broadcast kind %q: use %s, %s or %s", kind, KindColdTopup, KindWithdrawal, KindSweep)
	}
	return nil
}
