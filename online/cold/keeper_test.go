package cold_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/online/batcher"
	"github.com/cryptoassets/cryptoassets/online/broadcast"
	"github.com/cryptoassets/cryptoassets/online/cold"
	"github.com/cryptoassets/cryptoassets/online/hotwallet"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/withdrawals"
)

// keeperEnv adds to topUpEnv the hot side: the hot signer, the
// broadcaster, withdrawal requests and the batcher, whose Sweep the keeper
// calls.
type keeperEnv struct {
	*topUpEnv
	w      *withdrawals.Service
	b      *batcher.Batcher
	keeper *cold.Keeper
}

func newKeeperEnv(t *testing.T, cfg cold.Config) *keeperEnv {
	t.Helper()
	e := &keeperEnv{topUpEnv: newTopUpEnv(t, cfg)}
	signer, err := hotwallet.New(e.hotW.Master, e.hotW.WPKH)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(signer.Close)
	bc, err := broadcast.New(e.runner, "btc", e.chain, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e.w, err = withdrawals.New(e.ledger, withdrawals.Config{Params: &chaincfg.RegressionNetParams}); err != nil {
		t.Fatal(err)
	}
	if e.b, err = batcher.New(e.ledger, e.chain, e.issuer, signer, bc, batcher.Config{Confirmations: 1, CoinConfirmations: 1, ThresholdCount: 1}, nil); err != nil {
		t.Fatal(err)
	}
	e.keeper = cold.NewKeeper(e.topups, cold.SweeperFunc(func(ctx context.Context, a int64, d cold.SweepDest) (int64, error) {
		return e.b.Sweep(ctx, a, d)
	}), nil)
	return e
}

// fundHot credits account with a deposit of each amount to the hot wallet.
func (e *keeperEnv) fundHot(account string, amounts ...int64) {
	e.t.Helper()
	if _, err := e.ledger.CreateAccount(e.ctx, account); err != nil && !errors.Is(err, ledger.ErrAccountExists) {
		e.t.Fatal(err)
	}
	var pays []devenv.Payment
	for _, a := range amounts {
		addrs, err := e.issuer.NewAddresses(e.ctx, account, "", 1)
		if err != nil {
			e.t.Fatal(err)
		}
		pays = append(pays, devenv.Payment{Address: addrs[0].Address, Amount: a})
	}
	if _, err := e.faucet.Pay(e.ctx, pays...); err != nil {
		e.t.Fatal(err)
	}
	e.mine(1)
}

func (e *keeperEnv) step() cold.Did {
	e.t.Helper()
	did, err := e.keeper.Step(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return did
}

func (e *keeperEnv) batcherStep() {
	e.t.Helper()
	if err := e.b.Step(e.ctx); err != nil {
		e.t.Fatal(err)
	}
}

func outsideAddress(t *testing.T, i byte) string {
	t.Helper()
	a, err := btcutil.NewAddressWitnessPubKeyHash(bytes.Repeat([]byte{i}, 20), &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	return a.EncodeAddress()
}

// Above the ceiling the keeper sweeps what is free above the target, once
// while the sweep is on its way, and leaves the hot wallet what the
// pending withdrawal needs: the batcher pays it afterwards.
func TestKeeperSweepsAboveTheCeilingButNeverWhatWithdrawalsNeed(t *testing.T) {
	e := newKeeperEnv(t, cold.Config{Floor: 10_000_000, Ceiling: 100_000_000, Target: 50_000_000})
	e.fundHot("amy", 100_000_000, 100_000_000, 100_000_000)
	wd, err := e.w.Request(e.ctx, withdrawals.Request{Account: "amy", Address: outsideAddress(t, 1), Amount: 120_000_000})
	if err != nil {
		t.Fatal(err)
	}
	did := e.step()
	if did.Levels.Hot != 300_000_000 || did.Levels.Needs != 120_000_000 || did.SweepID == 0 || did.SweepAmount != 130_000_000 {
		t.Fatalf("first step: %+v", did)
	}
	for i := 0; i < 3; i++ {
		if again := e.step(); again.SweepID != 0 {
			t.Fatalf("step %d swept again while sweep %d is live: %+v", i, did.SweepID, again)
		}
	}
	if n := e.count(`SELECT count(*) FROM btc.batches WHERE kind = 'sweep'`); n != 1 {
		t.Fatalf("%d sweeps", n)
	}
	e.mine(1)
	if err := e.b.Follow(e.ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.count(`SELECT count(*) FROM btc.batches WHERE id = $1 AND state = 'confirmed'`, did.SweepID); n != 1 {
		t.Fatal("the sweep did not confirm")
	}
	if n := e.count(`SELECT count(*) FROM btc.coins WHERE wallet_id = 2 AND amount = 130000000 AND spent_by IS NULL`); n != 1 {
		t.Fatal("the cold wallet holds no coin of the sweep")
	}
	lv, err := e.topups.Levels(e.ctx)
	if err != nil || lv.Hot < lv.Needs || lv.Needs != 120_000_000 || lv.Free > 50_000_000 || lv.Free < 49_000_000 {
		t.Fatalf("after the sweep: %+v %v", lv, err)
	}
	// The withdrawal is paid from what the sweep left.
	e.batcherStep()
	e.mine(1)
	e.batcherStep()
	got, err := e.w.Get(e.ctx, wd.ID)
	if err != nil || got.State != "confirmed" {
		t.Fatalf("the withdrawal after the sweep: %+v %v", got, err)
	}
	if d := e.step(); d.SweepID != 0 || d.TopUp.ID != 0 {
		t.Fatalf("between floor and ceiling the keeper acted: %+v", d)
	}
}

// Below the floor the keeper exports one top-up up to the target and
// writes its files; while it is open, further steps export nothing; once
// it expires the next step exports a new one.
func TestKeeperExportsOneTopUpBelowTheFloor(t *testing.T) {
	dir := t.TempDir()
	e := newKeeperEnv(t, cold.Config{Floor: 10_000_000, Ceiling: 100_000_000, Target: 50_000_000, ExportDir: dir})
	e.fundCold(100_000_000, 100_000_000)
	e.fundHot("amy", 5_000_000)
	did := e.step()
	if did.TopUp.ID == 0 || did.TopUp.Amount != 45_000_000 || len(did.Files) != 6 {
		t.Fatalf("first step: %+v", did)
	}
	for _, f := range did.Files {
		if _, err := os.Stat(f); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		if again := e.step(); again.TopUp.ID != 0 || again.Levels.OpenTopUp != did.TopUp.ID {
			t.Fatalf("step %d exported again while top-up %d is open: %+v", i, did.TopUp.ID, again)
		}
	}
	if n := e.count(`SELECT count(*) FROM btc.batches WHERE kind = 'topup'`); n != 1 {
		t.Fatalf("%d top-ups", n)
	}
	if _, err := e.runner.Pool().Exec(e.ctx, `UPDATE btc.batches SET expires_at = now() - interval '1 second' WHERE id = $1`, did.TopUp.ID); err != nil {
		t.Fatal(err)
	}
	next := e.step()
	if len(next.Expired) != 1 || next.Expired[0] != did.TopUp.ID || next.TopUp.ID == 0 || next.TopUp.ID == did.TopUp.ID {
		t.Fatalf("after the expiry: %+v", next)
	}
	if n := e.count(`SELECT count(*) FROM btc.batches WHERE kind = 'topup' AND state = 'reserved'`); n != 1 {
		t.Fatalf("%d open top-ups", n)
	}
}

// A top-up the cold wallet cannot pay in full is capped at what it can.
func TestKeeperCapsTheTopUpAtWhatColdCanPay(t *testing.T) {
	e := newKeeperEnv(t, cold.Config{Floor: 400_000_000, Ceiling: 900_000_000, Target: 500_000_000, Interval: time.Second})
	e.fundCold(60_000_000, 70_000_000)
	e.fundHot("amy", 5_000_000)
	most, err := e.topups.MaxTopUp(e.ctx)
	if err != nil || most <= 120_000_000 || most >= 130_000_000 {
		t.Fatalf("max top-up %d %v", most, err)
	}
	did := e.step()
	if did.TopUp.ID == 0 || did.TopUp.Amount != most || did.TopUp.ChangeAmount != 0 {
		t.Fatalf("capped top-up: %+v (most %d)", did.TopUp, most)
	}
	if n := e.count(`SELECT count(*) FROM btc.coins WHERE wallet_id = 2 AND reserved_by IS NULL AND spent_by IS NULL`); n != 0 {
		t.Fatalf("%d cold coins left out of a top-up capped at all the cold wallet pays", n)
	}
}

// sweepAfter is the batcher's Sweep with something done first, between
// the keeper's reading of the levels and the sweep's transaction.
type sweepAfter struct {
	b     *batcher.Batcher
	first func()
}

func (s sweepAfter) Sweep(ctx context.Context, amount int64, dest cold.SweepDest) (int64, error) {
	s.first()
	return s.b.Sweep(ctx, amount, dest)
}

// The sweep's own transaction checks the levels again: a withdrawal
// requested after the keeper read them, or another keeper's sweep (a
// second serve process), refuses it with nothing written.
func TestKeeperSweepRechecksInItsTransaction(t *testing.T) {
	cfg := cold.Config{Floor: 10_000_000, Ceiling: 100_000_000, Target: 50_000_000}
	e := newKeeperEnv(t, cfg)
	e.fundHot("amy", 100_000_000, 100_000_000)
	requested := false
	late := cold.NewKeeper(e.topups, sweepAfter{b: e.b, first: func() {
		if requested {
			return
		}
		requested = true
		if _, err := e.w.Request(e.ctx, withdrawals.Request{Account: "amy", Address: outsideAddress(t, 2), Amount: 60_000_000}); err != nil {
			t.Error(err)
		}
	}}, nil)
	if did, err := late.Step(e.ctx); err == nil || !strings.Contains(err.Error(), "changed meanwhile") || did.SweepID != 0 {
		t.Fatalf("a sweep sized before a withdrawal was requested: %+v %v", did, err)
	}
	if n := e.count(`SELECT count(*) FROM btc.batches`); n != 0 {
		t.Fatalf("the refused sweep left %d batches", n)
	}
	if n := e.count(`SELECT next_receive FROM btc.wallets WHERE id = 2`); n != 0 {
		t.Fatalf("the refused sweep took cold address %d", n-1)
	}
	// Two keepers at once: both read no live sweep, one sweeps.
	var ready sync.WaitGroup
	ready.Add(2)
	both := func() { ready.Done(); ready.Wait() }
	var wg sync.WaitGroup
	dids := make([]cold.Did, 2)
	errs := make([]error, 2)
	for i := range 2 {
		k := cold.NewKeeper(e.topups, sweepAfter{b: e.b, first: both}, nil)
		wg.Add(1)
		go func() { defer wg.Done(); dids[i], errs[i] = k.Step(e.ctx) }()
	}
	wg.Wait()
	swept := 0
	for i := range 2 {
		switch {
		case errs[i] == nil && dids[i].SweepID != 0:
			swept++
			if dids[i].SweepAmount != 200_000_000-60_000_000-50_000_000 {
				t.Fatalf("swept %d", dids[i].SweepAmount)
			}
		case !errors.Is(errs[i], cold.ErrSweepLive):
			t.Fatalf("keeper %d: %+v %v", i, dids[i], errs[i])
		}
	}
	if swept != 1 || e.count(`SELECT count(*) FROM btc.batches WHERE kind = 'sweep'`) != 1 {
		t.Fatalf("%d keepers swept", swept)
	}
}
