package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/internal/psbttest"
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
