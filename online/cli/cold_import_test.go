package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/psbttest"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	signercli "github.com/cryptoassets/cryptoassets/offline-signer/cli"
	"github.com/cryptoassets/cryptoassets/offline-signer/policy"
	"github.com/cryptoassets/cryptoassets/offline-signer/sign"
	"github.com/cryptoassets/cryptoassets/online/addresses"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/cold"
	"github.com/cryptoassets/cryptoassets/online/config"
	"github.com/cryptoassets/cryptoassets/online/deposits"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/store"
	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
	"github.com/cryptoassets/cryptoassets/shared/keystore"
	"github.com/cryptoassets/cryptoassets/shared/psbt"
)

var regtestParams = &chaincfg.RegressionNetParams

// signerMnemonic is the seed the signer restores in these tests.
const signerMnemonic = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"

// signer runs cryptoassets-signer's command line in this process, its
// keystore in dir, stdin, and the keystore passphrase on a descriptor.
func signer(t *testing.T, dir, stdin string, args ...string) (string, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	fmt.Fprintln(w, "correct horse battery")
	w.Close()
	app := signercli.App()
	var out bytes.Buffer
	app.Reader, app.Writer, app.ErrWriter = strings.NewReader(stdin), &out, &out
	err = app.Run(append([]string{"cryptoassets-signer", "--dir", dir, "--passphrase-fd", strconv.Itoa(int(r.Fd()))}, args...))
	return out.String(), err
}

// coldCLIEnv is a configuration on a real node and database, the service's
// parts on the same database to export a top-up, and the cold wallet's
// coins already followed.
type coldCLIEnv struct {
	conf     string
	ctx      context.Context
	node     *devenv.Btcd
	chain    *chain.RPCNode
	runner   *store.Runner
	follower *deposits.Follower
	topups   *cold.TopUps
	hot      *psbttest.Wallet
	coldAcct *hdkeys.AccountKey
}

