package cold

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/internal/crashpoint"
	"github.com/cryptoassets/cryptoassets/online/addresses"
	"github.com/cryptoassets/cryptoassets/online/batches"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/coins"
	"github.com/cryptoassets/cryptoassets/online/coinselect"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/store"
	"github.com/cryptoassets/cryptoassets/shared/amount"
	"github.com/cryptoassets/cryptoassets/shared/psbt/updater"
)

// Events of an exported top-up before its import (the batcher emits the
// later ones: cold.topup_broadcast, _confirmed, _reorged).
const (
	EventTopupExported  = "cold.topup_exported"
	EventTopupCancelled = "cold.topup_cancelled"
	EventTopupExpired   = "cold.topup_expired"
)

// Top-up batch states before the import (the batches table's).
const (
	StateReserved  = "reserved"
	StateCancelled = "cancelled"
	StateExpired   = "expired"
)

// Refusals of Export and Cancel, for errors.Is.
var (
	// ErrTopUpOpen: another top-up is exported, or imported and not yet
	// confirmed; one ceremony at a time.
	ErrTopUpOpen = errors.New("another top-up is open")
	// ErrColdFunds: the cold wallet's spendable coins cannot pay the amount
	// and its fee.
	ErrColdFunds = errors.New("the cold wallet cannot pay this top-up")
	// ErrNoTopUp: no top-up has this id.
	ErrNoTopUp = errors.New("no such top-up")
	// ErrNotCancellable: the top-up is no longer an export waiting for its
	// signature (imported, cancelled or expired).
	ErrNotCancellable = errors.New("the top-up cannot be cancelled")
)

// Config is one asset's cold storage policy. Fee rates are sat per 1000
// vbytes.
type Config struct {
	// CoinConfirmations: a cold coin is spent only this deep.
	CoinConfirmations int
	// Expiry is how long an export waits for its import. Default 24h.
	Expiry time.Duration
	// Fee policy, as the batcher's: the node's estimate for ConfTarget
	// blocks (or FallbackFeeRate), clamped to [MinRelayFeeRate, MaxFeeRate];
	// a top-up over MaxFee or MaxFeeRatio of its amount is not built.
	ConfTarget                                   int
	FallbackFeeRate, MinRelayFeeRate, MaxFeeRate int64
	LongTermFeeRate                              int64
	MaxFee                                       int64
	MaxFeeRatio                                  float64
	// Thresholds of the hot wallet (keeper.go), in satoshis; Floor and
	// Ceiling 0 turn the keeper's top-ups and sweeps off.
	Floor, Ceiling, Target int64
	// ExportDir is where the keeper writes the files of its exports (and
	// of the exports it announces for a writer that died), and the
	// directory the cold.topup_exported event names.
	ExportDir string
	// Interval is the keeper's period. Default 30s. An export not
	// announced AnnounceGrace after it was reserved (2 x Interval) is
	// taken to have lost its writer: the keeper writes its files and
	// announces it.
	Interval time.Duration
}

func (c *Config) defaults() {
	if c.CoinConfirmations < 1 {
		c.CoinConfirmations = 1
	}
	if c.Expiry <= 0 {
		c.Expiry = 24 * time.Hour
	}
	fp := batches.FeePolicy{ConfTarget: c.ConfTarget, Fallback: c.FallbackFeeRate, MinRelay: c.MinRelayFeeRate, Max: c.MaxFeeRate}.Defaults()
	c.ConfTarget, c.FallbackFeeRate, c.MinRelayFeeRate, c.MaxFeeRate = fp.ConfTarget, fp.Fallback, fp.MinRelay, fp.Max
	if c.LongTermFeeRate <= 0 {
		c.LongTermFeeRate = coinselect.DefaultLongTermFeeRate
	}
	if c.Target == 0 && c.Ceiling > c.Floor {
		c.Target = (c.Floor + c.Ceiling) / 2
	}
	if c.Interval <= 0 {
		c.Interval = 30 * time.Second
	}
}

// AnnounceGrace is how long after its reservation an export's own writer
// (the keeper's step, or cryptoassets cold topup) has to write its files
// and announce it before the keeper does: two of its intervals.
func (c Config) AnnounceGrace() time.Duration { return 2 * c.Interval }

