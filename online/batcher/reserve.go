package batcher

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"

	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/internal/crashpoint"
	"github.com/cryptoassets/cryptoassets/online/addresses"
	"github.com/cryptoassets/cryptoassets/online/batches"
	"github.com/cryptoassets/cryptoassets/online/coins"
	"github.com/cryptoassets/cryptoassets/online/coinselect"
	"github.com/cryptoassets/cryptoassets/online/events"
	"github.com/cryptoassets/cryptoassets/online/store"
	"github.com/cryptoassets/cryptoassets/online/withdrawals"
	"github.com/cryptoassets/cryptoassets/shared/amount"
	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
	"github.com/cryptoassets/cryptoassets/shared/psbt/updater"
)

// pending is a withdrawal waiting for a batch.
type pending struct {
	id     int64
	script []byte
	amount int64
}

// coin is a spendable hot coin with what is needed to sign it.
type coin struct {
	coinselect.Coin
	branch, index uint32
}

// refusal is a batch that was not built, and why, for an operator.
type refusal struct{ reason string }

func (r *refusal) Error() string { return r.reason }

// BatchNow builds one batch of the oldest requested withdrawals, signs it
// and broadcasts it. It returns the batch's id, 0 when nothing was built
// (nothing waiting, or a refusal, which is logged and reported by a
// batch.not_built event).
func (b *Batcher) BatchNow(ctx context.Context) (int64, error) {
	rate, err := b.feeRate(ctx)
	if err != nil {
		return 0, err
	}
	tip, _, err := b.node.Tip(ctx)
	if err != nil {
		return 0, err
	}
	var id int64
	var refused *refusal
	err = b.runner.InTx(ctx, "batch-reserve", func(tx *store.Tx) error {
		id, refused = 0, nil
		if err := b.lock(tx); err != nil {
			return err
		}
		if paused, err := withdrawals.Paused(tx, b.ledger.Asset()); paused || err != nil {
			return err // the circuit breaker is tripped: no batch until an operator resumes
		}
		ws, err := b.requested(tx)
		if err != nil || len(ws) == 0 {
			return err
		}
		id, err = b.reserveTx(tx, order{kind: BatchWithdrawals, outs: ws}, nil, rate, tip, nil)
		if errors.As(err, &refused) {
			return nil // nothing written that matters: the transaction ends empty
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	if refused != nil {
		return 0, b.refuse(ctx, refused.reason)
	}
	if id == 0 {
		return 0, nil
	}
	b.lastRefusal = ""
	crashpoint.Hit(CrashReserved)
	return id, b.openAndSend(ctx, id)
}

// lock serialises the batchers of one asset (several serve processes): a
// second one waits, then sees the withdrawals already batched.
func (b *Batcher) lock(tx *store.Tx) error {
	_, err := tx.Exec(`SELECT pg_advisory_xact_lock(hashtextextended('cryptoassets.batcher.' || $1, 0))`, b.ledger.Asset())
	return err
}

func (b *Batcher) requested(tx *store.Tx) ([]pending, error) {
	return pendingRows(tx.Query(`SELECT id, script, amount FROM `+b.schema+`.withdrawals WHERE state = 'requested' ORDER BY id LIMIT $1`, b.cfg.MaxOutputs))
}

// pendingRows reads (id, script, amount) rows.
func pendingRows(rows pgx.Rows, err error) ([]pending, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (pending, error) {
		var p pending
		err := r.Scan(&p.id, &p.script, &p.amount)
		return p, err
	})
}

// spendable returns the hot coins a new batch may spend (coins.SpendableTx:
// unspent, in no batch, and either our own change or confirmed
// CoinConfirmations deep), against the follower's stored tip.
func (b *Batcher) spendable(tx *store.Tx) ([]coin, error) {
	var tip *int32
	if err := tx.QueryRow(`SELECT height FROM ` + b.schema + `.chain_cursor`).Scan(&tip); err != nil || tip == nil {
		return nil, err
	}
	cs, err := coins.SpendableTx(tx, b.ledger.Asset(), addresses.HotWallet, int32(b.cfg.CoinConfirmations), *tip)
	if err != nil {
		return nil, err
	}
	out := make([]coin, len(cs))
	for i, c := range cs {
		out[i] = coin{Coin: coinselect.Coin{OutPoint: c.OutPoint, Amount: c.Amount, Script: c.Script, Confirmed: c.BlockHeight != nil, Change: c.Branch == 1},
			branch: c.Branch, index: c.Index}
	}
	return out, nil
}

// feeRate is the node's estimate (or the fallback) within the caps.
func (b *Batcher) feeRate(ctx context.Context) (int64, error) {
	return batches.FeeRate(ctx, b.node, batches.FeePolicy{ConfTarget: b.cfg.ConfTarget,
		Fallback: b.cfg.FallbackFeeRate, MinRelay: b.cfg.MinRelayFeeRate, Max: b.cfg.MaxFeeRate}, b.log), nil
}

func (b *Batcher) params(rate int64, changeScript []byte) coinselect.Params {
	return coinselect.Params{FeeRate: rate, LongTermFeeRate: b.cfg.LongTermFeeRate, ChangeScript: changeScript,
		MaxFee: b.cfg.MaxFee, MaxFeeRatio: b.cfg.MaxFeeRatio}
}

// order is what a batch of hot coins pays: withdrawals (outs, one per
// withdrawal, oldest first), or a sweep (outs: the one output paying the
// cold address transferAddress).
type order struct {
	kind            string
	outs            []pending
	transferAddress int64
}

// reserveTx builds a batch paying o inside tx: it selects coins (all of
// required, which the caller holds, plus what else is needed), takes a
// change address, stores the unsigned PSBT with its txid, reserves the
// coins and, for withdrawals, marks them batched. When the hot wallet
// cannot pay every withdrawal, the oldest that it can pay are batched
// (never for a replacement, which must pay every withdrawal of the batch
// it replaces).
func (b *Batcher) reserveTx(tx *store.Tx, o order, required []coin, rate int64, tip int32, replaces *int64) (int64, error) {
	ws := o.outs
	sweep := o.kind == BatchSweep
	coins, err := b.spendable(tx)
	if err != nil {
		return 0, err
	}
	changeScript, err := b.peekChange(tx)
	if err != nil {
		return 0, err
	}
	byOutpoint := map[wire.OutPoint]coin{}
	selectable := make([]coinselect.Coin, 0, len(coins))
	for _, c := range coins {
		byOutpoint[c.OutPoint] = c
		selectable = append(selectable, c.Coin)
	}
	req := make([]coinselect.Coin, 0, len(required))
	for _, c := range required {
		byOutpoint[c.OutPoint] = c
		req = append(req, c.Coin)
	}
	choose := func(n int) (coinselect.Selection, error) {
		outs := outputs(ws[:n])
		p := b.params(rate, changeScript)
		p.Required = req
		return coinselect.Select(selectable, outs, p)
	}
	n := len(ws)
	sel, err := choose(n)
	if errors.Is(err, coinselect.ErrInsufficientFunds) && replaces == nil && n > 1 && !sweep {
		// The largest prefix of the oldest withdrawals the coins pay.
		k := sort.Search(n, func(k int) bool {
			_, err := choose(k + 1)
			return errors.Is(err, coinselect.ErrInsufficientFunds)
		})
		if k > 0 {
			n = k
			sel, err = choose(n)
		}
	}
	if err != nil {
		var total int64
		for _, c := range selectable {
			total += c.Amount
		}
		switch {
		case sweep && errors.Is(err, coinselect.ErrInsufficientFunds):
			return 0, &refusal{fmt.Sprintf("the hot wallet's %d spendable coins (%s BTC) cannot pay a sweep of %s BTC and its fee at %s sat/vB: %v",
				len(selectable), amount.FormatBTC(total), amount.FormatBTC(ws[0].amount), rateText(rate), err)}
		case sweep && (errors.Is(err, coinselect.ErrFeeCap) || errors.Is(err, coinselect.ErrFeeRatio)):
			return 0, &refusal{fmt.Sprintf("a sweep of %s BTC not built at %s sat/vB: %v", amount.FormatBTC(ws[0].amount), rateText(rate), err)}
		case errors.Is(err, coinselect.ErrInsufficientFunds):
			return 0, &refusal{fmt.Sprintf("the hot wallet's %d spendable coins (%s BTC) cannot pay withdrawal %d (%s BTC) and its fee at %s sat/vB: %v",
				len(selectable), amount.FormatBTC(total), ws[0].id, amount.FormatBTC(ws[0].amount), rateText(rate), err)}
		case errors.Is(err, coinselect.ErrFeeCap), errors.Is(err, coinselect.ErrFeeRatio):
			return 0, &refusal{fmt.Sprintf("%d withdrawals not batched at %s sat/vB: %v", n, rateText(rate), err)}
		}
		return 0, err
	}
	ws = ws[:n]
	var changeIndex uint32
	if sel.Change > 0 {
		ch, err := b.issuer.NewChangeTx(tx)
		if err != nil {
			return 0, err
		}
		if !bytes.Equal(ch.Script, changeScript) {
			return 0, errors.New("the change address taken differs from the one the batch was sized for")
		}
		changeIndex = ch.Index
	}
	p, changeVout, err := skeleton(b.signer.Account(), sel, ws, byOutpoint, changeScript, changeIndex, tip)
	if err != nil {
		return 0, err
	}
	unsigned := p.UnsignedTx
	var changeAmount *int64
	var changeVoutArg *int
	if sel.Change > 0 {
		changeAmount, changeVoutArg = &sel.Change, &changeVout
	}
	txid := unsigned.TxHash()
	var paid int64
	for _, w := range ws {
		paid += w.amount
	}
	row := batches.Batch{Kind: o.kind, PSBT: p, Fee: sel.Fee, FeeRate: rate, VSize: sel.VSize,
		ChangeVout: changeVoutArg, ChangeAmount: changeAmount, Replaces: replaces,
		DeadlineHeight: b.deadline(tip), FeeBudget: new(max(b.budget(paid), sel.Fee))}
	// A sweep's one output is its transfer to the cold wallet.
	if sweep {
		v := 0
		if changeVoutArg != nil && changeVout == 0 {
			v = 1
		}
		row.TransferVout, row.TransferAmount, row.TransferAddressID = &v, &ws[0].amount, &o.transferAddress
	}
	r, err := batches.Reserve(tx, b.ledger.Asset(), row)
	if err != nil {
		return 0, err
	}
	id := r.ID
	wIDs, wVouts := make([]int64, len(ws)), make([]int64, len(ws))
	for i, w := range ws {
		v := i
		if changeVoutArg != nil && v >= changeVout {
			v++
		}
		wIDs[i], wVouts[i] = w.id, int64(v)
		if out := unsigned.TxOut[v]; out.Value != w.amount || !bytes.Equal(out.PkScript, w.script) {
			return 0, fmt.Errorf("batch %d: output %d does not pay %s", id, v, o.what(w))
		}
	}
	if sweep {
		b.log.Info("sweep reserved", "batch", id, "txid", txid, "amount_sat", ws[0].amount, "inputs", len(unsigned.TxIn),
			"fee_sat", sel.Fee, "fee_rate_sat_per_vb", rateText(rate), "algorithm", sel.Algorithm, "change_sat", sel.Change)
		return id, nil
	}
	if _, err := tx.Exec(`INSERT INTO `+b.schema+`.batch_withdrawals (batch_id, withdrawal_id, vout) SELECT $1, w, v FROM unnest($2::bigint[], $3::bigint[]) AS x(w, v)`,
		id, wIDs, wVouts); err != nil {
		return 0, err
	}
	from := "requested"
	if replaces != nil {
		from = "batched"
	}
	tag, err := tx.Exec(`UPDATE `+b.schema+`.withdrawals w SET state = 'batched', batch_id = $1, vout = x.v, updated_at = now()
		FROM unnest($2::bigint[], $3::bigint[]) AS x(id, v) WHERE w.id = x.id AND w.state = $4`, id, wIDs, wVouts, from)
	if err != nil {
		return 0, err
	}
	if int(tag.RowsAffected()) != len(ws) {
		return 0, fmt.Errorf("batch %d: %d of %d withdrawals changed state meanwhile", id, len(ws)-int(tag.RowsAffected()), len(ws))
	}
	for i, w := range ws {
		if _, err := events.Emit(tx, b.ledger.Asset(), EventWithdrawalBatched, map[string]any{
			"withdrawal_id": w.id, "batch_id": id, "txid": chainhash.Hash(txid).String(), "vout": wVouts[i],
			"amount_sat": strconv.FormatInt(w.amount, 10), "state": "batched",
		}); err != nil {
			return 0, err
		}
	}
	b.log.Info("batch reserved", "batch", id, "txid", txid, "withdrawals", len(ws), "inputs", len(unsigned.TxIn),
		"fee_sat", sel.Fee, "fee_rate_sat_per_vb", rateText(rate), "algorithm", sel.Algorithm, "change_sat", sel.Change)
	return id, nil
}

// what names an output of the order, for an error.
func (o order) what(p pending) string {
	if o.kind == BatchSweep {
		return fmt.Sprintf("the sweep's cold address %d", o.transferAddress)
	}
	return fmt.Sprintf("withdrawal %d", p.id)
}

// skeleton is the unsigned batch transaction as a PSBT: nVersion 2, RBF
// on every input, locktime at the tip, the withdrawals' outputs in order
// with the change at a random place, and for each input its coin and the
// hot key's origin (and the change output's), so the one signer role finds
// and checks every key. It touches no database.
func skeleton(acct *hdkeys.AccountKey, sel coinselect.Selection, ws []pending, byOutpoint map[wire.OutPoint]coin,
	changeScript []byte, changeIndex uint32, tip int32) (*btcpsbt.Packet, int, error) {
	unsigned, changeVout, err := coinselect.Assemble(sel, outputs(ws), changeScript, uint32(max(tip, 0)))
	if err != nil {
		return nil, 0, err
	}
	p, err := btcpsbt.NewFromUnsignedTx(unsigned)
	if err != nil {
		return nil, 0, err
	}
	for i, in := range unsigned.TxIn {
		c, ok := byOutpoint[in.PreviousOutPoint]
		if !ok {
			return nil, 0, fmt.Errorf("coin selection returned an unknown coin %s", in.PreviousOutPoint)
		}
		d, err := acct.Derive(c.branch, c.index)
		if err != nil {
			return nil, 0, err
		}
		if !bytes.Equal(d.PkScript, c.Script) {
			return nil, 0, fmt.Errorf("coin %s: its address %d/%d does not derive to its script under the hot key", c.OutPoint, c.branch, c.index)
		}
		p.Inputs[i].WitnessUtxo = wire.NewTxOut(c.Amount, append([]byte(nil), c.Script...))
		updater.InputKey(&p.Inputs[i], d)
	}
	if sel.Change > 0 {
		d, err := acct.Derive(1, changeIndex)
		if err != nil {
			return nil, 0, err
		}
		if !bytes.Equal(d.PkScript, changeScript) {
			return nil, 0, errors.New("the change output's key does not derive to the change script")
		}
		updater.OutputKey(&p.Outputs[changeVout], d)
	}
	return p, changeVout, nil
}

// peekChange is the script of the next change address, without taking it:
// a changeless batch leaves no gap in the change branch.
func (b *Batcher) peekChange(tx *store.Tx) ([]byte, error) {
	var next int64
	if err := tx.QueryRow(`SELECT next_change FROM `+b.schema+`.wallets WHERE id = $1`, addresses.HotWallet).Scan(&next); err != nil {
		return nil, fmt.Errorf("the hot wallet is not registered (no address was ever issued): %w", err)
	}
	d, err := b.signer.Account().Derive(1, uint32(next))
	if err != nil {
		return nil, err
	}
	return d.PkScript, nil
}

func outputs(ws []pending) []coinselect.Output {
	out := make([]coinselect.Output, len(ws))
	for i, w := range ws {
		out[i] = coinselect.Output{Script: w.script, Amount: w.amount}
	}
	return out
}

func rateText(satPerKvB int64) string {
	return strconv.FormatFloat(float64(satPerKvB)/1000, 'f', -1, 64)
}

// refuse logs why no batch was built and, once per change of reason, emits
// batch.not_built.
func (b *Batcher) refuse(ctx context.Context, reason string) error {
	b.log.Warn("withdrawals not batched", "reason", reason)
	if reason == b.lastRefusal {
		return nil
	}
	err := b.runner.InTx(ctx, "batch-not-built", func(tx *store.Tx) error {
		_, err := events.Emit(tx, b.ledger.Asset(), EventBatchNotBuilt, map[string]any{"reason": reason})
		return err
	})
	if err == nil {
		b.lastRefusal = reason
	}
	return err
}
