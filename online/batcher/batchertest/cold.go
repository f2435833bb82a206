package batchertest

import (
	"bytes"
	"context"
	"testing"

	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/online/addresses"
	"github.com/cryptoassets/cryptoassets/online/broadcast"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/cold"
	"github.com/cryptoassets/cryptoassets/online/hotwallet"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/store"
	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
)

// Cold is one asset's cold wallet in a test.
type Cold struct {
	t      testing.TB
	ctx    context.Context
	bc     *broadcast.Broadcaster
	Wallet *addresses.Cold
	TopUps *cold.TopUps
	im     *cold.Importer
	signer *hotwallet.Signer
}

// NewCold registers the cold wallet of a 64-byte seed of seed bytes as l's
// wallets row 2. issuer gives the top-ups' hot addresses; bc opens and
// sends imported top-ups.
func NewCold(t testing.TB, ctx context.Context, l *ledger.Ledger, node chain.Node, params *chaincfg.Params, issuer *addresses.Issuer,
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
	c := &Cold{t: t, ctx: ctx, bc: bc}
	if c.signer, err = hotwallet.New(m, acct); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.signer.Close)
	key, err := addresses.ParseKey(acct.Descriptor(), params)
	if err != nil {
		t.Fatal(err)
	}
	if c.Wallet, err = addresses.NewCold(ctx, l, key, addresses.DefaultColdGap); err != nil {
		t.Fatal(err)
	}
	if c.TopUps, err = cold.NewTopUps(l, node, issuer, c.Wallet, cold.Config{}, nil); err != nil {
		t.Fatal(err)
	}
	if c.im, err = cold.NewImporter(l, params, nil); err != nil {
		t.Fatal(err)
	}
	return c
}

// NextTx takes the next address of branch inside tx (addresses.Cold.NextTx).
func (c *Cold) NextTx(tx *store.Tx, branch uint32) (addresses.Change, error) {
	return c.Wallet.NextTx(tx, branch)
}

// Dest is a sweep destination (batcher.SweepDest) as the cold keeper
// passes it: a fresh receive address.
func (c *Cold) Dest() func(tx *store.Tx) (int64, []byte, error) {
	return func(tx *store.Tx) (int64, []byte, error) {
		ch, err := c.Wallet.NextTx(tx, 0)
		return ch.ID, ch.Script, err
	}
}

// Export exports a top-up of amount (online/cold's TopUps.Export) and
// returns its batch id.
func (c *Cold) Export(amount int64) int64 {
	c.t.Helper()
	x, err := c.TopUps.Export(c.ctx, amount, "test")
	if err != nil {
		c.t.Fatal(err)
	}
	return x.ID
}

// Import signs exported top-up id with the cold key and imports it as
// `cryptoassets cold import` does (checked, opened and sent). It returns
// the signed txid.
func (c *Cold) Import(id int64) chainhash.Hash {
	c.t.Helper()
	x, err := c.TopUps.Get(c.ctx, id)
	if err != nil {
		c.t.Fatal(err)
	}
	p := x.PSBT
	if _, err := c.signer.Sign(p); err != nil {
		c.t.Fatal(err)
	}
	var signed bytes.Buffer
	if err := p.Serialize(&signed); err != nil {
		c.t.Fatal(err)
	}
	got, err := c.im.Import(c.ctx, c.bc, signed.Bytes())
	if err != nil {
		c.t.Fatal(err)
	}
	if got.BatchID != id {
		c.t.Fatalf("imported top-up %d, want %d", got.BatchID, id)
	}
	return got.TxID
}

// Sign signs p with the cold key through the one signer path: the signer
// of a top-up, or someone holding the cold seed outside any ceremony.
func (c *Cold) Sign(p *btcpsbt.Packet) (*wire.MsgTx, error) { return c.signer.Sign(p) }
