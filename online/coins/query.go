package coins

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cryptoassets/cryptoassets/online/store"
)

// A coin's state, derived from its row.
const (
	Unconfirmed = "unconfirmed" // in the mempool
	Confirmed   = "confirmed"   // in a block, not spent
	Spending    = "spending"    // spent by a transaction in the mempool
	Spent       = "spent"       // spent by a transaction in a block
)

// Filters of List besides the states: unspent is unconfirmed or confirmed;
// reserved is unspent and reserved by a batch; spent (as a filter) is
// spending or spent.
const (
	FilterUnspent  = "unspent"
	FilterReserved = "reserved"
)

// States lists the values Filter.State accepts.
var States = []string{FilterUnspent, Unconfirmed, Confirmed, Spending, Spent, FilterReserved}

// ErrBadFilter is a filter value List does not know.
var ErrBadFilter = errors.New("coins: bad filter")

// coinbaseMaturity is how many confirmations a coinbase output needs before
// it can be spent (consensus).
const coinbaseMaturity = 100

// Coin is one of our coins as operators and the batcher see it.
type Coin struct {
	OutPoint  wire.OutPoint
	Wallet    string // hot or cold
	WalletID  int16
	AddressID int64
	Address   string
	// Branch and Index are the address's derivation under the wallet's
	// account key (0 receive, 1 change).
	Branch   uint32
	Index    uint32
	Amount   int64
	Script   []byte
	Coinbase bool
	State    string
	// BlockHeight is nil while unconfirmed; Confirmations counts against the
	// follower's stored tip (0 while unconfirmed).
	BlockHeight   *int32
	Confirmations int32
	SpentBy       *chainhash.Hash
	SpentHeight   *int32
	ReservedBy    *int64
	FirstSeenAt   time.Time
	UpdatedAt     time.Time
}

// Filter selects coins for List.
type Filter struct {
	Wallet string // hot, cold, or "" for both
	State  string // one of States, or "" for every coin
	// Limit is at most 1000; 0 means 100.
	Limit int
	// After pages: coins are listed in outpoint order, after this one.
	After *wire.OutPoint
}

const coinColumns = `c.txid, c.vout, w.name, c.wallet_id, c.address_id, a.address, a.branch, a.idx, c.amount, c.script, c.coinbase,
	c.block_height, c.spent_by, c.spent_height, c.reserved_by, c.first_seen_at, c.updated_at, c.spent_block IS NOT NULL`

func coinFrom(s string) string {
	return s + `.coins c JOIN ` + s + `.wallets w ON w.id = c.wallet_id JOIN ` + s + `.addresses a ON a.id = c.address_id`
}

func stateWhere(state string) (string, error) {
	switch state {
	case "":
		return "true", nil
	case FilterUnspent:
		return "c.spent_by IS NULL", nil
	case Unconfirmed:
		return "c.spent_by IS NULL AND c.block_hash IS NULL", nil
	case Confirmed:
		return "c.spent_by IS NULL AND c.block_hash IS NOT NULL", nil
	case Spending:
		return "c.spent_by IS NOT NULL AND c.spent_block IS NULL", nil
	case Spent:
		return "c.spent_by IS NOT NULL", nil
	case FilterReserved:
		return "c.spent_by IS NULL AND c.reserved_by IS NOT NULL", nil
	}
	return "", fmt.Errorf("%w: state %q: use one of %s", ErrBadFilter, state, strings.Join(States, ", "))
}

// List returns coins in outpoint order, with confirmations counted against
// the follower's stored tip.
func List(ctx context.Context, pool *pgxpool.Pool, schema string, f Filter) ([]Coin, error) {
	s := ident(schema)
	where, err := stateWhere(f.State)
	if err != nil {
		return nil, err
	}
	if f.Wallet != "" && f.Wallet != "hot" && f.Wallet != "cold" {
		return nil, fmt.Errorf("%w: wallet %q: use hot or cold", ErrBadFilter, f.Wallet)
	}
	if f.Limit < 0 || f.Limit > 1000 {
		return nil, fmt.Errorf("%w: limit %d: use 1 to 1000", ErrBadFilter, f.Limit)
	}
	if f.Limit == 0 {
		f.Limit = 100
	}
	afterTxid, afterVout := []byte(nil), int32(-1)
	if f.After != nil {
		afterTxid, afterVout = f.After.Hash[:], int32(f.After.Index)
	}
	tip, err := storedTip(ctx, pool, s)
	if err != nil {
		return nil, err
	}
	rows, err := pool.Query(ctx, `SELECT `+coinColumns+` FROM `+coinFrom(s)+`
		WHERE `+where+` AND ($1 = '' OR w.name = $1) AND ($2::bytea IS NULL OR (c.txid, c.vout) > ($2::bytea, $3::integer))
		ORDER BY c.txid, c.vout LIMIT $4`, f.Wallet, afterTxid, afterVout, f.Limit)
	if err != nil {
		return nil, err
	}
	return scanCoins(rows, tip)
}

func storedTip(ctx context.Context, pool *pgxpool.Pool, s string) (int32, error) {
	var tip *int32
	if err := pool.QueryRow(ctx, `SELECT height FROM `+s+`.chain_cursor`).Scan(&tip); err != nil {
		return 0, fmt.Errorf("reading the chain cursor: %w", err)
	}
	if tip == nil {
		return -1, nil
	}
	return *tip, nil
}