// Export is a top-up handed to the air-gapped signer: a batch of kind
// topup.
type Export struct {
	ID   int64
	TxID chainhash.Hash
	PSBT *btcpsbt.Packet
	// Amount is paid to the hot wallet; Fee to the network.
	Amount, Fee int64
	ExpiresAt   time.Time

	State      string
	FeeRate    int64 // sat per 1000 vbytes
	VSize      int64
	HotAddress string
	// HotIndex is the hot address's index on the hot change branch: the
	// signer finds it only within its policy's hot_wallet_lookahead.
	HotIndex     uint32
	ChangeAmount int64 // back to the cold wallet; 0 without change
	CancelledBy  string
	CreatedAt    time.Time
}

// TopUps builds, lists, cancels and expires one asset's top-ups.
type TopUps struct {
	cfg    Config
	ledger *ledger.Ledger
	runner *store.Runner
	asset  string
	schema string
	node   chain.Node
	issuer *addresses.Issuer
	cold   *addresses.Cold
	log    *slog.Logger
}

// NewTopUps returns the top-ups of l's asset, paid from cold to the hot
// wallet's change branch (issuer) with change to cold's.
func NewTopUps(l *ledger.Ledger, node chain.Node, issuer *addresses.Issuer, cold *addresses.Cold, cfg Config, log *slog.Logger) (*TopUps, error) {
	if issuer == nil || cold == nil {
		return nil, errors.New("cold top-ups: the hot address issuer and the cold wallet are needed")
	}
	if cold.Account() == nil {
		return nil, errors.New("cold top-ups: the cold wallet's key gives no key origins")
	}
	cfg.defaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &TopUps{cfg: cfg, ledger: l, runner: l.Runner(), asset: l.Asset(), schema: pgx.Identifier{l.Asset()}.Sanitize(),
		node: node, issuer: issuer, cold: cold, log: log.With("asset", l.Asset(), "worker", "cold")}, nil
}

// Config is the policy in force, with its defaults.
func (t *TopUps) Config() Config { return t.cfg }

// WithExportDir is t writing its exports into dir: the directory the
// cold.topup_exported event names.
func (t *TopUps) WithExportDir(dir string) *TopUps {
	c := *t
	c.cfg.ExportDir = dir
	return &c
}

// feeRate is the node's estimate (or the fallback) within the caps, as the
// batcher takes it.
func (t *TopUps) feeRate(ctx context.Context) int64 {
	return batches.FeeRate(ctx, t.node, batches.FeePolicy{ConfTarget: t.cfg.ConfTarget,
		Fallback: t.cfg.FallbackFeeRate, MinRelay: t.cfg.MinRelayFeeRate, Max: t.cfg.MaxFeeRate}, t.log)
}

// openTopUp is the id of a top-up exported or imported and not yet
// confirmed, 0 when there is none.
func (t *TopUps) openTopUp(tx *store.Tx) (int64, error) {
	var id int64
	err := tx.QueryRow(`SELECT id FROM ` + t.schema + `.batches WHERE kind = 'topup' AND state IN ('reserved', 'broadcasting', 'broadcast') ORDER BY id LIMIT 1`).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return id, err
}

// refuseOpen refuses a new top-up while another one is open.
func (t *TopUps) refuseOpen(tx *store.Tx) error {
	id, err := t.openTopUp(tx)
	if err != nil || id == 0 {
		return err
	}
	return fmt.Errorf("%w: top-up %d; import, cancel (cryptoassets cold cancel --operator NAME %d) or let it expire first", ErrTopUpOpen, id, id)
}

// spendable is the cold coins a top-up may spend, at the follower's tip.
func (t *TopUps) spendable(tx *store.Tx) ([]coins.Coin, int32, error) {
	var tip *int32
	if err := tx.QueryRow(`SELECT height FROM ` + t.schema + `.chain_cursor`).Scan(&tip); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, 0, err
	}
	if tip == nil {
		return nil, 0, errors.New("the chain follower has not run yet: no cold coin is known")
	}
	cs, err := coins.SpendableTx(tx, t.asset, addresses.ColdWallet, int32(t.cfg.CoinConfirmations), *tip)
	return cs, *tip, err
}

func (t *TopUps) params(rate int64, changeScript []byte) coinselect.Params {
	return coinselect.Params{FeeRate: rate, LongTermFeeRate: t.cfg.LongTermFeeRate, ChangeScript: changeScript,
		MaxFee: t.cfg.MaxFee, MaxFeeRatio: t.cfg.MaxFeeRatio}
}

