package batcher

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/internal/chainscan"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/store"
	"github.com/cryptoassets/cryptoassets/shared/psbt/updater"
)

// payloads are the events of typ, oldest first.
func (e *env) payloads(typ string) []map[string]any {
	e.t.Helper()
	rows, err := e.Runner.Pool().Query(e.Ctx, `SELECT payload FROM public.events WHERE type = $1 ORDER BY id`, typ)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []map[string]any
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			e.t.Fatal(err)
		}
		var p map[string]any
		if err := json.Unmarshal(raw, &p); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// walletsBooked says the hot and cold ledger accounts are minus their
// unspent coins (nothing in flight, no surplus in these tests).
func (e *env) walletsBooked() {
	e.t.Helper()
	if hot, coins := e.hotBalance(), e.unspentHot(); hot != -coins {
		e.t.Fatalf("hot wallet ledger %d, unspent hot coins %d", hot, coins)
	}
	if cold, coins := e.balance(ledger.ColdWallet), e.unspentCold(); cold != -coins {
		e.t.Fatalf("cold wallet ledger %d, unspent cold coins %d", cold, coins)
	}
}

// A sweep to a fresh cold address is built from hot coins, signed,
// broadcast and followed like a withdrawals batch; when it confirms, the
// ledger books hot → cold (hot +(X+F), cold −X, fees −F), the events
// follow its states, and the chain shows the cold address paid once.
// Sweeps the hot wallet cannot pay, or only over the fee caps, are refused
// with the reason and write nothing, not even the cold address.
func TestSweepConfirmsAndBooksHotToCold(t *testing.T) {
	e := newEnv(t, Config{MaxFeeRatio: 0.01})
	e.Fund("alice", 3_000_000)
	cold := e.newCold()

	for _, tc := range []struct {
		name   string
		amount int64
		dest   SweepDest
	}{
		{"more than the hot wallet holds", 5_000_000, cold.dest()},
		{"a fee over max_fee_ratio of the amount", 50_000, cold.dest()},
		{"no amount", 0, cold.dest()},
		{"no destination", 1_000_000, nil},
		{"a hot address", 1_000_000, func(tx *store.Tx) (int64, []byte, error) {
			ch, err := e.Issuer.NewChangeTx(tx)
			return ch.ID, ch.Script, err
		}},
		{"a script that is not the address's", 1_000_000, func(tx *store.Tx) (int64, []byte, error) {
			ch, err := cold.NextTx(tx, 0)
			return ch.ID, []byte{0x00, 0x14, 1, 2, 3}, err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addrs := e.Count(`SELECT count(*) FROM btc.addresses`)
			if _, err := e.b.Sweep(e.Ctx, tc.amount, tc.dest); !errors.Is(err, ErrSweepNotBuilt) {
				t.Fatalf("got %v, want %v", err, ErrSweepNotBuilt)
			}
			if n := e.Count(`SELECT count(*) FROM btc.batches`); n != 0 {
				t.Fatalf("%d batches after a refused sweep", n)
			}
			if n := e.Count(`SELECT count(*) FROM btc.coins WHERE reserved_by IS NOT NULL`); n != 0 {
				t.Fatalf("%d coins reserved after a refused sweep", n)
			}
			if n := e.Count(`SELECT count(*) FROM btc.addresses`); n != addrs {
				t.Fatalf("%d addresses after a refused sweep, %d before: the address was not given back", n, addrs)
			}
		})
	}

	hot0, cold0, fees0 := e.hotBalance(), e.balance(ledger.ColdWallet), e.networkFees()
	const x = 2_000_000
	id, err := e.b.Sweep(e.Ctx, x, cold.dest())
	if err != nil {
		t.Fatal(err)
	}
	b := e.batch(id)
	if b.kind != BatchSweep || b.state != Broadcast || b.transfer != x || b.transferAddr == "" {
		t.Fatalf("after the sweep: %+v", b)
	}
	if !e.inMempool(b.txid) {
		t.Fatal("the sweep is not in the node's mempool")
	}
	var kind string
	if err := e.Runner.Pool().QueryRow(e.Ctx, `SELECT kind FROM btc.broadcasts WHERE txid = $1`, b.txid[:]).Scan(&kind); err != nil || kind != KindSweep {
		t.Fatalf("broadcast record kind %q (%v), want %s", kind, err, KindSweep)
	}
	e.Mine(1)
	e.step()
	b = e.batch(id)
	if b.state != Confirmed || b.ledgerTx == nil {
		t.Fatalf("after a block: %+v", b)
	}
	if got, want := e.hotBalance()-hot0, x+b.fee; got != want {
		t.Fatalf("hot wallet moved by %d, want +%d (amount + fee)", got, want)
	}
	if got := e.balance(ledger.ColdWallet) - cold0; got != -x {
		t.Fatalf("cold wallet moved by %d, want %d", got, -x)
	}
	if got := e.networkFees() - fees0; got != -b.fee {
		t.Fatalf("network fees moved by %d, want %d", got, -b.fee)
	}
	if n := e.Count(`SELECT count(*) FROM btc.ledger_transactions WHERE kind = 'sweep.booked'`); n != 1 {
		t.Fatalf("%d sweep.booked ledger transactions", n)
	}
	if c, m := e.PaidOnChain(b.transferAddr, x); c != 1 || m != 0 {
		t.Fatalf("the cold address is paid %d times on the chain, %d in the mempool", c, m)
	}
	for _, typ := range []string{EventSweepBroadcast, EventSweepConfirmed} {
		ps := e.payloads(typ)
		if len(ps) != 1 {
			t.Fatalf("%d %s events, want 1", len(ps), typ)
		}
		p := ps[0]
		if p["batch_id"] != float64(id) || p["txid"] != b.txid.String() || p["address"] != b.transferAddr ||
			p["amount_sat"] != "2000000" || p["vout"] != float64(b.transferVoutSeen) || p["fee_sat"] == nil {
			t.Fatalf("%s payload %v", typ, p)
		}
		if typ == EventSweepConfirmed && (p["block_height"] == nil || p["block_hash"] == nil || p["confirmations"] != float64(1)) {
			t.Fatalf("%s payload %v", typ, p)
		}
	}
	// Confirmed: nothing more happens.
	e.Mine(1)
	e.step()
	if n := e.Count(`SELECT count(*) FROM btc.ledger_transactions WHERE kind = 'sweep.booked'`); n != 1 {
		t.Fatalf("%d sweep.booked ledger transactions after another block", n)
	}
	e.invariants()
	e.walletsBooked()
}

