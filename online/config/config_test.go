package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const good = `
[database]
url = "postgres://app@127.0.0.1:5432/cryptoassets"

[runner]
max_attempts = 20
base_delay = "1ms"

[assets.btc]
network = "mainnet"
rpc_url = "http://127.0.0.1:8332"
rpc_cookie_file = "/var/lib/bitcoind/.cookie"

[assets.tbtc]
network = "regtest"
rpc_url = "http://127.0.0.1:18443"
rpc_user = "u"
rpc_password = "p"
`

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "cryptoassets.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func envOf(kv ...string) (func(string) string, []string) {
	m := map[string]string{}
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		m[k] = v
	}
	return func(k string) string { return m[k] }, kv
}

func TestLoadGood(t *testing.T) {
	getenv, environ := envOf()
	cfg, err := Load(write(t, good), getenv, environ)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Runner.MaxAttempts != 20 || cfg.Runner.BaseDelay.Duration != time.Millisecond || cfg.Runner.MaxDelay.Duration != 250*time.Millisecond {
		t.Fatalf("runner: %+v", cfg.Runner)
	}
	if cfg.Assets["btc"].Confirmations != 6 || cfg.Assets["tbtc"].Confirmations != 1 {
		t.Fatalf("default confirmations: btc %d, tbtc %d", cfg.Assets["btc"].Confirmations, cfg.Assets["tbtc"].Confirmations)
	}
	if a := cfg.Assets["tbtc"]; a.AuditInterval.Duration != 10*time.Minute {
		t.Fatalf("default audit_interval %s", a.AuditInterval.Duration)
	}
	if a := cfg.Assets["tbtc"]; a.BroadcastBrokenAfter.Duration != time.Hour || a.ResolveInterval.Duration != 30*time.Second {
		t.Fatalf("default broadcast_broken_after %s, resolve_interval %s", a.BroadcastBrokenAfter.Duration, a.ResolveInterval.Duration)
	}
	if got := cfg.AssetNames(); strings.Join(got, ",") != "btc,tbtc" {
		t.Fatalf("asset names %v", got)
	}
	if cfg.Assets["tbtc"].Params().Name != "regtest" || cfg.Assets["btc"].Params().Name != "mainnet" {
		t.Fatal("network params")
	}
}

func TestEnvironmentOverrides(t *testing.T) {
	getenv, environ := envOf(
		"DATABASE_URL=postgres://other@db:5432/x",
		"CRYPTOASSETS_ASSET_TBTC_CONFIRMATIONS=3",
		"CRYPTOASSETS_ASSET_TBTC_RPC_PASSWORD=secret",
		"CRYPTOASSETS_ASSET_TBTC_HOT_KEYSTORE=/var/lib/ca/tbtc-hot.keystore",
		"CRYPTOASSETS_ASSET_TBTC_HOT_PASSPHRASE_FILE=/etc/ca/tbtc-hot.pass",
		"CRYPTOASSETS_ASSET_SIG_NETWORK=signet",
		"CRYPTOASSETS_ASSET_SIG_RPC_URL=http://127.0.0.1:38332",
		"CRYPTOASSETS_ASSET_SIG_RPC_USER=a",
		"CRYPTOASSETS_ASSET_SIG_RPC_PASSWORD=b",
		"CRYPTOASSETS_HTTP_LISTEN=127.0.0.1:9999",
		"CRYPTOASSETS_HTTP_METRICS_LISTEN=10.0.0.5:9180",
	)
	cfg, err := Load(write(t, good), getenv, environ)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Database.URL != "postgres://other@db:5432/x" || cfg.HTTP.Listen != "127.0.0.1:9999" || cfg.HTTP.MetricsListen != "10.0.0.5:9180" {
		t.Fatalf("database/http override: %+v %+v", cfg.Database, cfg.HTTP)
	}
	if a := cfg.Assets["tbtc"]; a.Confirmations != 3 || a.RPCPassword != "secret" ||
		a.HotKeystore != "/var/lib/ca/tbtc-hot.keystore" || a.HotPassphraseFile != "/etc/ca/tbtc-hot.pass" {
		t.Fatalf("tbtc override: %+v", a)
	}
	if a := cfg.Assets["sig"]; a == nil || a.Network != "signet" {
		t.Fatalf("asset from environment only: %+v", a)
	}
}

