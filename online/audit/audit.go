package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// Node is the chain access an audit needs; chain.Node provides it.
type Node interface {
	// Tip returns the height and hash of the node's best block.
	Tip(ctx context.Context) (int32, chainhash.Hash, error)
	// BlockHash returns the best-chain block hash at height.
	BlockHash(ctx context.Context, height int32) (chainhash.Hash, error)
	// Block returns a block by hash.
	Block(ctx context.Context, hash chainhash.Hash) (*wire.MsgBlock, error)
	// MempoolTxids lists the node's mempool.
	MempoolTxids(ctx context.Context) ([]chainhash.Hash, error)
	// Transaction returns a mempool transaction, or chain.ErrNoTransaction.
	Transaction(ctx context.Context, txid chainhash.Hash) (*wire.MsgTx, error)
	// IsUnspent reports whether an output exists and is unspent on the
	// node, a mempool spend counting as spent (gettxout).
	IsUnspent(ctx context.Context, op wire.OutPoint) (bool, error)
}

var _ Node = chain.Node(nil)

// Kinds of mismatch.
const (
	// CoinSpentOnNode: a coin our tables call confirmed and unspent is
	// spent or unknown on the node, and no transaction of ours spends it.
	CoinSpentOnNode = "coin_spent_on_node"
	// OutputNotInCoins: an output of the best chain pays one of our
	// addresses and is not a coin row (or the row's amount or block differ).
	OutputNotInCoins = "output_not_in_coins"
	// CoinSpentByUnknown: our tables record a coin spent by a transaction
	// we did not build (no batch, no broadcast record).
	CoinSpentByUnknown = "coin_spent_by_unknown_tx"
	// DepositWithoutCoin: a live deposit (seen, confirmed, credited) has no
	// coin row.
	DepositWithoutCoin = "deposit_without_coin"
	// AccountBalance: an internal account's ledger balance is not what the
	// deposits, withdrawals and batches say it must be.
	AccountBalance = "account_balance"
	// HotWalletCoins: the hot wallet's ledger balance is not minus the
	// coins it stands for, minus what is in flight.
	HotWalletCoins = "hot_wallet_coins"
	// ColdWalletCoins: the cold wallet's ledger balance is not minus the
	// coins it stands for (those sweeps paid), minus what is in flight.
	ColdWalletCoins = "cold_wallet_coins"
)

// Mismatch is one disagreement, naming the coin or the account.
type Mismatch struct {
	Kind string
	// Coin is the coin or output concerned, or nil.
	Coin *wire.OutPoint
	// Account is the internal account concerned (its kind, e.g.
	// hot_wallet), or "".
	Account string
	// Part is "available", "pending" or "total" for an account mismatch.
	Part string
	// Expected and Actual are satoshis: what the other side says, and what
	// the ledger (or the coin row) holds. AmountSat is the coin's amount.
	Expected, Actual int64
	AmountSat        int64
	Detail           string
}

// Subject names what the mismatch is about, stably across runs.
func (m Mismatch) Subject() string {
	switch {
	case m.Coin != nil:
		return m.Kind + " " + m.Coin.String()
	case m.Part != "":
		return m.Kind + " " + m.Account + " " + m.Part
	}
	return m.Kind + " " + m.Account
}

// InFlight is a batch of ours whose transaction spends our coins (or, a
// sweep or a top-up, pays the other wallet) and is not booked yet.
type InFlight struct {
	Batch   int64
	Kind    string // withdrawals, sweep, topup
	Txid    chainhash.Hash
	State   string
	PaidSat int64
	FeeSat  int64
}

// Reserves puts what is owed beside what is held.
type Reserves struct {
	CustomersAvailable int64
	CustomersPending   int64
	WithdrawalsPending int64
	// Liabilities is the three above summed.
	Liabilities int64
	HotCoins    int64 // unspent hot coins, confirmed or not
	ColdCoins   int64 // unspent cold coins
	// InFlight is what in-flight batches took from our coins that the
	// ledger has not booked: withdrawals and fees, a sweep's or a top-up's
	// fee (its transfer is already in the other wallet's coins).
	InFlight int64
	// Held is HotCoins + ColdCoins + InFlight.
	Held int64
	// Ratio is Held / Liabilities with four decimals ("1.0000"), or "" when
	// nothing is owed.
	Ratio string
	// ColdShare is ColdCoins / (HotCoins + ColdCoins) with four decimals,
	// or "" when no coin is held.
	ColdShare string
}

// Result is one audit.
type Result struct {
	Asset string
	At    time.Time
	// NodeHeight and FollowerHeight are the node's tip and the follower's
	// last block when the audit started.
	NodeHeight, FollowerHeight int32
	// Settled is false when the node's tip was not the follower's last
	// block before or after the checks; Unsettled says why.
	Settled   bool
	Unsettled string
	// CoinsChecked coins were asked of the node; Blocks From..To scanned.
	CoinsChecked  int
	ScanFrom      int32
	ScanTo        int32
	BlocksScanned int
	Mismatches    []Mismatch
	// Omitted counts the coin mismatches left out of Mismatches past the
	// first ListLimit of a kind (a wiped coins table would name thousands).
	Omitted        int
	InFlight       []InFlight
	SpendingInPool []wire.OutPoint // coins spent in the node's mempool by a transaction of ours
	SurplusSat     int64
	// ColdSurplusSat: cold coins no sweep or top-up of ours paid (sent to a
	// cold address by hand); no posting stands for them.
	ColdSurplusSat int64
	AwaitingExpiry int64
	Reserves       Reserves
	// Ledger holds each internal account's balance (available + pending),
	// by kind.
	Ledger map[string]int64
}

// OK reports whether the audit found nothing wrong.
func (r *Result) OK() bool { return len(r.Mismatches) == 0 }

