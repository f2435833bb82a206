package cold_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
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
	if evs := e.exportedEvents(did.TopUp.ID); len(did.Announced) != 1 || len(evs) != 1 {
		t.Fatalf("announced %v, %d events", did.Announced, len(evs))
	} else {
		everyFileExists(t, evs[0], 6)
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

// exportedEvents are the cold.topup_exported payloads naming top-up id.
func (e *topUpEnv) exportedEvents(id int64) []map[string]any {
	e.t.Helper()
	rows, err := e.runner.Pool().Query(e.ctx, `SELECT payload FROM public.events WHERE type = $1 AND (payload->>'batch_id')::bigint = $2 ORDER BY seq`,
		cold.EventTopupExported, id)
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
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// everyFileExists fails unless the event names n files and each is there.
func everyFileExists(t *testing.T, ev map[string]any, n int) {
	t.Helper()
	files, _ := ev["files"].([]any)
	if len(files) != n {
		t.Fatalf("the event names %d files, want %d: %v", len(files), n, ev)
	}
	for _, f := range files {
		if _, err := os.Stat(f.(string)); err != nil {
			t.Fatalf("the event names %s, which does not exist: %v", f, err)
		}
	}
}

// The keeper's event comes after its files: a directory it cannot write
// leaves the export reserved and unannounced; once the directory is
// usable its next step writes the files and emits the one event, whose
// files all exist.
func TestKeeperAnnouncesOnlyAfterItsFilesExist(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "exports")
	if err := os.WriteFile(dir, []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := newKeeperEnv(t, cold.Config{Floor: 10_000_000, Ceiling: 100_000_000, Target: 50_000_000, ExportDir: dir, Interval: time.Hour})
	e.fundCold(100_000_000)
	e.fundHot("amy", 5_000_000)
	did, err := e.keeper.Step(e.ctx)
	if err == nil || !strings.Contains(err.Error(), "not announced") || did.TopUp.ID == 0 || len(did.Announced) != 0 {
		t.Fatalf("a step whose files cannot be written: %+v %v", did, err)
	}
	if evs := e.exportedEvents(did.TopUp.ID); len(evs) != 0 {
		t.Fatalf("%d events for an export without its files", len(evs))
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	next := e.step()
	if next.TopUp.ID != 0 || len(next.Announced) != 1 || next.Announced[0] != did.TopUp.ID {
		t.Fatalf("the step after the directory was fixed: %+v", next)
	}
	evs := e.exportedEvents(did.TopUp.ID)
	if len(evs) != 1 || evs[0]["by"] != "keeper" || evs[0]["amount_sat"] != "45000000" {
		t.Fatalf("events %v", evs)
	}
	everyFileExists(t, evs[0], 6)
	if again := e.step(); len(again.Announced) != 0 || len(e.exportedEvents(did.TopUp.ID)) != 1 {
		t.Fatalf("announced again: %+v", again)
	}
}

// An export whose writer died after the reservation (cryptoassets cold
// topup, or another serve process) is left to it for the grace, then the
// keeper writes its files, keeping those the writer finished, and
// announces it once, with who asked for it.
func TestKeeperAnnouncesAnExportItsWriterLeft(t *testing.T) {
	dir := t.TempDir()
	cfg := cold.Config{ExportDir: dir, Interval: time.Hour}
	e := newKeeperEnv(t, cfg)
	if got := e.topups.Config().AnnounceGrace(); got != 2*time.Hour {
		t.Fatalf("grace %v, want two intervals", got)
	}
	e.fundCold(100_000_000)
	x, err := e.topups.Export(e.ctx, 30_000_000, "carol")
	if err != nil {
		t.Fatal(err)
	}
	// The writer got as far as the binary PSBT (its own bytes).
	other := t.TempDir()
	written, err := cold.WriteFiles(other, x)
	if err != nil {
		t.Fatal(err)
	}
	psbtBytes, _ := os.ReadFile(written[0])
	if err := os.WriteFile(cold.Paths(dir, x.ID)[0], psbtBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	if did := e.step(); len(did.Announced) != 0 || len(e.exportedEvents(x.ID)) != 0 {
		t.Fatalf("announced within the grace, while its writer may still write: %+v", did)
	}
	if _, err := e.runner.Pool().Exec(e.ctx, `UPDATE btc.batches SET created_at = now() - interval '3 hours' WHERE id = $1`, x.ID); err != nil {
		t.Fatal(err)
	}
	did := e.step()
	if len(did.Announced) != 1 || did.Announced[0] != x.ID {
		t.Fatalf("after the grace: %+v", did)
	}
	evs := e.exportedEvents(x.ID)
	if len(evs) != 1 || evs[0]["by"] != "carol" {
		t.Fatalf("events %v", evs)
	}
	everyFileExists(t, evs[0], 6)
	if again := e.step(); len(again.Announced) != 0 || len(e.exportedEvents(x.ID)) != 1 {
		t.Fatalf("announced again: %+v", again)
	}
	// A cancelled export is never announced.
	if _, err := e.topups.Cancel(e.ctx, x.ID, "carol"); err != nil {
		t.Fatal(err)
	}
	y, err := e.topups.Export(e.ctx, 20_000_000, "carol")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.topups.Cancel(e.ctx, y.ID, "carol"); err != nil {
		t.Fatal(err)
	}
	if ok, err := e.topups.Announce(e.ctx, y.ID, nil); err != nil || ok {
		t.Fatalf("a cancelled export announced: %v %v", ok, err)
	}
}

// The keeper's recovery and the exporting command announcing the same
// export at once emit one event: both are held on the batch's row until
// both wait there, then let go; one marks it, the other's transaction
// conflicts, runs again and finds it announced.
func TestConcurrentAnnouncersEmitOnce(t *testing.T) {
	dir := t.TempDir()
	e := newKeeperEnv(t, cold.Config{ExportDir: dir, Interval: time.Hour})
	e.fundCold(100_000_000)
	x, err := e.topups.Export(e.ctx, 30_000_000, "dave")
	if err != nil {
		t.Fatal(err)
	}
	files, err := cold.WriteFiles(dir, x) // the command's files, as the keeper writes them
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.runner.Pool().Exec(e.ctx, `UPDATE btc.batches SET created_at = now() - interval '3 hours' WHERE id = $1`, x.ID); err != nil {
		t.Fatal(err)
	}
	hold, err := e.runner.Pool().Begin(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hold.Exec(e.ctx, `SELECT 1 FROM btc.batches WHERE id = $1 FOR UPDATE`, x.ID); err != nil {
		t.Fatal(err)
	}
	before := e.runner.Stats()
	var wg sync.WaitGroup
	var did cold.Did
	var keeperErr, cliErr error
	var cliAnnounced bool
	wg.Add(2)
	go func() { defer wg.Done(); did, keeperErr = e.keeper.Step(e.ctx) }()
	go func() { defer wg.Done(); cliAnnounced, cliErr = e.topups.Announce(e.ctx, x.ID, files) }()
	waiting := 0
	for waiting < 2 && e.ctx.Err() == nil {
		waiting = e.count(`SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%SET announced_at = now()%'`)
		time.Sleep(10 * time.Millisecond)
	}
	if err := hold.Rollback(e.ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if waiting != 2 || keeperErr != nil || cliErr != nil {
		t.Fatalf("%d announcers waited on the row; keeper %v, command %v", waiting, keeperErr, cliErr)
	}
	if retries := e.runner.Stats().Retries - before.Retries; retries == 0 {
		t.Fatal("neither announcement conflicted: the test did not race them")
	}
	keeperAnnounced := len(did.Announced) == 1 && did.Announced[0] == x.ID
	if keeperAnnounced == cliAnnounced {
		t.Fatalf("keeper announced %v, command announced %v: want exactly one", keeperAnnounced, cliAnnounced)
	}
	evs := e.exportedEvents(x.ID)
	if len(evs) != 1 || evs[0]["by"] != "dave" {
		t.Fatalf("%d events: %v", len(evs), evs)
	}
	everyFileExists(t, evs[0], 6)
}