func selectable(cs []coins.Coin) ([]coinselect.Coin, int64) {
	out := make([]coinselect.Coin, len(cs))
	var total int64
	for i, c := range cs {
		out[i] = coinselect.Coin{OutPoint: c.OutPoint, Amount: c.Amount, Script: c.Script, Confirmed: c.BlockHeight != nil, Change: c.Branch == 1}
		total += c.Amount
	}
	return out, total
}

// peekScripts are the scripts of the next hot and cold change addresses,
// which size a selection before they are taken (every address of a wallet
// has the same script type, so the size holds for the ones taken later).
func (t *TopUps) peekScripts(tx *store.Tx) (hot, change []byte, err error) {
	var hotNext, coldNext int64
	if err := tx.QueryRow(`SELECT (SELECT next_change FROM `+t.schema+`.wallets WHERE id = $1), (SELECT next_change FROM `+t.schema+`.wallets WHERE id = $2)`,
		addresses.HotWallet, addresses.ColdWallet).Scan(&hotNext, &coldNext); err != nil {
		return nil, nil, fmt.Errorf("the hot or cold wallet is not registered: %w", err)
	}
	h, err := t.issuer.Key().Derive(1, uint32(hotNext))
	if err != nil {
		return nil, nil, err
	}
	c, err := t.cold.Key().Derive(1, uint32(coldNext))
	if err != nil {
		return nil, nil, err
	}
	return h.Script, c.Script, nil
}

func (t *TopUps) refuseSelection(err error, n int, total, amt, rate int64) error {
	switch {
	case errors.Is(err, coinselect.ErrInsufficientFunds):
		return fmt.Errorf("%w: its %d spendable coins (%s BTC, %d confirmations deep) cannot pay %s BTC and its fee at %s sat/vB: %v",
			ErrColdFunds, n, amount.FormatBTC(total), t.cfg.CoinConfirmations, amount.FormatBTC(amt), rateText(rate), err)
	case errors.Is(err, coinselect.ErrFeeCap), errors.Is(err, coinselect.ErrFeeRatio):
		return fmt.Errorf("a top-up of %s BTC at %s sat/vB: %w", amount.FormatBTC(amt), rateText(rate), err)
	}
	return err
}

// Export selects cold coins for a top-up of amt to the hot wallet, builds
// its unsigned PSBT with everything the air-gapped signer checks (each
// input's full previous transaction and coin, the key origins of the
// inputs and of the cold change), and in one transaction takes the hot
// and cold addresses, stores it as a batch of kind topup in state
// reserved with its expiry and reserves its coins. by names who asked (an
// operator, or the keeper). It emits no event: the caller writes the files
// (WriteFiles) and then announces them (Announce), which emits
// cold.topup_exported; an export its caller never announced is announced
// by the keeper (Keeper.Step). It refuses while another top-up is open.
func (t *TopUps) Export(ctx context.Context, amt int64, by string) (Export, error) {
	if amt <= 0 || amt > amount.MaxSat {
		return Export{}, fmt.Errorf("top-up amount %d sat: give a positive amount of at most 21 million BTC", amt)
	}
	if by == "" || len(by) > 100 {
		return Export{}, errors.New("top-up: say who asks for it (1 to 100 characters)")
	}
	rate := t.feeRate(ctx)
	// First pass: choose the coins, to fetch their previous transactions
	// from the node between transactions.
	var chosen []coins.Coin
	var blockOf map[wire.OutPoint]*chainhash.Hash
	err := t.runner.InTx(ctx, "cold-topup-choose", func(tx *store.Tx) error {
		chosen = nil
		if err := t.refuseOpen(tx); err != nil {
			return err
		}
		cs, _, err := t.spendable(tx)
		if err != nil {
			return err
		}
		hot, change, err := t.peekScripts(tx)
		if err != nil {
			return err
		}
		pool, total := selectable(cs)
		sel, err := coinselect.Select(pool, []coinselect.Output{{Script: hot, Amount: amt}}, t.params(rate, change))
		if err != nil {
			return t.refuseSelection(err, len(cs), total, amt, rate)
		}
		byOP := map[wire.OutPoint]coins.Coin{}
		for _, c := range cs {
			byOP[c.OutPoint] = c
		}
		for _, in := range sel.Inputs {
			chosen = append(chosen, byOP[in.OutPoint])
		}
		blockOf, err = blocksOf(tx, t.schema, chosen)
		return err
	})
	if err != nil {
		return Export{}, err
	}
	prevs, err := t.previous(ctx, chosen, blockOf)
	if err != nil {
		return Export{}, err
	}
	var x Export
	err = t.runner.InTx(ctx, "cold-topup-export", func(tx *store.Tx) error {
		var err error
		x, err = t.exportTx(tx, amt, by, rate, chosen, prevs)
		return err
	})
	if err != nil {
		return Export{}, err
	}
	crashpoint.Hit(CrashReserved)
	t.log.Info("top-up exported", "batch", x.ID, "txid", x.TxID, "amount_sat", x.Amount, "fee_sat", x.Fee,
		"inputs", len(x.PSBT.Inputs), "expires_at", x.ExpiresAt, "by", by)
	return x, nil
}

