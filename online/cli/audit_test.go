package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/config"
	"github.com/cryptoassets/cryptoassets/online/service"
	"github.com/cryptoassets/cryptoassets/online/store"
	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
)

// cryptoassets audit against a real node: it passes and prints the reserve
// ratio (as a table and as JSON), exits 1 naming the coin when a coin row
// is deleted, exits 1 as not settled while the follower is a block behind,
// and refuses a bad --from-height.
func TestAuditCommand(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	node := testenv.NewNode(t, devenv.BtcdOptions{})
	dsn := testenv.NewDatabase(t)
	m, err := hdkeys.NewMaster(bytes.Repeat([]byte{7}, 64), &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := m.Account(hdkeys.P2WPKH, 0)
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(t.TempDir(), "c.toml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("[database]\nurl = %q\n[assets.btc]\nnetwork = \"regtest\"\nrpc_url = %q\nrpc_user = %q\nrpc_password = %q\nhot_wallet_descriptor = %q\n",
		dsn, node.RPCURL(), devenv.RPCUser, devenv.RPCPassword, acct.Descriptor())), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"migrate"}, {"account", "create", "alice"}} {
		if out, err := run(t, conf, args...); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	cfg, err := config.LoadFromOS(conf)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := store.Open(ctx, dsn, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	follower, err := service.Follower(cfg, store.NewRunner(pool, store.RunnerConfig{}, nil), "btc", nil)
	if err != nil {
		t.Fatal(err)
	}
	sync := func() {
		t.Helper()
		if err := follower.SyncToTip(ctx); err != nil {
			t.Fatal(err)
		}
	}
	sync()
	out, err := run(t, conf, "address", "new", "alice")
	if err != nil {
		t.Fatal(err, out)
	}
	addr := strings.Fields(out)[0]
	if _, err := devenv.NewFaucet(chain.NewRPCNode(node.Client)).Pay(ctx, devenv.Payment{Address: addr, Amount: 2_000_000}); err != nil {
		t.Fatal(err)
	}
	if _, err := node.Generate(ctx, 1); err != nil {
		t.Fatal(err)
	}
	sync()

	out, err = run(t, conf, "audit")
	if err != nil || !strings.Contains(out, "no mismatches") || !strings.Contains(out, "reserve ratio (held / owed): 1.0000") ||
		!strings.Contains(out, "reserves: hot 0.02000000 BTC, cold 0.00000000 BTC (cold share 0.0000), ratio 1.0000") {
		t.Fatalf("audit: %v\n%s", err, out)
	}
	out, err = run(t, conf, "audit", "--json")
	if err != nil {
		t.Fatal(err, out)
	}
	var j struct {
		OK       bool              `json:"ok"`
		Settled  bool              `json:"settled"`
		Reserves map[string]string `json:"reserves"`
	}
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !j.OK || !j.Settled || j.Reserves["ratio"] != "1.0000" || j.Reserves["liabilities_sat"] != "2000000" || j.Reserves["hot_coins_sat"] != "2000000" ||
		j.Reserves["cold_coins_sat"] != "0" || j.Reserves["cold_share"] != "0.0000" || j.Reserves["cold_ledger_sat"] != "0" || j.Reserves["hot_ledger_sat"] != "-2000000" {
		t.Fatalf("audit --json: %s", out)
	}

	if out, err := run(t, conf, "audit", "--from-height", "-5"); err == nil || !strings.Contains(err.Error(), "--from-height -5") {
		t.Fatalf("a negative --from-height: %v %s", err, out)
	}

	// The coin row deleted behind the follower's back: named, exit 1.
	var txid []byte
	var vout int32
	if err := pool.QueryRow(ctx, `WITH d AS (DELETE FROM btc.coins RETURNING txid, vout) SELECT txid, vout FROM d`).Scan(&txid, &vout); err != nil {
		t.Fatal(err)
	}
	coin := wire.OutPoint{Hash: chainhash.Hash(txid), Index: uint32(vout)}
	out, err = run(t, conf, "audit")
	if !errors.Is(err, errAuditFailed) || !strings.Contains(out, "3 MISMATCHES") || !strings.Contains(out, "output_not_in_coins "+coin.String()) ||
		!strings.Contains(out, "deposit_without_coin "+coin.String()) || !strings.Contains(out, "hot_wallet_coins hot_wallet total") {
		t.Fatalf("audit with the coin row %s deleted: %v\n%s", coin, err, out)
	}

	// A block the follower has not read: not settled, exit 1.
	if _, err := node.Generate(ctx, 1); err != nil {
		t.Fatal(err)
	}
	out, err = run(t, conf, "audit")
	if !errors.Is(err, errAuditFailed) || !strings.Contains(out, "NOT SETTLED") {
		t.Fatalf("audit with the follower behind: %v\n%s", err, out)
	}
}