func newColdCLIEnv(t *testing.T) *coldCLIEnv {
	t.Helper()
	t.Setenv("DATABASE_URL", "")
	e := &coldCLIEnv{ctx: testenv.Ctx(t, 5*time.Minute)}
	e.node = testenv.NewNode(t, devenv.BtcdOptions{})
	e.chain = chain.NewRPCNode(e.node.Client)
	master := func(seed []byte) (*hdkeys.Master, error) { return hdkeys.NewMaster(seed, regtestParams) }
	e.hot = psbttest.NewWallet(t, psbttest.Seed(9), master)
	seed, err := keystore.SeedFromMnemonic(signerMnemonic, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.coldAcct = psbttest.NewWallet(t, seed, master).WPKH
	url := testenv.NewDatabase(t)
	e.conf = filepath.Join(t.TempDir(), "c.toml")
	err = os.WriteFile(e.conf, []byte(fmt.Sprintf("[database]\nurl = %q\n[assets.btc]\nnetwork = \"regtest\"\nrpc_url = %q\nrpc_user = %q\nrpc_password = %q\nhot_wallet_descriptor = %q\n",
		url, e.node.RPCURL(), devenv.RPCUser, devenv.RPCPassword, e.hot.WPKH.Descriptor())), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, e.conf, "migrate"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	cfg, err := config.LoadFromOS(e.conf)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := store.Open(e.ctx, cfg.Database.URL, 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	e.runner = store.NewRunner(pool, cfg.RunnerConfig(), nil)
	l, err := ledger.New(e.runner, "btc")
	if err != nil {
		t.Fatal(err)
	}
	hotKey, err := addresses.ParseKey(e.hot.WPKH.Descriptor(), regtestParams)
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := addresses.NewIssuer(e.ctx, l, hotKey)
	if err != nil {
		t.Fatal(err)
	}
	coldKey, err := addresses.ParseKey(e.coldAcct.Descriptor(), regtestParams)
	if err != nil {
		t.Fatal(err)
	}
	watched, err := addresses.NewCold(e.ctx, l, coldKey, addresses.DefaultColdGap)
	if err != nil {
		t.Fatal(err)
	}
	tip, _, err := e.chain.Tip(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.follower = deposits.NewFollower(l, e.chain, deposits.Config{Confirmations: 1, StartHeight: tip}, nil)
	if e.topups, err = cold.NewTopUps(l, e.chain, issuer, watched, cold.Config{}, nil); err != nil {
		t.Fatal(err)
	}
	next, err := watched.Peek(e.ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := devenv.NewFaucet(e.chain).Pay(e.ctx, devenv.Payment{Address: next.Address, Amount: 50_000_000}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.node.Generate(e.ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := e.follower.SyncToTip(e.ctx); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *coldCLIEnv) count(t *testing.T, q string) int {
	t.Helper()
	var n int
	if err := e.runner.Pool().QueryRow(e.ctx, q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func pngFrames(t *testing.T, dir string) []string {
	t.Helper()
	fs, err := filepath.Glob(filepath.Join(dir, "*.png"))
	if err != nil || len(fs) == 0 {
		t.Fatalf("no PNG frames in %s: %v", dir, err)
	}
	sort.Strings(fs)
	return fs
}

// The ceremony's way back: the exported top-up's QR frames are read by
// cryptoassets-signer (its keystore restored from the mnemonic in its own
// directory), which writes the signed PSBT as QR PNG frames; `cold import
// --qr` reads those frames, checks and broadcasts the top-up. Importing
// the same frames again is refused and changes nothing.
func TestColdImportFromTheSignersQRFrames(t *testing.T) {
	e := newColdCLIEnv(t)
	x, err := e.topups.Export(e.ctx, 20_000_000, "test")
	if err != nil {
		t.Fatal(err)
	}
	exportDir := t.TempDir()
	if _, err := cold.WriteFiles(exportDir, x); err != nil {
		t.Fatal(err)
	}

	signerDir := t.TempDir()
	if out, err := signer(t, signerDir, signerMnemonic+"\n", "restore", "--network", "regtest", "--hot-wallet-descriptor", e.hot.WPKH.Descriptor()); err != nil {
		t.Fatalf("signer restore: %v\n%s", err, out)
	}
	signedDir := filepath.Join(t.TempDir(), "signed")
	args := append([]string{"sign", "--yes", "--qr-dir", signedDir}, qrArgs(pngFrames(t, filepath.Join(exportDir, fmt.Sprintf("topup-%d-ur", x.ID))))...)
	if out, err := signer(t, signerDir, "", args...); err != nil || !strings.Contains(out, "signed and finalized") {
		t.Fatalf("signer sign: %v\n%s", err, out)
	}

	out, err := run(t, e.conf, append([]string{"cold", "import"}, qrArgs(pngFrames(t, signedDir))...)...)
	if err != nil {
		t.Fatalf("cold import --qr: %v\n%s", err, out)
	}
	for _, want := range []string{fmt.Sprintf("top-up %d imported: %s", x.ID, x.TxID), fmt.Sprintf("broadcast %s: accepted", x.TxID)} {
		if !strings.Contains(out, want) {
			t.Fatalf("cold import says nothing of %q:\n%s", want, out)
		}
	}
	if _, err := e.chain.Transaction(e.ctx, x.TxID); err != nil {
		t.Fatalf("the imported top-up is not on the node: %v", err)
	}
	if n := e.count(t, `SELECT count(*) FROM btc.broadcasts WHERE kind = 'cold_topup'`); n != 1 {
		t.Fatalf("%d cold_topup broadcast records, want 1", n)
	}
	if n := e.count(t, fmt.Sprintf(`SELECT count(*) FROM btc.batches WHERE id = %d AND state IN ('broadcasting', 'broadcast')`, x.ID)); n != 1 {
		t.Fatal("the imported top-up is neither broadcasting nor broadcast")
	}

	events := e.count(t, `SELECT count(*) FROM public.events`)
	out, err = run(t, e.conf, append([]string{"cold", "import"}, qrArgs(pngFrames(t, signedDir))...)...)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("top-up %d was already imported", x.ID)) {
		t.Fatalf("a second import: %v\n%s", err, out)
	}
	if n := e.count(t, `SELECT count(*) FROM btc.broadcasts`); n != 1 {
		t.Fatalf("the refused import left %d broadcast records", n)
	}
	if n := e.count(t, `SELECT count(*) FROM public.events`); n != events {
		t.Fatalf("the refused import emitted %d events", n-events)
	}
}

func qrArgs(files []string) []string {
	var a []string
	for _, f := range files {
		a = append(a, "--qr", f)
	}
	return a
}

// A correctly signed top-up that the service never exported is refused by
// `cold import` with a clear error, and nothing is recorded; a file that is
// no PSBT at all too.
func TestColdImportRefusesWhatWasNotExported(t *testing.T) {
	e := newColdCLIEnv(t)
	master := func(seed []byte) (*hdkeys.Master, error) { return hdkeys.NewMaster(seed, regtestParams) }
	seed, _ := keystore.SeedFromMnemonic(signerMnemonic, nil)
	coldW := psbttest.NewWallet(t, seed, master)
	in := psbttest.Derive(t, coldW.WPKH, 0, 5)
	fund := psbttest.FakeFunding(map[*hdkeys.Derived]int64{in: 3_000_000}, []*hdkeys.Derived{in})
	p := psbttest.TopUp(t, fund, map[int]*hdkeys.Derived{0: in}, psbttest.Derive(t, e.hot.WPKH, 1, 0), psbttest.Derive(t, coldW.WPKH, 1, 0), 2_000_000, 2_000)
	pol := &policy.Policy{Network: "regtest", HotWalletDescriptor: e.hot.WPKH.Descriptor(), HotWalletLookahead: 50, ChangeLookahead: 50}
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
	dir := t.TempDir()
	foreign := filepath.Join(dir, "signed.psbt")
	if err := os.WriteFile(foreign, []byte(b64), 0o600); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.psbt")
	if err := os.WriteFile(garbage, []byte("\x00\x01not a psbt"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{foreign}, "not a top-up this service exported: no exported top-up spends any of its inputs"},
		{[]string{garbage}, "NUL byte at offset 0"},
		{[]string{e.conf}, "not a PSBT"},
		{nil, "name the signed PSBT file"},
		{[]string{"--qr", garbage, foreign}, "not both"},
	} {
		out, err := run(t, e.conf, append([]string{"cold", "import"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("cold import %v: want %q, got %v\n%s", tc.args, tc.want, err, out)
		}
	}
	if n := e.count(t, `SELECT count(*) FROM btc.broadcasts`); n != 0 {
		t.Fatalf("broadcast records after the refusals: %d", n)
	}
}
