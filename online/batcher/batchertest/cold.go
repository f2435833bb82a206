package batchertest

import (
	"bytes"
	"context"
	"errors"
	"testing"

	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/addresses"
	"github.com/cryptoassets/cryptoassets/online/broadcast"
	"github.com/cryptoassets/cryptoassets/online/coins"
	"github.com/cryptoassets/cryptoassets/online/coinselect"
	"github.com/cryptoassets/cryptoassets/online/hotwallet"
	"github.com/cryptoassets/cryptoassets/online/store"
	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
	"github.com/cryptoassets/cryptoassets/shared/psbt/updater"
)

// TopupFeeRate is the rate of the test's top-ups, in sat per 1000 vbytes.
const TopupFeeRate = 2000

// Cold is one asset's cold wallet in a test.
type Cold struct {
	t      testing.TB
	ctx    context.Context
	runner *store.Runner
	schema string
	asset  string
	issuer *addresses.Issuer
	bc     *broadcast.Broadcaster
	Acct   *hdkeys.AccountKey
	signer *hotwallet.Signer
}

// NewCold registers a cold wallet from a seed of 64 bytes seed as wallets
// row 2 of asset. issuer gives the top-ups' hot addresses; bc opens and
// sends imported top-ups.
func NewCold(t testing.TB, ctx context.Context, runner *store.Runner, asset string, params *chaincfg.Params, issuer *addresses.Issuer,
	bc *broadcast.Broadcaster, seed byte) *Cold {
	t.Helper()
	m, err := hdkeys.NewMaster(bytes.Repeat([]byte{seed}, 64), params)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := m.Account(hdkeys.P2WPKH, 0)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := hotwallet.New(m, acct)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(signer.Close)
	c := &Cold{t: t, ctx: ctx, runner: runner, schema: pgx.Identifier{asset}.Sanitize(), asset: asset, issuer: issuer, bc: bc, Acct: acct, signer: signer}
	if _, err := runner.Pool().Exec(ctx, `INSERT INTO `+c.schema+`.wallets (id, name, descriptor, script_type) VALUES ($1, 'cold', $2, 'p2wpkh')`,
		addresses.ColdWallet, acct.Descriptor()); err != nil {
		t.Fatal(err)
	}
	return c
}