func TestLoadRefusals(t *testing.T) {
	tests := []struct {
		name string
		body string
		env  []string
		want string
	}{
		{"no database", `[assets]`, nil, "database.url: not set"},
		{"unknown key", good + "\n[http]\nlisten_on = \"x\"\n", nil, "unknown key(s) http.listen_on"},
		{"bad network", strings.Replace(good, `"mainnet"`, `"main"`, 1), nil, `assets.btc.network: "main"`},
		{"bad rpc url", strings.Replace(good, `http://127.0.0.1:8332`, `127.0.0.1:8332`, 1), nil, "assets.btc.rpc_url"},
		{"cookie and password", strings.Replace(good, `rpc_cookie_file = "/var/lib/bitcoind/.cookie"`, "rpc_cookie_file = \"x\"\nrpc_user = \"u\"", 1), nil, "not both"},
		{"no credentials", strings.Replace(good, `rpc_password = "p"`, ``, 1), nil, "assets.tbtc.rpc_user: node credentials missing"},
		{"bad schema name", good + "\n[assets.BTC2]\nnetwork = \"regtest\"\n", nil, "lower-case identifier"},
		{"reserved schema name", good + "\n[assets.public]\nnetwork = \"regtest\"\n", nil, "reserved"},
		{"confirmations", good + "\n[assets.x]\nnetwork=\"regtest\"\nrpc_url=\"http://a:1\"\nrpc_user=\"u\"\nrpc_password=\"p\"\nconfirmations = -1\n", nil, "assets.x.confirmations"},
		{"bad duration", strings.Replace(good, `"1ms"`, `"fast"`, 1), nil, "not a duration"},
		{"bad env confirmations", good, []string{"CRYPTOASSETS_ASSET_BTC_CONFIRMATIONS=six"}, "want a whole number"},
		{"bad env key", good, []string{"CRYPTOASSETS_ASSET_BTC_RPCURL=x"}, "KEY one of"},
		{"not toml", "[[[", nil, "config "},
		{"log level", good + "\n[log]\nlevel = \"loud\"\n", nil, "log.level"},
		{"metrics listen not host:port", good + "\n[http]\nmetrics_listen = \"9180\"\n", nil, "http.metrics_listen: \"9180\": want host:port"},
		{"metrics listen is the API's", good + "\n[http]\nlisten = \"127.0.0.1:8080\"\nmetrics_listen = \"127.0.0.1:8080\"\n", nil, "is http.listen too"},
		{"webhook without secret", good + "\n[[webhooks]]\nurl = \"https://shop.example/hook\"\n", nil, "webhooks[0].secret"},
		{"webhook short secret", good + "\n[[webhooks]]\nurl = \"https://shop.example/hook\"\nsecret = \"abc\"\n", nil, "shorter than 16"},
		{"webhook bad url", good + "\n[[webhooks]]\nurl = \"shop\"\nsecret = \"0123456789abcdef\"\n", nil, "webhooks[0].url"},
		{"start height", strings.Replace(good, `rpc_password = "p"`, "rpc_password = \"p\"\nstart_height = -5", 1), nil, "assets.tbtc.start_height"},
		{"poll interval", strings.Replace(good, `rpc_password = "p"`, "rpc_password = \"p\"\npoll_interval = \"1ms\"", 1), nil, "assets.tbtc.poll_interval"},
		{"negative withdrawal fee", strings.Replace(good, `rpc_password = "p"`, "rpc_password = \"p\"\nwithdrawal_fee_sat = -1", 1), nil, "assets.tbtc.withdrawal_fee_sat: -1 is out of range"},
		{"broken after too short", strings.Replace(good, `rpc_password = "p"`, "rpc_password = \"p\"\nbroadcast_broken_after = \"30s\"", 1), nil, "assets.tbtc.broadcast_broken_after: 30s: use 1m to 720h"},
		{"broken after too long", strings.Replace(good, `rpc_password = "p"`, "rpc_password = \"p\"\nbroadcast_broken_after = \"721h\"", 1), nil, "assets.tbtc.broadcast_broken_after: 721h0m0s: use 1m to 720h"},
		{"resolve interval too short", strings.Replace(good, `rpc_password = "p"`, "rpc_password = \"p\"\nresolve_interval = \"500ms\"", 1), nil, "assets.tbtc.resolve_interval: 500ms: use 1s to 1h"},
		{"resolve interval too long", strings.Replace(good, `rpc_password = "p"`, "rpc_password = \"p\"\nresolve_interval = \"2h\"", 1), nil, "assets.tbtc.resolve_interval: 2h0m0s: use 1s to 1h"},
		{"audit interval too short", strings.Replace(good, `rpc_password = "p"`, "rpc_password = \"p\"\naudit_interval = \"30s\"", 1), nil, "assets.tbtc.audit_interval: 30s: use 1m to 24h"},
		{"audit interval too long", strings.Replace(good, `rpc_password = "p"`, "rpc_password = \"p\"\naudit_interval = \"25h\"", 1), nil, "assets.tbtc.audit_interval: 25h0m0s: use 1m to 24h"},
		{"negative withdrawal limit", strings.Replace(good, `rpc_password = "p"`, "rpc_password = \"p\"\nmax_withdrawal_sat = -1", 1), nil, "assets.tbtc.max_withdrawal_sat: -1 is out of range"},
		{"account window too short", strings.Replace(good, `rpc_password = "p"`, "rpc_password = \"p\"\naccount_window = \"30s\"", 1), nil, "assets.tbtc.account_window: 30s: use 1m to 2160h"},
		{"too many approvals", strings.Replace(good, `rpc_password = "p"`, "rpc_password = \"p\"\napprovals = 11", 1), nil, "assets.tbtc.approvals: 11 is out of range"},
		{"hot passphrase without keystore", strings.Replace(good, `rpc_password = "p"`, "rpc_password = \"p\"\nhot_passphrase_file = \"/etc/x\"", 1), nil, "assets.tbtc.hot_passphrase_file: set without hot_keystore"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			getenv, environ := envOf(tc.env...)
			_, err := Load(write(t, tc.body), getenv, environ)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want error containing %q, got %v", tc.want, err)
			}
		})
	}
}

