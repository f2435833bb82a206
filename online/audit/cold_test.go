package audit

import (
	"slices"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcutil"
	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/online/batcher/batchertest"
	"github.com/cryptoassets/cryptoassets/online/store"
	"github.com/cryptoassets/cryptoassets/shared/psbt/updater"
)

// coldEnv is env with a cold wallet and one sweep and one top-up booked:
// alice's deposit, 3,000,000 swept to cold, 1,000,000 topped up back to
// hot, and 250,000 paid to a cold address by hand (cold surplus).
type coldEnv struct {
	*env
	cold         *batchertest.Cold
	sweep, topup int64
	topupTxid    chainhash.Hash
}

const handPaid = 250_000

// inFlightKinds lists the kinds of the batches in flight.
func inFlightKinds(r *Result) []string {
	var k []string
	for _, f := range r.InFlight {
		k = append(k, f.Kind)
	}
	return k
}

// coldCycle runs the cycle, auditing at each step: every state a sweep and
// a top-up go through (reserved, in the mempool and seen, booked) passes.
func coldCycle(t *testing.T) *coldEnv {
	e := &coldEnv{env: newEnv(t)}
	e.Pay("alice", 5_000_000)
	e.Mine(1)
	e.cold = batchertest.NewCold(t, e.Ctx, e.Ledger, e.Chain, regtest, e.Issuer, e.BC, 9)
	e.requireClean(e.audit())

	const x, y = 3_000_000, 1_000_000
	var err error
	if e.sweep, err = e.b.Sweep(e.Ctx, x, e.cold.Dest()); err != nil {
		t.Fatal(err)
	}
	e.Sync()
	r := e.audit()
	e.requireClean(r)
	if got := inFlightKinds(r); !slices.Equal(got, []string{"sweep"}) {
		t.Fatalf("in flight %v, want the sweep", got)
	}
	// In flight, the sweep's transfer is already among the cold coins: only
	// its fee is in flight for the reserves.
	if r.Reserves.ColdCoins != x || r.Reserves.InFlight != r.InFlight[0].FeeSat {
		t.Fatalf("reserves with the sweep in flight: %+v (in flight %+v)", r.Reserves, r.InFlight)
	}
	e.Mine(1)
	e.step()
	r = e.audit()
	e.requireClean(r)
	if len(r.InFlight) != 0 || r.Ledger["cold_wallet"] != -x {
		t.Fatalf("after the sweep confirmed: in flight %v, cold_wallet %d", r.InFlight, r.Ledger["cold_wallet"])
	}

	e.topup = e.cold.Export(y)
	e.requireClean(e.audit()) // reserved: nothing moved yet
	e.topupTxid = e.cold.Import(e.topup)
	e.Sync()
	r = e.audit()
	e.requireClean(r)
	if got := inFlightKinds(r); !slices.Equal(got, []string{"topup"}) {
		t.Fatalf("in flight %v, want the top-up", got)
	}
	e.Mine(1)
	e.step()
	e.requireClean(e.audit())

	// A payment to a cold address by hand: cold surplus, no posting.
	var addr string
	if err := e.Runner.InTx(e.Ctx, "test-cold-address", func(tx *store.Tx) error {
		ch, err := e.cold.NextTx(tx, 0)
		addr = ch.Address
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Faucet.Pay(e.Ctx, devenv.Payment{Address: addr, Amount: handPaid}); err != nil {
		t.Fatal(err)
	}
	e.Mine(1)
	return e
}

// The audit passes through a sweep and a top-up, in every state, with the
// cold wallet's account equal to minus its coins; the reserves show hot,
// cold and the cold share, and add up with the cold surplus.
func TestAuditPassesThroughASweepAndATopUp(t *testing.T) {
	e := coldCycle(t)
	r := e.audit()
	e.requireClean(r)
	var coldUnspent, hotUnspent int64
	if err := e.Runner.Pool().QueryRow(e.Ctx, `SELECT coalesce(sum(amount) FILTER (WHERE wallet_id = 2), 0)::bigint, coalesce(sum(amount) FILTER (WHERE wallet_id = 1), 0)::bigint
		FROM btc.coins WHERE spent_by IS NULL`).Scan(&coldUnspent, &hotUnspent); err != nil {
		t.Fatal(err)
	}
	res := r.Reserves
	if res.ColdCoins != coldUnspent || res.HotCoins != hotUnspent || res.ColdShare == "" || res.ColdShare != ratio(coldUnspent, coldUnspent+hotUnspent) {
		t.Fatalf("reserves %+v, unspent hot %d cold %d", res, hotUnspent, coldUnspent)
	}
	if r.ColdSurplusSat != handPaid || r.Ledger["cold_wallet"] != -(coldUnspent-handPaid) {
		t.Fatalf("cold surplus %d, cold_wallet %d, unspent cold %d", r.ColdSurplusSat, r.Ledger["cold_wallet"], coldUnspent)
	}
	if res.Held-res.Liabilities != r.SurplusSat+r.ColdSurplusSat+r.Ledger["network_fees"] {
		t.Fatalf("held %d, owed %d, surplus %d + %d, network_fees %d", res.Held, res.Liabilities, r.SurplusSat, r.ColdSurplusSat, r.Ledger["network_fees"])
	}
}

// Tampering with the cold wallet is caught and named: a cold coin the
// top-up spent marked unspent, an unspent cold coin deleted or its amount
// changed, a stray posting between the cold and hot wallets' accounts.
// After each is undone the audit passes again.
func TestAuditNamesColdTampering(t *testing.T) {
	e := coldCycle(t)
	e.requireClean(e.audit())
	spent := e.outpoint(`SELECT txid, vout FROM btc.coins WHERE wallet_id = 2 AND spent_by = $1 LIMIT 1`, e.topupTxid[:])
	change := e.outpoint(`SELECT txid, vout FROM btc.coins WHERE wallet_id = 2 AND txid = $1`, e.topupTxid[:]) // the top-up's cold change
	stray := e.strayed
	coldTotal := ColdWalletCoins + " cold_wallet total"
	e.tamperEach(t, []tamperCase{
		{
			name: "a cold coin the top-up spent marked unspent",
			tamper: func() {
				e.Exec(`INSERT INTO public.saved_coins SELECT * FROM btc.coins WHERE txid = $1 AND vout = $2`, spent.Hash[:], int32(spent.Index))
				e.Exec(`UPDATE btc.coins SET spent_by = NULL, spent_block = NULL, spent_height = NULL WHERE txid = $1 AND vout = $2`, spent.Hash[:], int32(spent.Index))
			},
			undo: func() { e.rescan(`SELECT spent_height FROM public.saved_coins`) },
			want: []string{CoinSpentOnNode + " " + spent.String(), coldTotal},
		},
		{
			name: "the top-up's cold change deleted",
			tamper: func() {
				e.Exec(`WITH d AS (DELETE FROM btc.coins WHERE txid = $1 AND vout = $2 RETURNING *) INSERT INTO public.saved_coins SELECT * FROM d`, change.Hash[:], int32(change.Index))
			},
			undo: func() { e.rescan(`SELECT block_height FROM public.saved_coins`) },
			want: []string{coldTotal, OutputNotInCoins + " " + change.String()},
		},
		{
			name: "a cold coin's amount raised",
			tamper: func() {
				e.Exec(`UPDATE btc.coins SET amount = amount + 1000 WHERE txid = $1 AND vout = $2`, change.Hash[:], int32(change.Index))
			},
			undo: func() {
				e.Exec(`UPDATE btc.coins SET amount = amount - 1000 WHERE txid = $1 AND vout = $2`, change.Hash[:], int32(change.Index))
			},
			want: []string{coldTotal, OutputNotInCoins + " " + change.String()},
		},
		{
			name:   "a stray posting from the hot to the cold wallet's account",
			tamper: stray("internal:cold_wallet", "internal:hot_wallet", 12_345),
			undo:   stray("internal:hot_wallet", "internal:cold_wallet", 12_345),
			want: []string{AccountBalance + " cold_wallet available", AccountBalance + " hot_wallet available",
				coldTotal, HotWalletCoins + " hot_wallet total"},
		},
		{
			name: "a booked sweep's amount changed",
			tamper: func() {
				e.Exec(`UPDATE btc.batches SET transfer_amount = transfer_amount - 5000 WHERE id = $1`, e.sweep)
			},
			undo: func() {
				e.Exec(`UPDATE btc.batches SET transfer_amount = transfer_amount + 5000 WHERE id = $1`, e.sweep)
			},
			want: []string{AccountBalance + " cold_wallet available", AccountBalance + " hot_wallet available"},
		},
	})
}

// A cold coin spent with the cold key outside any top-up ceremony, straight
// to the node, is named as spent by a transaction we did not build, in the
// mempool and once mined, and the cold wallet no longer equals its coins.
func TestAuditNamesAColdCoinSpentWithTheColdKeyElsewhere(t *testing.T) {
	e := coldCycle(t)
	e.requireClean(e.audit())
	var txid, script []byte
	var vout int32
	var amount int64
	var branch int16
	var idx int32
	if err := e.Runner.Pool().QueryRow(e.Ctx, `SELECT c.txid, c.vout, c.amount, c.script, a.branch, a.idx FROM btc.coins c
		JOIN btc.addresses a ON a.id = c.address_id WHERE c.wallet_id = 2 AND c.txid = $1`, e.topupTxid[:]).
		Scan(&txid, &vout, &amount, &script, &branch, &idx); err != nil {
		t.Fatal(err)
	}
	op := wire.OutPoint{Hash: chainhash.Hash(txid), Index: uint32(vout)}
	thief, err := btcutil.DecodeAddress(outside(t, 19), regtest)
	if err != nil {
		t.Fatal(err)
	}
	thiefScript, err := txscript.PayToAddrScript(thief)
	if err != nil {
		t.Fatal(err)
	}
	p, err := btcpsbt.New([]*wire.OutPoint{&op}, []*wire.TxOut{wire.NewTxOut(amount-2_000, thiefScript)}, 2, 0, []uint32{wire.MaxTxInSequenceNum})
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.cold.Wallet.Account().Derive(uint32(branch), uint32(idx))
	if err != nil {
		t.Fatal(err)
	}
	p.Inputs[0].WitnessUtxo = wire.NewTxOut(amount, script)
	updater.InputKey(&p.Inputs[0], d)
	tx, err := e.cold.Sign(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Chain.Broadcast(e.Ctx, tx); err != nil {
		t.Fatal(err)
	}
	want := []string{CoinSpentByUnknown + " " + op.String(), ColdWalletCoins + " cold_wallet total"}
	e.Sync()
	if got := subjects(e.audit()); !slices.Equal(got, want) {
		t.Fatalf("in the mempool: mismatches %q, want %q", got, want)
	}
	e.Mine(1)
	r := e.audit()
	if got := subjects(r); !slices.Equal(got, want) {
		t.Fatalf("mined: mismatches %q, want %q", got, want)
	}
	for _, m := range r.Mismatches {
		if m.Kind == CoinSpentByUnknown && !strings.Contains(m.Detail, "cold coin") {
			t.Fatalf("the detail does not say the coin is cold: %s", m.Detail)
		}
	}
}