// previous fetches the full transaction of each coin: from its block (no
// transaction index needed), or from the mempool for our own unconfirmed
// change.
func (t *TopUps) previous(ctx context.Context, cs []coins.Coin, blockOf map[wire.OutPoint]*chainhash.Hash) (map[chainhash.Hash]*wire.MsgTx, error) {
	out := map[chainhash.Hash]*wire.MsgTx{}
	blocks := map[chainhash.Hash]*wire.MsgBlock{}
	for _, c := range cs {
		txid := c.OutPoint.Hash
		if out[txid] != nil {
			continue
		}
		var prev *wire.MsgTx
		if h := blockOf[c.OutPoint]; h == nil {
			tx, err := t.node.Transaction(ctx, txid)
			if err != nil {
				return nil, fmt.Errorf("cold coin %s: its unconfirmed transaction: %w", c.OutPoint, err)
			}
			prev = tx
		} else {
			var err error
			b := blocks[*h]
			if b == nil {
				if b, err = t.node.Block(ctx, *h); err != nil {
					return nil, fmt.Errorf("cold coin %s: its block %s: %w", c.OutPoint, h, err)
				}
				blocks[*h] = b
			}
			for _, tx := range b.Transactions {
				if tx.TxHash() == txid {
					prev = tx
					break
				}
			}
		}
		if prev == nil || prev.TxHash() != txid || int(c.OutPoint.Index) >= len(prev.TxOut) ||
			!bytes.Equal(prev.TxOut[c.OutPoint.Index].PkScript, c.Script) || prev.TxOut[c.OutPoint.Index].Value != c.Amount {
			return nil, fmt.Errorf("cold coin %s: the node's transaction does not hold it as the database does (a reorganisation under way?); try again", c.OutPoint)
		}
		out[txid] = prev
	}
	return out, nil
}

// blocksOf reads the block each coin was mined in (nil while unconfirmed).
func blocksOf(tx *store.Tx, schema string, cs []coins.Coin) (map[wire.OutPoint]*chainhash.Hash, error) {
	txids, vouts := make([][]byte, len(cs)), make([]int64, len(cs))
	for i, c := range cs {
		h := c.OutPoint.Hash
		txids[i], vouts[i] = h[:], int64(c.OutPoint.Index)
	}
	rows, err := tx.Query(`SELECT c.txid, c.vout, c.block_hash FROM `+schema+`.coins c JOIN unnest($1::bytea[], $2::bigint[]) AS x(t, v)
		ON c.txid = x.t AND c.vout = x.v`, txids, vouts)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[wire.OutPoint]*chainhash.Hash{}
	for rows.Next() {
		var txid, bh []byte
		var vout int64
		if err := rows.Scan(&txid, &vout, &bh); err != nil {
			return nil, err
		}
		h, err := chainhash.NewHash(txid)
		if err != nil {
			return nil, err
		}
		op := wire.OutPoint{Hash: *h, Index: uint32(vout)}
		if bh != nil {
			if out[op], err = chainhash.NewHash(bh); err != nil {
				return nil, err
			}
		}
	}
	return out, rows.Err()
}