// add appends a coin mismatch, keeping at most ListLimit of each kind.
func (r *Result) add(m Mismatch) {
	n := 0
	for _, o := range r.Mismatches {
		if o.Kind == m.Kind {
			n++
		}
	}
	if n >= ListLimit {
		r.Omitted++
		return
	}
	r.Mismatches = append(r.Mismatches, m)
}

// Options bound one audit.
type Options struct {
	// FromHeight is where the chain scan starts; negative means the
	// wallet's birth (the follower's first stored block).
	FromHeight int32
	// SkipScan leaves out the chain scan (check 2).
	SkipScan bool
	// Progress, when set, is called every few hundred blocks of the scan.
	Progress func(height, to int32)
}

// Auditor audits one asset.
type Auditor struct {
	runner *store.Runner
	asset  string
	schema string
	node   Node
	log    *slog.Logger

	mu   sync.Mutex
	last *Result
}

// New returns the auditor of asset (its schema name).
func New(runner *store.Runner, asset string, node Node, log *slog.Logger) (*Auditor, error) {
	if err := store.ValidateSchemaName(asset); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Auditor{runner: runner, asset: asset, schema: pgx.Identifier{asset}.Sanitize(), node: node, log: log.With("asset", asset)}, nil
}

// Asset is the audited asset.
func (a *Auditor) Asset() string { return a.asset }

// LastResult is the last audit's result (nil before the first), for the
// metrics endpoint and for operators.
func (a *Auditor) LastResult() *Result {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last
}

// ErrNotStarted: the chain follower has processed no block yet, so there
// is nothing to audit.
var ErrNotStarted = errors.New("the chain follower has not started yet: run `cryptoassets serve` first")

// Verify audits once (the chain scan from the wallet's birth) and returns
// nil when the audit passes, else an error naming every mismatch, or saying
// the result is not settled. Tests call it after their flows.
func (a *Auditor) Verify(ctx context.Context) error {
	r, err := a.Audit(ctx, Options{FromHeight: -1})
	if err != nil {
		return err
	}
	if !r.OK() {
		lines := make([]string, len(r.Mismatches))
		for i, m := range r.Mismatches {
			lines[i] = m.Subject() + ": " + m.Detail
		}
		return fmt.Errorf("audit %s: %d mismatches:\n  %s", a.asset, len(r.Mismatches), strings.Join(lines, "\n  "))
	}
	if !r.Settled {
		return fmt.Errorf("audit %s: not settled: %s", a.asset, r.Unsettled)
	}
	return nil
}

// Audit runs every check once. An error means the audit could not run (the
// node or the database did not answer); what it found is in the Result.
func (a *Auditor) Audit(ctx context.Context, opt Options) (*Result, error) {
	r := &Result{Asset: a.asset, At: time.Now().UTC(), ScanFrom: -1, ScanTo: -1}
	nodeHeight, nodeTip, err := a.node.Tip(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit %s: asking the node for its tip: %w", a.asset, err)
	}
	cur, err := a.cursor(ctx)
	if err != nil {
		return nil, err
	}
	r.NodeHeight, r.FollowerHeight = nodeHeight, cur.height
	settledBefore := cur.set && cur.hash == nodeTip
	if !cur.set {
		return nil, fmt.Errorf("audit %s: %w", a.asset, ErrNotStarted)
	}

	snap, err := a.snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit %s: %w", a.asset, err)
	}
	snap.judge(r)
	if err := a.checkUnspent(ctx, r); err != nil {
		return nil, fmt.Errorf("audit %s: %w", a.asset, err)
	}
	if !opt.SkipScan {
		if err := a.scan(ctx, r, opt, cur.height); err != nil {
			return nil, fmt.Errorf("audit %s: %w", a.asset, err)
		}
	}

	_, tipAfter, err := a.node.Tip(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit %s: asking the node for its tip: %w", a.asset, err)
	}
	after, err := a.cursor(ctx)
	if err != nil {
		return nil, err
	}
	switch {
	case !settledBefore:
		r.Unsettled = fmt.Sprintf("the follower was at height %d, the node at %d (%s)", cur.height, nodeHeight, nodeTip)
	case tipAfter != nodeTip || after.hash != cur.hash:
		r.Unsettled = "a block arrived during the audit"
	}
	if r.Unsettled == "" {
		r.Settled = true
	}
	sortMismatches(r.Mismatches)
	a.mu.Lock()
	a.last = r
	a.mu.Unlock()
	return r, nil
}

type cursor struct {
	height int32
	hash   chainhash.Hash
	set    bool
}

func (a *Auditor) cursor(ctx context.Context) (cursor, error) {
	var c cursor
	var h *int32
	var hash []byte
	if err := a.runner.Pool().QueryRow(ctx, `SELECT height, hash FROM `+a.schema+`.chain_cursor`).Scan(&h, &hash); err != nil {
		return c, fmt.Errorf("audit %s: reading the chain cursor: %w", a.asset, err)
	}
	if h != nil && len(hash) == chainhash.HashSize {
		c.height, c.hash, c.set = *h, chainhash.Hash(hash), true
	}
	return c, nil
}

func sortMismatches(ms []Mismatch) {
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].Subject() < ms[j].Subject() })
}

// Fingerprint identifies a set of mismatches by their subjects, so the same
// set seen again is recognised whatever the amounts.
func Fingerprint(ms []Mismatch) string {
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = m.Subject()
	}
	sort.Strings(s)
	return strings.Join(s, "\n")
}

// ratio is held/owed with four decimals, without floats touching amounts.
func ratio(held, owed int64) string {
	if owed <= 0 {
		return ""
	}
	return new(big.Rat).SetFrac(big.NewInt(held), big.NewInt(owed)).FloatString(4)
}
