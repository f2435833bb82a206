package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/psbttest"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/config"
	"github.com/cryptoassets/cryptoassets/online/deposits"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/store"
	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
	"github.com/cryptoassets/cryptoassets/shared/keystore"
)

// The cold commands on a real node and database: a deposit to the address
// `cold address` shows, a top-up exported with its files and terminal
// frames, listed, shown, written again, cancelled; every bad input refused
// with a message that names the fix, changing nothing.
func TestColdTopUpCommands(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	ctx := testenv.Ctx(t, 5*time.Minute)
	node := testenv.NewNode(t, devenv.BtcdOptions{})
	rpcNode := chain.NewRPCNode(node.Client)
	master := func(seed []byte) (*hdkeys.Master, error) { return hdkeys.NewMaster(seed, regtestParams) }
	seed, err := keystore.SeedFromMnemonic(signerMnemonic, nil)
	if err != nil {
		t.Fatal(err)
	}
	hotW, coldW := psbttest.NewWallet(t, psbttest.Seed(21), master), psbttest.NewWallet(t, seed, master)
	conf := filepath.Join(t.TempDir(), "c.toml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("[database]\nurl = %q\n[assets.btc]\nnetwork = \"regtest\"\nrpc_url = %q\nrpc_user = %q\nrpc_password = %q\nhot_wallet_descriptor = %q\ncold_wallet_descriptor = %q\n",
		testenv.NewDatabase(t), node.RPCURL(), devenv.RPCUser, devenv.RPCPassword, hotW.WPKH.Descriptor(), coldW.WPKH.Descriptor())), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, conf, "migrate"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	// No cold wallet row yet: `cold address` registers it and stores its window.
	out, err := run(t, conf, "cold", "address")
	first := psbttest.Derive(t, coldW.WPKH, 0, 0).Address.EncodeAddress()
	if err != nil || !strings.HasPrefix(out, first+"\tm/84'/1'/0'/0/0") {
		t.Fatalf("cold address: %v %q", err, out)
	}

	cfg, err := config.LoadFromOS(conf)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := store.Open(ctx, cfg.Database.URL, 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	runner := store.NewRunner(pool, cfg.RunnerConfig(), nil)
	l, err := ledger.New(runner, "btc")
	if err != nil {
		t.Fatal(err)
	}
	tip, _, err := rpcNode.Tip(ctx)
	if err != nil {
		t.Fatal(err)
	}
	follower := deposits.NewFollower(l, rpcNode, deposits.Config{Confirmations: 1, StartHeight: tip}, nil)
	if _, err := devenv.NewFaucet(rpcNode).Pay(ctx, devenv.Payment{Address: first, Amount: 80_000_000}); err != nil {
		t.Fatal(err)
	}
	if _, err := node.Generate(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := follower.SyncToTip(ctx); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, conf, "cold", "address"); err != nil || strings.HasPrefix(out, first) {
		t.Fatalf("cold address after a deposit to it: %v %q", err, out)
	}

	count := func() string {
		var batches, reserved, events int
		if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM btc.batches), (SELECT count(*) FROM btc.coins WHERE reserved_by IS NOT NULL),
			(SELECT count(*) FROM public.events)`).Scan(&batches, &reserved, &events); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(batches, reserved, events)
	}
	dir := t.TempDir()
	refuse := func(want string, args ...string) {
		t.Helper()
		before := count()
		out, err := run(t, conf, args...)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%v: want an error containing %q, got %v\n%s", args, want, err, out)
		}
		if after := count(); after != before {
			t.Fatalf("%v: refused, yet batches, reserved coins, events went from %s to %s", args, before, after)
		}
	}
	refuse(`--amount "0.1btc"`, "cold", "topup", "--amount", "0.1btc", "--operator", "op", "--dir", dir)
	refuse("amount must be greater than zero", "cold", "topup", "--amount", "0", "--operator", "op", "--dir", dir)
	refuse("cold wallet cannot pay", "cold", "topup", "--amount", "0.8", "--operator", "op", "--dir", dir)
	refuse("give --dir or set assets.btc.cold_export_dir", "cold", "topup", "--amount", "0.1", "--operator", "op")
	refuse("--format: QR format \"qr\": use ur or bbqr", "cold", "topup", "--amount", "0.1", "--operator", "op", "--dir", dir, "--format", "qr")
	refuse(`Required flag "operator"`, "cold", "topup", "--amount", "0.1", "--dir", dir)

	out, err = run(t, conf, "cold", "topup", "--amount", "0.3", "--operator", "op", "--dir", dir, "--terminal", "--format", "bbqr")
	if err != nil || !strings.Contains(out, "top-up 1: reserved") || !strings.Contains(out, "0.30000000 BTC") ||
		!strings.Contains(out, "frame 1 of") || !strings.Contains(out, "cryptoassets-signer sign --out signed.psbt "+filepath.Join(dir, "topup-1.psbt")) ||
		!strings.Contains(out, "--qr "+filepath.Join(dir, "topup-1-ur.gif")) {
		t.Fatalf("cold topup: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "topup-1-bbqr.gif")); err != nil {
		t.Fatal(err)
	}
	var files string
	if err := pool.QueryRow(ctx, `SELECT payload->>'files' FROM public.events WHERE type = 'cold.topup_exported'`).Scan(&files); err != nil ||
		!strings.Contains(files, filepath.Join(dir, "topup-1.psbt")) {
		t.Fatalf("the export event names %s: %v", files, err)
	}
	// The animated GIF alone carries the whole PSBT to the signer.
	signerDir := t.TempDir()
	if out, err := signer(t, signerDir, signerMnemonic+"\n", "restore", "--network", "regtest", "--hot-wallet-descriptor", hotW.WPKH.Descriptor()); err != nil {
		t.Fatalf("signer restore: %v\n%s", err, out)
	}
	for _, gif := range []string{"topup-1-ur.gif", "topup-1-bbqr.gif"} {
		signed := filepath.Join(t.TempDir(), "signed.psbt")
		if out, err := signer(t, signerDir, "", "sign", "--yes", "--qr", filepath.Join(dir, gif), "--out", signed); err != nil || !strings.Contains(out, "signed and finalized") {
			t.Fatalf("signer sign --qr %s: %v\n%s", gif, err, out)
		}
	}
	refuse("another top-up is open: top-up 1", "cold", "topup", "--amount", "0.1", "--operator", "op", "--dir", t.TempDir())

	if out, err := run(t, conf, "cold", "list"); err != nil || !strings.Contains(out, "1   reserved  0.30000000") {
		t.Fatalf("cold list: %v\n%s", err, out)
	}
	if out, err := run(t, conf, "cold", "show", "--json", "1"); err != nil || !strings.Contains(out, `"amount_sat": "30000000"`) || !strings.Contains(out, `"psbt_base64": "cHNidP8B`) {
		t.Fatalf("cold show --json: %v\n%s", err, out)
	}
	refuse("no such top-up: 99", "cold", "show", "99")
	refuse(`top-up id "one": want a positive whole number`, "cold", "show", "one")
	refuse("usage:", "cold", "show")
	refuse("--limit 0: use 1 to 1000", "cold", "list", "--limit", "0")
	// Writing the files again (the same bytes where they are, or a new
	// directory) announces nothing again; other bytes are refused.
	again := t.TempDir()
	for _, d := range []string{dir, again} {
		if out, err := run(t, conf, "cold", "export", "--dir", d, "1"); err != nil || !strings.Contains(out, filepath.Join(d, "topup-1.psbt")) {
			t.Fatalf("cold export --dir %s: %v\n%s", d, err, out)
		}
	}
	if err := os.WriteFile(filepath.Join(again, "topup-1.psbt.base64"), []byte("other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	refuse("exists with other content", "cold", "export", "--dir", again, "1")
	var exported int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM public.events WHERE type = 'cold.topup_exported'`).Scan(&exported); err != nil || exported != 1 {
		t.Fatalf("%d cold.topup_exported events after the files were written again: %v", exported, err)
	}
	refuse("no such top-up: 7", "cold", "cancel", "--operator", "op", "7")
	if out, err := run(t, conf, "cold", "cancel", "--operator", "op", "1"); err != nil || !strings.Contains(out, "top-up 1 cancelled by op") {
		t.Fatalf("cold cancel: %v\n%s", err, out)
	}
	refuse("top-up 1 is cancelled; only an export not yet imported can be cancelled", "cold", "cancel", "--operator", "op", "1")
	refuse("top-up 1 is cancelled: only an export waiting for its signature", "cold", "export", "--dir", t.TempDir(), "1")
	if out, err := run(t, conf, "cold", "list"); err != nil || !strings.Contains(out, "cancelled") {
		t.Fatalf("cold list after the cancel: %v\n%s", err, out)
	}
}
