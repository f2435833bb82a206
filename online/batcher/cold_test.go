package batcher

import (
	"github.com/btcsuite/btcd/chaincfg/chainhash"

	"github.com/cryptoassets/cryptoassets/online/batcher/batchertest"
)

// coldWallet is the test's cold wallet (batchertest.Cold), with the
// shapes this package's tests use.
type coldWallet struct {
	e *env
	*batchertest.Cold
}

func (e *env) newCold() *coldWallet {
	e.t.Helper()
	return &coldWallet{e: e, Cold: batchertest.NewCold(e.t, e.Ctx, e.Ledger, e.Chain, regtest, e.Issuer, e.BC, 9)}
}

// dest is the SweepDest the cold keeper passes: a fresh receive address.
func (c *coldWallet) dest() SweepDest { return c.Dest() }

// export exports a top-up of amount through online/cold.
func (c *coldWallet) export(amount int64) int64 { return c.Export(amount) }

// importSigned signs and imports exported top-up id, as `cold import` does.
func (c *coldWallet) importSigned(id int64) chainhash.Hash { return c.Import(id) }

// balance is an internal account's ledger balance (available + pending).
func (e *env) balance(kind string) int64 {
	e.t.Helper()
	return e.Sum(`SELECT coalesce(sum(b.available + b.pending), 0)::bigint FROM btc.balances b
		JOIN btc.accounts a ON a.id = b.account_id WHERE a.kind = $1`, kind)
}

func (e *env) unspentCold() int64 { e.t.Helper(); return e.Sum(unspentSQL, 2) }

// batchInfo is a batch's row as the cold tests look at it.
type batchInfo struct {
	kind, state      string
	txid             chainhash.Hash
	fee, transfer    int64
	transferAddr     string
	ledgerTx         *int64
	confirmations    int32
	reservedCoins    int
	transferAddrID   int64
	transferVoutSeen int32
}

func (e *env) batch(id int64) batchInfo {
	e.t.Helper()
	var b batchInfo
	var txid []byte
	if err := e.Runner.Pool().QueryRow(e.Ctx, `SELECT bt.kind, bt.state, bt.txid, bt.fee, coalesce(bt.transfer_amount, 0), coalesce(a.address, ''),
			bt.ledger_tx_id, bt.confirmations, (SELECT count(*) FROM btc.coins c WHERE c.reserved_by = bt.id), coalesce(bt.transfer_address_id, 0),
			coalesce(bt.transfer_vout, -1)
		FROM btc.batches bt LEFT JOIN btc.addresses a ON a.id = bt.transfer_address_id WHERE bt.id = $1`, id).
		Scan(&b.kind, &b.state, &txid, &b.fee, &b.transfer, &b.transferAddr, &b.ledgerTx, &b.confirmations, &b.reservedCoins, &b.transferAddrID, &b.transferVoutSeen); err != nil {
		e.t.Fatal(err)
	}
	b.txid = chainhash.Hash(txid)
	return b
}