const (
	coldTpub = "wpkh([73c5da0a/84'/1'/0']tpubDC8msFGeGuwnKG9Upg7DM2b4DaRqg3CUZa5g8v2SRQ6K4NSkxUgd7HsL2XVWbVm39yBA4LAxysQAm397zwQSQoQgewGiYZqrA9DsP4zbQ1M/<0;1>/*)"
	coldXpub = "wpkh([73c5da0a/84'/0'/0']xpub6CatWdiZiodmUeTDp8LT5or8nmbKNcuyvz7WyksVFkKB4RHwCD3XyuvPEbvqAQY3rAPshWcMLoP2fMFMKHPJ4ZeZXYVUhLv1VMrjPC7PW6V/0/*)"
	coldXprv = "xprv9ybY78BftS5UGANki6oSifuQEjkpyAC8ZmBvBNTshQnCBcxnefjHS7buPMkkqhcRzmoGZ5bokx7GuyDAiktd5HemohAU4wV1ZPMDRmLpBMm"
)

// withCold adds cold storage keys to the tbtc (regtest) asset of good.
func withCold(keys string) string {
	return strings.Replace(good, `rpc_password = "p"`, "rpc_password = \"p\"\n"+keys, 1)
}

func TestColdStorageKeys(t *testing.T) {
	getenv, environ := envOf()
	cfg, err := Load(write(t, withCold(`hot_wallet_descriptor = "`+strings.Replace(coldTpub, "/0']", "/1']", 1)+`"
cold_wallet_descriptor = "`+coldTpub+`"
hot_floor_sat = 1000000
hot_ceiling_sat = 3000000
cold_export_dir = "/var/lib/cryptoassets/exports"`)), getenv, environ)
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Assets["tbtc"]
	if a.ColdWalletDescriptor != coldTpub || a.HotTargetSat != 2_000_000 || a.ColdGapLimit != 20 ||
		a.TopupExpiry.Duration != 24*time.Hour || a.ColdCheckInterval.Duration != 30*time.Second {
		t.Fatalf("cold defaults: %+v", a)
	}
	if b := cfg.Assets["btc"]; b.ColdWalletDescriptor != "" || b.HotTargetSat != 0 {
		t.Fatalf("an asset without a cold wallet: %+v", b)
	}
	getenv, environ = envOf("CRYPTOASSETS_ASSET_TBTC_COLD_WALLET_DESCRIPTOR="+coldTpub, "CRYPTOASSETS_ASSET_TBTC_HOT_WALLET_DESCRIPTOR="+strings.Replace(coldTpub, "/0']", "/1']", 1))
	if cfg, err = Load(write(t, good), getenv, environ); err != nil || cfg.Assets["tbtc"].ColdWalletDescriptor != coldTpub {
		t.Fatalf("cold descriptor from the environment: %v", err)
	}
}