func (t *TopUps) exportTx(tx *store.Tx, amt int64, by string, rate int64, chosen []coins.Coin, prevs map[chainhash.Hash]*wire.MsgTx) (Export, error) {
	if err := t.refuseOpen(tx); err != nil {
		return Export{}, err
	}
	cs, tip, err := t.spendable(tx)
	if err != nil {
		return Export{}, err
	}
	// Only coins whose previous transactions were fetched, and still free.
	still := map[wire.OutPoint]coins.Coin{}
	for _, c := range cs {
		still[c.OutPoint] = c
	}
	var usable []coins.Coin
	for _, c := range chosen {
		if s, ok := still[c.OutPoint]; ok {
			usable = append(usable, s)
		}
	}
	hot, err := t.issuer.NewChangeTx(tx)
	if err != nil {
		return Export{}, err
	}
	change, err := t.cold.NextTx(tx, 1)
	if err != nil {
		return Export{}, err
	}
	pool, total := selectable(usable)
	outs := []coinselect.Output{{Script: hot.Script, Amount: amt}}
	sel, err := coinselect.Select(pool, outs, t.params(rate, change.Script))
	if err != nil {
		if len(usable) < len(chosen) {
			return Export{}, errors.New("the chosen cold coins were spent or reserved meanwhile; try again")
		}
		return Export{}, t.refuseSelection(err, len(usable), total, amt, rate)
	}
	unsigned, changeVout, err := coinselect.Assemble(sel, outs, change.Script, uint32(max(tip, 0)))
	if err != nil {
		return Export{}, err
	}
	p, err := btcpsbt.NewFromUnsignedTx(unsigned)
	if err != nil {
		return Export{}, err
	}
	byOP := map[wire.OutPoint]coins.Coin{}
	for _, c := range usable {
		byOP[c.OutPoint] = c
	}
	acct := t.cold.Account()
	for i, in := range unsigned.TxIn {
		c, ok := byOP[in.PreviousOutPoint]
		if !ok {
			return Export{}, fmt.Errorf("coin selection returned an unknown coin %s", in.PreviousOutPoint)
		}
		d, err := acct.Derive(c.Branch, c.Index)
		if err != nil {
			return Export{}, err
		}
		if !bytes.Equal(d.PkScript, c.Script) {
			return Export{}, fmt.Errorf("cold coin %s: its address %d/%d does not derive to its script under the cold key", c.OutPoint, c.Branch, c.Index)
		}
		p.Inputs[i].NonWitnessUtxo = prevs[c.OutPoint.Hash]
		p.Inputs[i].WitnessUtxo = wire.NewTxOut(c.Amount, append([]byte(nil), c.Script...))
		updater.InputKey(&p.Inputs[i], d)
	}
	var changeAmount *int64
	var changeVoutArg *int
	if sel.Change > 0 {
		d, err := acct.Derive(1, change.Index)
		if err != nil {
			return Export{}, err
		}
		if !bytes.Equal(d.PkScript, change.Script) {
			return Export{}, errors.New("the cold change key does not derive to the change script")
		}
		updater.OutputKey(&p.Outputs[changeVout], d)
		changeAmount, changeVoutArg = &sel.Change, &changeVout
	}
	hotVout := 0
	if changeVoutArg != nil && changeVout == 0 {
		hotVout = 1
	}
	if o := unsigned.TxOut[hotVout]; o.Value != amt || !bytes.Equal(o.PkScript, hot.Script) {
		return Export{}, errors.New("the top-up's output to the hot wallet is not where it was put")
	}
	txid := unsigned.TxHash()
	r, err := batches.Reserve(tx, t.asset, batches.Batch{Kind: "topup", PSBT: p, Fee: sel.Fee, FeeRate: rate, VSize: sel.VSize,
		ChangeVout: changeVoutArg, ChangeAmount: changeAmount,
		TransferVout: &hotVout, TransferAmount: &amt, TransferAddressID: &hot.ID, Expiry: t.cfg.Expiry})
	if err != nil {
		return Export{}, err
	}
	// Who asked is kept for the event, which is emitted once the files
	// exist (Announce), maybe by another process.
	if _, err := tx.Exec(`UPDATE `+t.schema+`.batches SET exported_by = $2 WHERE id = $1`, r.ID, by); err != nil {
		return Export{}, err
	}
	x := Export{ID: r.ID, TxID: txid, PSBT: p, Amount: amt, Fee: sel.Fee, State: StateReserved, FeeRate: rate, VSize: sel.VSize,
		HotAddress: hot.Address, HotIndex: hot.Index, ChangeAmount: sel.Change, ExpiresAt: *r.ExpiresAt, CreatedAt: r.CreatedAt}
	return x, nil
}

func rateText(satPerKvB int64) string {
	return strconv.FormatFloat(float64(satPerKvB)/1000, 'f', -1, 64)
}