// An operator bumps a sweep waiting for a block: the replacement pays the
// higher fee from the change or, a sweep without change, from what it
// moves to cold; the node swaps it in, and the version that confirms is
// the one booked (its fee, its amount), the other replaced.
func TestOperatorBumpOfASweepBooksTheVersionThatConfirmed(t *testing.T) {
	for _, tc := range []struct {
		name     string
		changed  bool
		transfer func(rate int64) int64 // the sweep's amount out of one 1,000,000 sat coin
	}{
		{"with change", true, func(int64) int64 { return 600_000 }},
		// 1 input and 1 output are about 110 vB: 120 vB of fee leaves less
		// than an output of change would cost.
		{"without change: the transfer pays", false, func(rate int64) int64 { return 1_000_000 - 120*rate/1000 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{DeadlineBlocks: -1, MaxFee: 100_000})
			e.Fund("fay", 1_000_000)
			cold := e.newCold()
			rate, err := e.b.feeRate(e.Ctx)
			if err != nil {
				t.Fatal(err)
			}
			x := tc.transfer(rate)
			hot0, cold0, fees0 := e.hotBalance(), e.balance(ledger.ColdWallet), e.networkFees()
			id, err := e.b.Sweep(e.Ctx, x, cold.dest())
			if err != nil {
				t.Fatal(err)
			}
			first := e.batch(id)
			var hasChange bool
			if err := e.Runner.Pool().QueryRow(e.Ctx, `SELECT change_vout IS NOT NULL FROM btc.batches WHERE id = $1`, id).Scan(&hasChange); err != nil {
				t.Fatal(err)
			}
			if hasChange != tc.changed {
				t.Fatalf("sweep of %d: change %v, want %v", x, hasChange, tc.changed)
			}
			bumped := rate*2 + 1000
			if _, err := e.b.RequestBump(e.Ctx, first.txid, bumped, "op"); err != nil {
				t.Fatal(err)
			}
			e.step()
			var secondID int64
			if err := e.Runner.Pool().QueryRow(e.Ctx, `SELECT id FROM btc.batches WHERE replaces = $1`, id).Scan(&secondID); err != nil {
				t.Fatalf("no replacement: %v", err)
			}
			second := e.batch(secondID)
			if second.kind != BatchSweep || second.state != Broadcast || second.fee <= first.fee || second.transferAddr != first.transferAddr {
				t.Fatalf("replacement %+v of %+v", second, first)
			}
			if tc.changed && second.transfer != x || !tc.changed && second.transfer != x-(second.fee-first.fee) {
				t.Fatalf("replacement transfers %d, first %d (fees %d, %d)", second.transfer, x, second.fee, first.fee)
			}
			if e.inMempool(first.txid) || !e.inMempool(second.txid) {
				t.Fatalf("mempool: first %v, second %v; want the replacement only", e.inMempool(first.txid), e.inMempool(second.txid))
			}
			e.Mine(1)
			e.step()
			if got := e.batch(secondID); got.state != Confirmed {
				t.Fatalf("replacement after a block: %s", got.state)
			}
			if got := e.batch(id); got.state != Replaced || got.ledgerTx != nil {
				t.Fatalf("first version after its replacement confirmed: %+v", got)
			}
			if got, want := e.hotBalance()-hot0, second.transfer+second.fee; got != want {
				t.Fatalf("hot wallet moved by %d, want %d", got, want)
			}
			if got := e.balance(ledger.ColdWallet) - cold0; got != -second.transfer {
				t.Fatalf("cold wallet moved by %d, want %d", got, -second.transfer)
			}
			if got := e.networkFees() - fees0; got != -second.fee {
				t.Fatalf("network fees moved by %d: want the confirmed version's %d", got, -second.fee)
			}
			if c, _ := e.PaidOnChain(first.transferAddr, second.transfer); c != 1 {
				t.Fatalf("the cold address is paid the confirmed amount %d times", c)
			}
			e.invariants()
			e.walletsBooked()
		})
	}
}

