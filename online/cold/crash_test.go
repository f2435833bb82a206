package cold_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/servetest"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/cold"
	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
)

// TestServeKilledBetweenTopUpReservationAndFilesAnnouncesOnce kills the
// real serve process (built with crash points) with SIGKILL right after
// its keeper's top-up reservation commits, before any file is written:
// no event and no file. Restarted, its keeper finds the export nobody
// announced once the grace has passed, writes the files and emits exactly
// one cold.topup_exported naming them; the ledger and the audit are clean.
func TestServeKilledBetweenTopUpReservationAndFilesAnnouncesOnce(t *testing.T) {
	bin := servetest.Binary(t)
	if missing := servetest.MissingCrashPoints(t, bin, cold.CrashReserved); len(missing) > 0 {
		t.Fatalf("the crash-point build of cryptoassets never reaches %v", missing)
	}
	ctx := testenv.Ctx(t, 5*time.Minute)
	btcd := testenv.NewNode(t, devenv.BtcdOptions{})
	node := chain.NewRPCNode(btcd.Client)
	m, err := hdkeys.NewMaster(bytes.Repeat([]byte{7}, 64), &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := m.Account(hdkeys.P2WPKH, 0)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	serve := servetest.New(t, servetest.Options{RPCURL: btcd.RPCURL(), AssetTOML: fmt.Sprintf(`confirmations = 1
coin_confirmations = 1
poll_interval = "100ms"
cold_wallet_descriptor = %q
hot_floor_sat = 10000000
hot_target_sat = 50000000
hot_ceiling_sat = 900000000
cold_export_dir = %q
cold_check_interval = "1s"
`, acct.Descriptor(), dir)})
	db, err := pgx.Connect(ctx, serve.DB)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	count := func(q string, args ...any) int {
		t.Helper()
		var n int
		if err := db.QueryRow(ctx, q, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}

	serve.Start("CRYPTOASSETS_CRASH_AT=" + cold.CrashReserved)
	if err := serve.WaitReady(time.Minute); err != nil {
		t.Fatal(err)
	}
	out, err := serve.CLI("cold", "address")
	if err != nil {
		t.Fatalf("cold address: %v\n%s", err, out)
	}
	coldAddr := strings.Fields(out)[0]
	if _, err := devenv.NewFaucet(node).Pay(ctx, devenv.Payment{Address: coldAddr, Amount: 100_000_000}); err != nil {
		t.Fatal(err)
	}
	if _, err := btcd.Generate(ctx, 1); err != nil {
		t.Fatal(err)
	}
	serve.WaitKilled(2 * time.Minute)
	if want := "crashpoint: killing at " + cold.CrashReserved + " (hit 1)"; !strings.Contains(serve.Log(), want) {
		t.Fatalf("serve died, but not at %s:\n%s", cold.CrashReserved, serve.LogTail(40))
	}
	var id int64
	if err := db.QueryRow(ctx, `SELECT id FROM btc.batches WHERE kind = 'topup' AND state = 'reserved' AND announced_at IS NULL`).Scan(&id); err != nil {
		t.Fatalf("the one reserved, unannounced top-up after the crash: %v", err)
	}
	if n := count(`SELECT count(*) FROM public.events WHERE type = $1`, cold.EventTopupExported); n != 0 {
		t.Fatalf("%d cold.topup_exported events when serve died before the files", n)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("%d entries in the export directory when serve died before the files", len(ents))
	}

	serve.StartReady()
	deadline := time.Now().Add(time.Minute)
	for count(`SELECT count(*) FROM public.events WHERE type = $1`, cold.EventTopupExported) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no cold.topup_exported after the restart:\n%s", serve.LogTail(40))
		}
		time.Sleep(100 * time.Millisecond)
	}
	var files []string
	if err := db.QueryRow(ctx, `SELECT ARRAY(SELECT jsonb_array_elements_text(payload->'files')) FROM public.events WHERE type = $1 AND (payload->>'batch_id')::bigint = $2`,
		cold.EventTopupExported, id).Scan(&files); err != nil {
		t.Fatal(err)
	}
	if want := cold.Paths(dir, id); strings.Join(files, " ") != strings.Join(want, " ") {
		t.Fatalf("the event names %v, want %v", files, want)
	}
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("the event names %s: %v", f, err)
		}
	}
	var stored []byte
	if err := db.QueryRow(ctx, `SELECT psbt FROM btc.batches WHERE id = $1`, id).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if raw, err := os.ReadFile(files[0]); err != nil || !bytes.Equal(raw, stored) {
		t.Fatalf("the written PSBT is not the stored one: %v", err)
	}
	if out, err := serve.CLI("ledger", "check"); err != nil || !strings.Contains(out, "consistent") {
		t.Fatalf("ledger check: %v\n%s", err, out)
	}
	for i := 0; i < 10; i++ { // a block mined meanwhile leaves it unsettled: again
		if out, err = serve.CLI("audit"); err == nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil || !strings.Contains(out, "no mismatches") {
		t.Fatalf("audit: %v\n%s", err, out)
	}
	serve.Stop()
	if n := count(`SELECT count(*) FROM public.events WHERE type = $1`, cold.EventTopupExported); n != 1 {
		t.Fatalf("%d cold.topup_exported events, want 1", n)
	}
	if n := count(`SELECT count(*) FROM btc.batches WHERE kind = 'topup'`); n != 1 {
		t.Fatalf("%d top-ups, want 1", n)
	}
}