func scanCoins(rows pgx.Rows, tip int32) ([]Coin, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Coin, error) {
		var c Coin
		var txid, spentBy []byte
		var vout int32
		var branch int16
		var idx int32
		var inBlock bool
		err := r.Scan(&txid, &vout, &c.Wallet, &c.WalletID, &c.AddressID, &c.Address, &branch, &idx, &c.Amount, &c.Script, &c.Coinbase,
			&c.BlockHeight, &spentBy, &c.SpentHeight, &c.ReservedBy, &c.FirstSeenAt, &c.UpdatedAt, &inBlock)
		if err != nil {
			return c, err
		}
		c.OutPoint = wire.OutPoint{Hash: chainhash.Hash(txid), Index: uint32(vout)}
		c.Branch, c.Index = uint32(branch), uint32(idx)
		if spentBy != nil {
			h := chainhash.Hash(spentBy)
			c.SpentBy = &h
		}
		switch {
		case c.SpentBy != nil && inBlock:
			c.State = Spent
		case c.SpentBy != nil:
			c.State = Spending
		case c.BlockHeight != nil:
			c.State = Confirmed
		default:
			c.State = Unconfirmed
		}
		if c.BlockHeight != nil && tip >= *c.BlockHeight {
			c.Confirmations = tip - *c.BlockHeight + 1
		}
		return c, nil
	})
}

// SpendableTx returns, inside the caller's transaction, the coins of the
// wallet the batcher may spend, smallest first: unspent, not reserved, and
// either an output of one of our own batches the node accepted (change:
// spendable at once, confirmed or not), or confirmed with at least minConf
// confirmations at tip (a coinbase coin also needs 100). minConf below 1
// counts as 1. An output the follower ignored as a deposit (dust, below
// min_deposit_sat) is never offered: it is credited to nobody, costs more
// to spend than it holds, and spending it would link our addresses for
// whoever sent it.
func SpendableTx(tx *store.Tx, schema string, walletID int16, minConf, tip int32) ([]Coin, error) {
	s := ident(schema)
	minConf = max(minConf, 1)
	rows, err := tx.Query(`SELECT `+coinColumns+` FROM `+coinFrom(s)+`
		WHERE c.wallet_id = $1 AND c.spent_by IS NULL AND c.reserved_by IS NULL
		  AND NOT EXISTS (SELECT 1 FROM `+s+`.ignored_outputs io WHERE io.txid = c.txid AND io.vout = c.vout)
		  AND (c.block_height <= $3::integer - (CASE WHEN c.coinbase THEN greatest($2::integer, $4::integer) ELSE $2::integer END) + 1
		       OR EXISTS (SELECT 1 FROM `+s+`.batches b WHERE b.txid = c.txid AND b.state IN ('broadcast', 'confirmed')))
		ORDER BY c.amount, c.txid, c.vout`, walletID, minConf, tip, coinbaseMaturity)
	if err != nil {
		return nil, err
	}
	return scanCoins(rows, tip)
}

// Spendable is SpendableTx in a transaction of its own.
func Spendable(ctx context.Context, runner *store.Runner, schema string, walletID int16, minConf, tip int32) ([]Coin, error) {
	var out []Coin
	err := runner.InTx(ctx, "coins-spendable", func(tx *store.Tx) error {
		var err error
		out, err = SpendableTx(tx, schema, walletID, minConf, tip)
		return err
	})
	return out, err
}

// Balance sums one wallet's coins in disjoint parts; their sum is what the
// wallet holds or will hold once the mempool settles, less what it is
// spending.
type Balance struct {
	Wallet      string
	Confirmed   int64 // confirmed, unspent, not reserved
	Unconfirmed int64 // unconfirmed, unspent, not reserved
	Reserved    int64 // unspent, reserved by a batch
	Spending    int64 // spent by a transaction in the mempool
	Coins       int64 // unspent coins, reserved or not
}

// Balances returns the balance of every wallet that has a coin row, hot first.
func Balances(ctx context.Context, pool *pgxpool.Pool, schema string) ([]Balance, error) {
	s := ident(schema)
	rows, err := pool.Query(ctx, `SELECT w.name,
			coalesce(sum(c.amount) FILTER (WHERE c.spent_by IS NULL AND c.reserved_by IS NULL AND c.block_hash IS NOT NULL), 0)::bigint,
			coalesce(sum(c.amount) FILTER (WHERE c.spent_by IS NULL AND c.reserved_by IS NULL AND c.block_hash IS NULL), 0)::bigint,
			coalesce(sum(c.amount) FILTER (WHERE c.spent_by IS NULL AND c.reserved_by IS NOT NULL), 0)::bigint,
			coalesce(sum(c.amount) FILTER (WHERE c.spent_by IS NOT NULL AND c.spent_block IS NULL), 0)::bigint,
			count(*) FILTER (WHERE c.spent_by IS NULL)
		FROM `+s+`.wallets w LEFT JOIN `+s+`.coins c ON c.wallet_id = w.id
		GROUP BY w.id, w.name ORDER BY w.id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Balance, error) {
		var b Balance
		err := r.Scan(&b.Wallet, &b.Confirmed, &b.Unconfirmed, &b.Reserved, &b.Spending, &b.Coins)
		return b, err
	})
}