// A reserved top-up is an export waiting for the air-gapped signer: the
// batcher's resume, which signs the reserved batches an earlier run left,
// never tries it (the hot signer would refuse its cold inputs and the
// step would fail), bumps never touch it, and `broadcasts bump` on it says
// why. Imported and mined, it is booked cold → hot.
func TestResumeSkipsAReservedTopupAndItIsBookedColdToHotOnceImported(t *testing.T) {
	e := newEnv(t, Config{})
	e.Fund("gus", 3_000_000)
	cold := e.newCold()
	if _, err := e.b.Sweep(e.Ctx, 2_000_000, cold.dest()); err != nil {
		t.Fatal(err)
	}
	e.Mine(1)
	e.step()
	const y = 500_000
	id := cold.export(y)
	topup := e.batch(id)
	e.step()
	e.step()
	if got := e.batch(id); got.state != Reserved {
		t.Fatalf("top-up after two steps: %s", got.state)
	}
	if n := e.Count(`SELECT count(*) FROM btc.broadcasts WHERE txid = $1`, topup.txid[:]); n != 0 {
		t.Fatal("the batcher opened a broadcast for a reserved top-up")
	}
	if _, err := e.b.RequestBump(e.Ctx, topup.txid, 50_000, "op"); !errors.Is(err, ErrTopupNotBumpable) {
		t.Fatalf("bump of a reserved top-up: %v", err)
	}
	if err := CheckBumpable(KindTopup); !errors.Is(err, ErrTopupNotBumpable) {
		t.Fatalf("CheckBumpable(%s): %v", KindTopup, err)
	}
	e.invariants()

	hot0, cold0, fees0 := e.hotBalance(), e.balance(ledger.ColdWallet), e.networkFees()
	signed := cold.importSigned(id)
	if got := e.batch(id); got.state != Broadcast || !e.inMempool(signed) {
		t.Fatalf("imported top-up: %s, in the mempool %v", got.state, e.inMempool(signed))
	}
	if _, err := e.b.RequestBump(e.Ctx, signed, 50_000, "op"); !errors.Is(err, ErrTopupNotBumpable) {
		t.Fatalf("bump of a broadcast top-up: %v", err)
	}
	e.step()
	e.invariants() // in flight: the cold coin spent, the hot coin seen, nothing booked yet
	e.Mine(1)
	e.step()
	b := e.batch(id)
	if b.state != Confirmed || b.ledgerTx == nil {
		t.Fatalf("top-up after a block: %+v", b)
	}
	if got := e.hotBalance() - hot0; got != -y {
		t.Fatalf("hot wallet moved by %d, want %d", got, -y)
	}
	if got, want := e.balance(ledger.ColdWallet)-cold0, y+b.fee; got != want {
		t.Fatalf("cold wallet moved by %d, want +%d", got, want)
	}
	if got := e.networkFees() - fees0; got != -b.fee {
		t.Fatalf("network fees moved by %d, want %d", got, -b.fee)
	}
	if c, _ := e.PaidOnChain(b.transferAddr, y); c != 1 {
		t.Fatalf("the hot address is paid %d times", c)
	}
	for _, typ := range []string{EventTopupBroadcast, EventTopupConfirmed} {
		if ps := e.payloads(typ); len(ps) != 1 || ps[0]["batch_id"] != float64(id) || ps[0]["amount_sat"] != "500000" {
			t.Fatalf("%s events: %v", typ, ps)
		}
	}
	if n := e.Count(`SELECT count(*) FROM btc.ledger_transactions WHERE kind = 'cold.topup_booked'`); n != 1 {
		t.Fatalf("%d cold.topup_booked ledger transactions", n)
	}
	e.invariants()
	e.walletsBooked()
}

