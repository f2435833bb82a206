package service

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg"

	"github.com/cryptoassets/cryptoassets/internal/storetest"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/config"
	"github.com/cryptoassets/cryptoassets/online/status"
	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func account(t *testing.T, fill byte) string {
	t.Helper()
	m, err := hdkeys.NewMaster(bytes.Repeat([]byte{fill}, 64), &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	a, err := m.Account(hdkeys.P2WPKH, 0)
	if err != nil {
		t.Fatal(err)
	}
	return a.Descriptor()
}

// serve's workers include a cold keeper for an asset with a cold wallet,
// with the asset's policy, and none for one without; building it
// registers the cold key and stores its address window.
func TestWorkersRunTheColdKeeperOfAnAssetWithAColdWallet(t *testing.T) {
	hot, cold := account(t, 1), account(t, 2)
	body := fmt.Sprintf(`[database]
url = "postgres://app@127.0.0.1:5432/unused"
[assets.btc]
network = "regtest"
rpc_url = "http://127.0.0.1:1"
rpc_user = "u"
rpc_password = "p"
hot_wallet_descriptor = %q
cold_wallet_descriptor = %q
cold_gap_limit = 7
hot_floor_sat = 1000000
hot_ceiling_sat = 5000000
topup_expiry = "2h"
cold_export_dir = "/var/lib/cryptoassets/exports"
[assets.ltc]
network = "regtest"
rpc_url = "http://127.0.0.1:1"
rpc_user = "u"
rpc_password = "p"
hot_wallet_descriptor = %q
`, hot, cold, hot)
	path := filepath.Join(t.TempDir(), "c.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, func(string) string { return "" }, nil)
	if err != nil {
		t.Fatal(err)
	}
	runner := storetest.Runner(t, 4, "btc", "ltc")
	w, err := NewWorkers(testenv.Ctx(t, time.Minute), cfg, runner, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if w.Keepers["btc"] == nil || w.Keepers["ltc"] != nil || len(w.Batchers) != 0 {
		t.Fatalf("keepers %v, batchers %v", w.Keepers, w.Batchers)
	}
	// What status and /metrics say each election's leader runs is what
	// was built.
	var built []status.ElectionSpec
	for _, g := range w.groups {
		sp := status.ElectionSpec{Name: g.el.Worker(), Asset: g.el.Asset()}
		for _, gw := range g.workers {
			sp.Workers = append(sp.Workers, gw.name)
		}
		built = append(built, sp)
	}
	if said := Elections(cfg); !reflect.DeepEqual(said, built) {
		t.Fatalf("status names the elections %+v, serve built %+v", said, built)
	}
	var stored string
	var n int
	if err := runner.Pool().QueryRow(context.Background(), `SELECT descriptor, (SELECT count(*) FROM btc.addresses WHERE wallet_id = 2) FROM btc.wallets WHERE id = 2`).Scan(&stored, &n); err != nil {
		t.Fatal(err)
	}
	if stored != cold || n != 14 {
		t.Fatalf("cold wallet %q with %d addresses", stored, n)
	}
	c := ColdConfig(cfg.Assets["btc"])
	if c.Floor != 1_000_000 || c.Ceiling != 5_000_000 || c.Target != 3_000_000 || c.Expiry != 2*time.Hour ||
		c.ExportDir != "/var/lib/cryptoassets/exports" || c.Interval != 30*time.Second || c.MaxFee != 1_000_000 || c.FallbackFeeRate != 10_000 {
		t.Fatalf("cold config %+v", c)
	}
}