// NextTx takes the next index of branch inside tx and stores its address,
// as addresses.Cold.NextTx does.
func (c *Cold) NextTx(tx *store.Tx, branch uint32) (id int64, d *hdkeys.Derived, err error) {
	col := "next_receive"
	if branch == 1 {
		col = "next_change"
	}
	var idx int64
	if err := tx.QueryRow(`UPDATE `+c.schema+`.wallets SET `+col+` = `+col+` + 1 WHERE id = $1 RETURNING `+col+` - 1`, addresses.ColdWallet).Scan(&idx); err != nil {
		return 0, nil, err
	}
	if d, err = c.Acct.Derive(branch, uint32(idx)); err != nil {
		return 0, nil, err
	}
	err = tx.QueryRow(`INSERT INTO `+c.schema+`.addresses (wallet_id, branch, idx, address, script) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		addresses.ColdWallet, int(branch), idx, d.Address.EncodeAddress(), d.PkScript).Scan(&id)
	return id, d, err
}

// Dest is a sweep destination (batcher.SweepDest): a fresh receive address.
func (c *Cold) Dest() func(tx *store.Tx) (int64, []byte, error) {
	return func(tx *store.Tx) (int64, []byte, error) {
		id, d, err := c.NextTx(tx, 0)
		if err != nil {
			return 0, nil, err
		}
		return id, d.PkScript, nil
	}
}

// Export stores a top-up of amount as online/cold's export does: spendable
// cold coins selected, one output to a fresh hot change address, cold
// change, the coins reserved by the batch, state reserved until its expiry
// an hour on. locktime is the transaction's.
func (c *Cold) Export(amount int64, locktime uint32) int64 {
	c.t.Helper()
	var id int64
	err := c.runner.InTx(c.ctx, "test-topup-export", func(tx *store.Tx) error {
		var cursor int32
		if err := tx.QueryRow(`SELECT height FROM ` + c.schema + `.chain_cursor`).Scan(&cursor); err != nil {
			return err
		}
		cs, err := coins.SpendableTx(tx, c.asset, addresses.ColdWallet, 1, cursor)
		if err != nil {
			return err
		}
		byOutpoint := map[wire.OutPoint]coins.Coin{}
		var selectable []coinselect.Coin
		for _, k := range cs {
			byOutpoint[k.OutPoint] = k
			selectable = append(selectable, coinselect.Coin{OutPoint: k.OutPoint, Amount: k.Amount, Script: k.Script, Confirmed: k.BlockHeight != nil, Change: true})
		}
		hot, err := c.issuer.NewChangeTx(tx)
		if err != nil {
			return err
		}
		_, change, err := c.NextTx(tx, 1)
		if err != nil {
			return err
		}
		outs := []coinselect.Output{{Script: hot.Script, Amount: amount}}
		sel, err := coinselect.Select(selectable, outs, coinselect.Params{FeeRate: TopupFeeRate, LongTermFeeRate: TopupFeeRate, ChangeScript: change.PkScript})
		if err != nil {
			return err
		}
		unsigned, changeVout, err := coinselect.Assemble(sel, outs, change.PkScript, locktime)
		if err != nil {
			return err
		}
		p, err := btcpsbt.NewFromUnsignedTx(unsigned)
		if err != nil {
			return err
		}
		for i, in := range unsigned.TxIn {
			k := byOutpoint[in.PreviousOutPoint]
			d, err := c.Acct.Derive(k.Branch, k.Index)
			if err != nil {
				return err
			}
			p.Inputs[i].WitnessUtxo = wire.NewTxOut(k.Amount, append([]byte(nil), k.Script...))
			updater.InputKey(&p.Inputs[i], d)
		}
		transferVout := 0
		var changeVoutArg, changeAmount any
		if sel.Change > 0 {
			updater.OutputKey(&p.Outputs[changeVout], change)
			changeVoutArg, changeAmount = changeVout, sel.Change
			if changeVout == 0 {
				transferVout = 1
			}
		}
		var raw bytes.Buffer
		if err := p.Serialize(&raw); err != nil {
			return err
		}
		txid := unsigned.TxHash()
		if err := tx.QueryRow(`INSERT INTO `+c.schema+`.batches (kind, state, txid, psbt, fee, fee_rate, vsize, locktime, change_vout, change_amount,
				transfer_vout, transfer_amount, transfer_address_id, expires_at)
			VALUES ('topup', 'reserved', $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, now() + interval '1 hour') RETURNING id`,
			txid[:], raw.Bytes(), sel.Fee, TopupFeeRate, sel.VSize, int64(locktime), changeVoutArg, changeAmount, transferVout, amount, hot.ID).Scan(&id); err != nil {
			return err
		}
		for _, in := range unsigned.TxIn {
			op := in.PreviousOutPoint
			if _, err := tx.Exec(`INSERT INTO `+c.schema+`.batch_inputs (batch_id, txid, vout) VALUES ($1, $2, $3)`, id, op.Hash[:], int64(op.Index)); err != nil {
				return err
			}
			tag, err := tx.Exec(`UPDATE `+c.schema+`.coins SET reserved_by = $1 WHERE txid = $2 AND vout = $3 AND reserved_by IS NULL`, id, op.Hash[:], int64(op.Index))
			if err != nil {
				return err
			}
			if tag.RowsAffected() != 1 {
				return errors.New("a cold coin was reserved meanwhile")
			}
		}
		return nil
	})
	if err != nil {
		c.t.Fatal(err)
	}
	return id
}

// Import signs exported top-up id with the cold key and moves it to
// broadcasting with its broadcast record in one transaction, then sends
// it, as `cryptoassets cold import` does. It returns the signed txid.
func (c *Cold) Import(id int64) chainhash.Hash {
	c.t.Helper()
	var raw []byte
	if err := c.runner.Pool().QueryRow(c.ctx, `SELECT psbt FROM `+c.schema+`.batches WHERE id = $1`, id).Scan(&raw); err != nil {
		c.t.Fatal(err)
	}
	p, err := btcpsbt.NewFromRawBytes(bytes.NewReader(raw), false)
	if err != nil {
		c.t.Fatal(err)
	}
	signed, err := c.signer.Sign(p)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.runner.InTx(c.ctx, "test-topup-import", func(tx *store.Tx) error {
		tag, err := tx.Exec(`UPDATE `+c.schema+`.batches SET state = 'broadcasting' WHERE id = $1 AND state = 'reserved'`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return errors.New("the top-up is not reserved")
		}
		_, _, err = c.bc.OpenTx(tx, broadcast.KindColdTopup, signed)
		return err
	}); err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.bc.Send(c.ctx, signed.TxHash()); err != nil {
		c.t.Fatal(err)
	}
	return signed.TxHash()
}