// A sweep the node never received is abandoned by an operator: it pays no
// withdrawal, so its coins are released at once. Its bytes reach the node
// after all and are mined: it is booked like any sweep.
func TestAbandonedSweepReleasesItsCoinsAndIsBookedIfMinedAfterAll(t *testing.T) {
	lost := &lostSends{}
	lost.n.Store(1 << 20)
	e := newEnvWith(t, Config{}, func(n chain.Node) chain.Node { lost.Node = n; return lost })
	e.Fund("hal", 2_000_000)
	cold := e.newCold()
	id, err := e.b.Sweep(e.Ctx, 1_000_000, cold.dest())
	if err != nil {
		t.Fatal(err)
	}
	var record int64
	var raw []byte
	if err := e.Runner.Pool().QueryRow(e.Ctx, `SELECT r.id, r.raw_tx FROM btc.broadcasts r JOIN btc.batches b ON b.txid = r.txid
		WHERE b.id = $1 AND r.closed_at IS NULL`, id).Scan(&record, &raw); err != nil {
		t.Fatalf("the sweep's record is not open: %v", err)
	}
	if got := e.batch(id); got.reservedCoins == 0 {
		t.Fatal("the sweep reserved no coin")
	}
	if _, err := e.BC.Abandon(e.Ctx, record, "test-operator"); err != nil {
		t.Fatal(err)
	}
	if got := e.batch(id); got.state != Abandoned || got.reservedCoins != 0 {
		t.Fatalf("abandoned sweep: %+v; want its coins released", got)
	}
	e.step()
	if n := e.Count(`SELECT count(*) FROM btc.batches`); n != 1 {
		t.Fatalf("%d batches: an abandoned sweep is not paid again", n)
	}
	e.invariants()
	var tx wire.MsgTx
	if err := tx.Deserialize(bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Chain.Broadcast(e.Ctx, &tx); err != nil {
		t.Fatal(err)
	}
	e.Mine(1)
	e.step()
	if got := e.batch(id); got.state != Confirmed || got.ledgerTx == nil {
		t.Fatalf("the abandoned sweep mined after all: %+v", got)
	}
	e.invariants()
	e.walletsBooked()
}

// A process that dies right after reserving a sweep (crash point
// batch.reserved) leaves it reserved with its txid fixed: the next step
// signs and sends that same transaction, as for a withdrawals batch.
func TestSweepReservedBeforeACrashIsSentOnResumeWithItsTxid(t *testing.T) {
	e := newEnv(t, Config{})
	e.Fund("jo", 2_000_000)
	cold := e.newCold()
	rate, err := e.b.feeRate(e.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	tip, _, err := e.Chain.Tip(e.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := e.Runner.InTx(e.Ctx, "test-sweep-reserve", func(tx *store.Tx) error {
		ch, err := cold.NextTx(tx, 0)
		if err != nil {
			return err
		}
		id, err = e.b.reserveTx(tx, order{kind: BatchSweep, outs: []pending{{script: ch.Script, amount: 1_000_000}}, transferAddress: ch.ID}, nil, rate, tip, nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	reserved := e.batch(id)
	if reserved.state != Reserved || reserved.reservedCoins == 0 {
		t.Fatalf("reserved sweep: %+v", reserved)
	}
	e.step()
	if got := e.batch(id); got.state != Broadcast || got.txid != reserved.txid || !e.inMempool(reserved.txid) {
		t.Fatalf("after resume: %+v, in the mempool %v; want the reserved txid %s broadcast", got, e.inMempool(reserved.txid), reserved.txid)
	}
	e.Mine(1)
	e.step()
	if got := e.batch(id); got.state != Confirmed {
		t.Fatalf("after a block: %s", got.state)
	}
	e.invariants()
	e.walletsBooked()
}

// The node refuses a sweep whose coin a transaction signed with the hot
// key elsewhere already spends (the follower had not seen it yet): the
// sweep is rejected and, paying no withdrawal, releases its coins at once
// rather than being paid again; once that coin is spent deep in the chain
// the sweep is dead, and nothing was booked.
func TestRejectedSweepReleasesItsCoinsAndIsNotBuiltAgain(t *testing.T) {
	e := newEnv(t, Config{})
	e.Fund("lu", 2_000_000)
	cold := e.newCold()
	var c struct {
		txid          []byte
		vout          uint32
		amount        int64
		script        []byte
		branch, index uint32
	}
	if err := e.Runner.Pool().QueryRow(e.Ctx, `SELECT c.txid, c.vout, c.amount, c.script, a.branch, a.idx FROM btc.coins c
		JOIN btc.addresses a ON a.id = c.address_id WHERE c.wallet_id = 1 AND c.spent_by IS NULL`).Scan(&c.txid, &c.vout, &c.amount, &c.script, &c.branch, &c.index); err != nil {
		t.Fatal(err)
	}
	// The other spend, not replaceable, straight to the node.
	op := wire.NewOutPoint((*chainhash.Hash)(c.txid), c.vout)
	dest, err := chainscan.AddressScript(outside(t, 61), regtest)
	if err != nil {
		t.Fatal(err)
	}
	p, err := btcpsbt.New([]*wire.OutPoint{op}, []*wire.TxOut{wire.NewTxOut(c.amount-200_000, dest)}, 2, 0, []uint32{wire.MaxTxInSequenceNum})
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Signer.Account().Derive(c.branch, c.index)
	if err != nil {
		t.Fatal(err)
	}
	p.Inputs[0].WitnessUtxo = wire.NewTxOut(c.amount, c.script)
	updater.InputKey(&p.Inputs[0], d)
	other, err := e.Signer.Sign(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Chain.Broadcast(e.Ctx, other); err != nil {
		t.Fatal(err)
	}

	id, err := e.b.Sweep(e.Ctx, 1_000_000, cold.dest())
	if err != nil {
		t.Fatal(err)
	}
	if got := e.batch(id); got.state != Rejected || got.reservedCoins != 0 {
		t.Fatalf("the refused sweep: %+v; want rejected with its coins released", got)
	}
	ps := e.payloads(EventBatchRejected)
	if len(ps) != 1 || ps[0]["kind"] != BatchSweep || ps[0]["coins_released"] != float64(1) {
		t.Fatalf("batch.rejected events: %v", ps)
	}
	e.step()
	if n := e.Count(`SELECT count(*) FROM btc.batches`); n != 1 {
		t.Fatalf("%d batches: a rejected sweep is not paid again", n)
	}
	e.Mine(1)
	e.step()
	if got := e.batch(id); got.state != Dead || got.ledgerTx != nil {
		t.Fatalf("the rejected sweep once its coin is spent in a block: %+v", got)
	}
	if err := e.Ledger.Check(e.Ctx); err != nil {
		t.Fatal(err)
	}
	if v := e.balance(ledger.ColdWallet); v != 0 {
		t.Fatalf("cold_wallet %d after a sweep that never confirmed", v)
	}
}
