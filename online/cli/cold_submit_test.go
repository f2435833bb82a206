package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/psbttest"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/offline-signer/policy"
	"github.com/cryptoassets/cryptoassets/offline-signer/sign"
	"github.com/cryptoassets/cryptoassets/online/config"
	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
	"github.com/cryptoassets/cryptoassets/shared/psbt"
)

// A correctly signed top-up that the service never exported is refused by
// `cold submit` with a clear error, and nothing is recorded (the node is
// never asked: this configuration's node does not even answer).
func TestColdSubmitRefusesAForeignSignedTopUp(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	conf := writeConfig(t, "btc")
	if out, err := run(t, conf, "migrate"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	master := func(seed []byte) (*hdkeys.Master, error) {
		return hdkeys.NewMaster(seed, &chaincfg.RegressionNetParams)
	}
	coldW, hotW := psbttest.NewWallet(t, psbttest.Seed(5), master), psbttest.NewWallet(t, psbttest.Seed(6), master)
	in := psbttest.Derive(t, coldW.WPKH, 0, 0)
	fund := psbttest.FakeFunding(map[*hdkeys.Derived]int64{in: 3_000_000}, []*hdkeys.Derived{in})
	p := psbttest.TopUp(t, fund, map[int]*hdkeys.Derived{0: in}, psbttest.Derive(t, hotW.WPKH, 0, 0), psbttest.Derive(t, coldW.WPKH, 1, 0), 2_000_000, 2_000)
	pol := &policy.Policy{Network: "regtest", HotWalletDescriptor: hotW.WPKH.Descriptor(), HotWalletLookahead: 50, ChangeLookahead: 50}
	if err := pol.Init(); err != nil {
		t.Fatal(err)
	}
	s := &sign.Signer{Master: coldW.Master, Policy: pol}
	r, err := s.Review(p)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Sign(p, r); err != nil || !ok {
		t.Fatalf("sign: %v %v", ok, err)
	}
	b64, err := psbt.EncodeBase64(p)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "signed.psbt")
	if err := os.WriteFile(file, []byte(b64), 0o600); err != nil {
		t.Fatal(err)
	}

	out, err := run(t, conf, "cold", "submit", file)
	if err == nil || !strings.Contains(err.Error(), "not a top-up this service exported") {
		t.Fatalf("cold submit of a foreign top-up: %v\n%s", err, out)
	}
	cfg, err := config.LoadFromOS(conf)
	if err != nil {
		t.Fatal(err)
	}
	db, err := pgx.Connect(context.Background(), cfg.Database.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	var n int
	if err := db.QueryRow(context.Background(), `SELECT count(*) FROM btc.broadcasts`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("broadcast records after the refusal: %d %v", n, err)
	}
}

// The other side of the check: the top-up the demo exports, signed on the
// signer path, is accepted by `cold submit` and sent to the real node.
func TestColdSubmitAcceptsTheExportedTopUp(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	node := testenv.NewNode(t, devenv.BtcdOptions{})
	master := func(seed []byte) (*hdkeys.Master, error) {
		return hdkeys.NewMaster(seed, &chaincfg.RegressionNetParams)
	}
	coldW, hotW := psbttest.NewWallet(t, psbttest.Seed(8), master), psbttest.NewWallet(t, psbttest.Seed(9), master)
	conf := filepath.Join(t.TempDir(), "c.toml")
	err := os.WriteFile(conf, []byte(fmt.Sprintf("[database]\nurl = %q\n[assets.btc]\nnetwork = \"regtest\"\nrpc_url = %q\nrpc_user = %q\nrpc_password = %q\nhot_wallet_descriptor = %q\n",
		testenv.NewDatabase(t), node.RPCURL(), devenv.RPCUser, devenv.RPCPassword, hotW.WPKH.Descriptor())), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, conf, "migrate"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	unsigned := filepath.Join(t.TempDir(), "topup.psbt")
	if out, err := run(t, conf, "demo", "topup", "--cold-descriptor", coldW.WPKH.Descriptor(), "--out", unsigned); err != nil {
		t.Fatalf("demo topup: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(unsigned)
	if err != nil {
		t.Fatal(err)
	}
	p, err := psbt.Decode(raw, psbt.DefaultMaxSize)
	if err != nil {
		t.Fatal(err)
	}
	pol := &policy.Policy{Network: "regtest", HotWalletDescriptor: hotW.WPKH.Descriptor(), HotWalletLookahead: 50, ChangeLookahead: 50}
	if err := pol.Init(); err != nil {
		t.Fatal(err)
	}
	s := &sign.Signer{Master: coldW.Master, Policy: pol}
	r, err := s.Review(p)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Sign(p, r); err != nil || !ok {
		t.Fatalf("sign: %v %v", ok, err)
	}
	b64, err := psbt.EncodeBase64(p)
	if err != nil {
		t.Fatal(err)
	}
	signed := filepath.Join(t.TempDir(), "signed.psbt")
	if err := os.WriteFile(signed, []byte(b64), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, conf, "cold", "submit", signed)
	if err != nil || !strings.Contains(out, ": accepted") {
		t.Fatalf("cold submit of the exported top-up: %v\n%s", err, out)
	}
}