func TestColdStorageRefusals(t *testing.T) {
	const hotTpub = "wpkh([73c5da0a/84'/1'/1']tpubDC8msFGeGuwnKG9Upg7DM2b4DaRqg3CUZa5g8v2SRQ6K4NSkxUgd7HsL2XVWbVm39yBA4LAxysQAm397zwQSQoQgewGiYZqrA9DsP4zbQ1M/<0;1>/*)"
	hot := `hot_wallet_descriptor = "` + hotTpub + `"` + "\n"
	desc := hot + `cold_wallet_descriptor = "` + coldTpub + `"` + "\n"
	tests := []struct {
		name, keys, want string
	}{
		{"private key", `cold_wallet_descriptor = "` + strings.Replace(coldXprv, "xprv", "tprv", 1) + `"`, "assets.tbtc.cold_wallet_descriptor: is a private key"},
		{"mainnet xprv", `cold_wallet_descriptor = "` + coldXprv + `"`, "is a private key"},
		{"another network", `cold_wallet_descriptor = "` + coldXpub + `"`, "assets.tbtc.cold_wallet_descriptor: is a key of another network than regtest"},
		{"not a key", `cold_wallet_descriptor = "wpkh(nonsense)"`, "assets.tbtc.cold_wallet_descriptor:"},
		{"the hot key", `hot_wallet_descriptor = "` + coldTpub + `"` + "\n" + `cold_wallet_descriptor = "` + coldTpub + `"`, "is hot_wallet_descriptor"},
		{"no hot wallet", `cold_wallet_descriptor = "` + coldTpub + `"`, "set without hot_wallet_descriptor"},
		{"gap limit", desc + `cold_gap_limit = 5000`, "assets.tbtc.cold_gap_limit: 5000 is out of range"},
		{"thresholds without a cold wallet", "hot_ceiling_sat = 1000", "thresholds set without cold_wallet_descriptor"},
		{"floor without ceiling", desc + "hot_floor_sat = 1000\ncold_export_dir = \"/x\"", "assets.tbtc.hot_ceiling_sat: not set"},
		{"target above the ceiling", desc + "hot_floor_sat = 1000\nhot_ceiling_sat = 5000\nhot_target_sat = 6000\ncold_export_dir = \"/x\"", "hot_floor_sat (1000) < hot_target_sat < hot_ceiling_sat (5000)"},
		{"target at the floor", desc + "hot_floor_sat = 1000\nhot_ceiling_sat = 5000\nhot_target_sat = 1000\ncold_export_dir = \"/x\"", "assets.tbtc.hot_target_sat: 1000"},
		{"floor above the ceiling", desc + "hot_floor_sat = 9000\nhot_ceiling_sat = 5000\ncold_export_dir = \"/x\"", "assets.tbtc.hot_target_sat"},
		{"negative floor", desc + "hot_floor_sat = -1", "assets.tbtc.hot_floor_sat: -1 is out of range"},
		{"target without ceiling", desc + "hot_target_sat = 5", "set without hot_ceiling_sat"},
		{"floor without an export directory", desc + "hot_floor_sat = 1000\nhot_ceiling_sat = 5000", "assets.tbtc.cold_export_dir: not set"},
		{"expiry too short", desc + `topup_expiry = "5m"`, "assets.tbtc.topup_expiry: 5m0s: use 10m to 720h"},
		{"check interval too long", desc + `cold_check_interval = "2h"`, "assets.tbtc.cold_check_interval: 2h0m0s: use 1s to 1h"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			getenv, environ := envOf()
			_, err := Load(write(t, withCold(tc.keys)), getenv, environ)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want error containing %q, got %v", tc.want, err)
			}
		})
	}
}

func TestRedactsPassword(t *testing.T) {
	getenv, environ := envOf("DATABASE_URL=mysql://u:hunter2@h/x")
	_, err := Load("", getenv, environ)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("the password must not appear in errors: %v", err)
	}
}
