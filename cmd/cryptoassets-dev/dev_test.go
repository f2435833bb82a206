package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/cli"
	"github.com/cryptoassets/cryptoassets/online/config"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// service runs the production command line; dev runs this program's.
func service(t *testing.T, conf string, args ...string) string {
	t.Helper()
	a := cli.App()
	var out bytes.Buffer
	a.Writer, a.ErrWriter = &out, &out
	if err := a.RunContext(context.Background(), append([]string{"cryptoassets", "--config", conf}, args...)); err != nil {
		t.Fatalf("cryptoassets %v: %v\n%s", args, err, out.String())
	}
	return out.String()
}

func dev(t *testing.T, conf string, args ...string) (string, error) {
	t.Helper()
	a := app()
	var out bytes.Buffer
	a.Writer, a.ErrWriter = &out, &out
	err := a.RunContext(context.Background(), append([]string{"cryptoassets-dev", "--config", conf}, args...))
	return out.String(), err
}

// writeDevConfig writes the service's configuration for a fresh database and
// the given node, as `up` does for the dev servers.
func writeDevConfig(t *testing.T, node *devenv.Btcd, confirmations int) string {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "c.toml")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`[database]
url = %q
[assets.btc]
network = "regtest"
rpc_url = %q
rpc_user = %q
rpc_password = %q
confirmations = %d
poll_interval = "100ms"
hot_wallet_descriptor = "wpkh([73c5da0a/84'/1'/0']tpubDC8msFGeGuwnKG9Upg7DM2b4DaRqg3CUZa5g8v2SRQ6K4NSkxUgd7HsL2XVWbVm39yBA4LAxysQAm397zwQSQoQgewGiYZqrA9DsP4zbQ1M/<0;1>/*)"
`, testenv.NewDatabase(t), node.RPCURL(), devenv.RPCUser, devenv.RPCPassword, confirmations)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	return conf
}

// The demo moved out of the production program runs its story here: a
// deposit seen, confirmed and credited, a transfer made once, webhooks.
func TestDevDemoRunsTheStory(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	node := testenv.NewNode(t, devenv.BtcdOptions{})
	conf := writeDevConfig(t, node, 2)
	service(t, conf, "migrate")
	out, err := dev(t, conf, "demo")
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	for _, want := range []string{"credited: alice", "the money moved once", "deposit.credited", "money conserved"} {
		if !strings.Contains(out, want) {
			t.Fatalf("the demo's story lacks %q:\n%s", want, out)
		}
	}
}

// A new user funds a customer account with the two documented commands:
// `cryptoassets-dev pay ADDRESS AMOUNT` and `cryptoassets-dev mine N`, and the
// running service's follower credits the deposit.
func TestDevPayAndMineFundACustomerAccount(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	node := testenv.NewNode(t, devenv.BtcdOptions{})
	conf := writeDevConfig(t, node, 2)
	service(t, conf, "migrate")
	service(t, conf, "account", "create", "alice")
	addr := strings.Fields(service(t, conf, "address", "new", "alice"))[0]

	// Bad input is refused and pays nothing.
	for _, bad := range [][]string{
		{"pay", addr},
		{"pay", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "0.5"},
		{"pay", addr, "0.000000001"},
		{"pay", addr, "0"},
		{"mine", "zero"},
	} {
		if out, err := dev(t, conf, bad...); err == nil {
			t.Fatalf("%v accepted: %s", bad, out)
		}
	}
	var mempool []string
	if err := node.Client.Call(context.Background(), &mempool, "getrawmempool"); err != nil || len(mempool) != 0 {
		t.Fatalf("refused payments reached the mempool: %v %v", mempool, err)
	}

	// The real service, as README has it running, follows the chain.
	t.Setenv("CRYPTOASSETS_HTTP_LISTEN", "127.0.0.1:0")
	a := cli.App()
	logs := &syncBuffer{}
	a.Writer, a.ErrWriter = logs, logs
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.RunContext(ctx, []string{"cryptoassets", "--config", conf, "serve"}) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v\n%s", err, logs.String())
		}
	}()
	waitBalance := func(want string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			bal := service(t, conf, "account", "balance", "alice")
			if strings.Contains(bal, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("alice's balance never showed %q:\n%s\n%s", want, bal, logs.String())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	for !strings.Contains(logs.String(), "chain follower starting") {
		time.Sleep(50 * time.Millisecond)
	}

	if out, err := dev(t, conf, "pay", addr, "0.5"); err != nil || !strings.Contains(out, "paid 0.50000000 BTC to "+addr) {
		t.Fatalf("pay: %v\n%s", err, out)
	}
	waitBalance("pending   0.50000000 BTC")
	if out, err := dev(t, conf, "mine", "2"); err != nil || !strings.Contains(out, "mined 2 block(s)") {
		t.Fatalf("mine: %v\n%s", err, out)
	}
	waitBalance("available 0.50000000 BTC")
	if out := service(t, conf, "ledger", "check"); !strings.Contains(out, "consistent") {
		t.Fatal(out)
	}
}

// `up` writes an env file whose CRYPTOASSETS_CONFIG is absolute, so the
// command line works from any directory once the file is sourced; after the
// postmaster is killed, `up` keeps the port and the env file.
func TestDevUpEnvFileNamesTheConfigByAbsolutePathAndKeepsItsPort(t *testing.T) {
	// Not t.TempDir: its 0700 parent would keep the postgres user out.
	root, err := os.MkdirTemp("", "cryptoassets-dev-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	t.Chdir(root)
	out, err := dev(t, "", "up", "--dir", "rel/.dev")
	t.Cleanup(func() { _, _ = dev(t, "", "down", "--dir", filepath.Join(root, "rel/.dev")) })
	if err != nil {
		t.Fatalf("up: %v\n%s", err, out)
	}
	// Source the env file from another directory, as a user's shell would.
	elsewhere := t.TempDir()
	sh := exec.Command("sh", "-c", ". "+filepath.Join(root, "rel/.dev/env")+` && printf '%s\n' "$CRYPTOASSETS_CONFIG"`)
	sh.Dir = elsewhere
	got, err := sh.Output()
	if err != nil {
		t.Fatal(err)
	}
	path := strings.TrimSpace(string(got))
	if !filepath.IsAbs(path) {
		t.Fatalf("CRYPTOASSETS_CONFIG=%q is relative: the CLI would work only from %s", path, root)
	}
	t.Chdir(elsewhere)
	if _, err := config.LoadFromOS(path); err != nil {
		t.Fatalf("the configuration named by the env file does not load from another directory: %v", err)
	}
	// A crashed cluster: `up` brings it back on its port and writes the same
	// env file, so a running serve (dialling the old URL) reconnects.
	before, err := os.ReadFile(filepath.Join(root, "rel/.dev/env"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testenv.Ctx(t, 2*time.Minute)
	pg, err := devenv.StartPostgres(ctx, filepath.Join(root, "rel/.dev/pg")) // the running one
	if err != nil {
		t.Fatal(err)
	}
	if err := pg.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	if out, err := dev(t, "", "up", "--dir", filepath.Join(root, "rel/.dev")); err != nil {
		t.Fatalf("up after the crash: %v\n%s", err, out)
	}
	after, err := os.ReadFile(filepath.Join(root, "rel/.dev/env"))
	if err != nil {
		t.Fatal(err)
	}
	if string(after) != string(before) {
		t.Fatalf("up after a crash rewrote the env file:\n%s\nwas\n%s", after, before)
	}
	if conn, err := pgx.Connect(ctx, pg.DSN()); err != nil {
		t.Fatalf("the recorded DATABASE_URL does not answer after up: %v", err)
	} else {
		conn.Close(ctx)
	}

	sc := bufio.NewScanner(bytes.NewReader([]byte(out)))
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "config:") && !strings.Contains(sc.Text(), path) {
			t.Fatalf("up prints %q, the env file names %s", sc.Text(), path)
		}
	}
}

func TestDevHelpNeedsNoServers(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"version"}, {"pay", "--help"}, {"mine", "--help"}, {"up", "--help"}, {"demo", "--help"}} {
		a := app()
		var out bytes.Buffer
		a.Writer = &out
		if err := a.Run(append([]string{"cryptoassets-dev"}, args...)); err != nil || out.Len() == 0 {
			t.Fatalf("%v: %v %q", args, err, out.String())
		}
	}
}

// The faucet's key is public: the dev program refuses an asset that is not
// on regtest before it talks to any node.
func TestDevRefusesAnAssetNotOnRegtest(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	conf := filepath.Join(t.TempDir(), "c.toml")
	if err := os.WriteFile(conf, []byte("[database]\nurl = \"postgres://x@127.0.0.1:1/x\"\n[assets.btc]\nnetwork = \"mainnet\"\nrpc_url = \"http://127.0.0.1:1\"\nrpc_user = \"u\"\nrpc_password = \"p\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"pay", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "0.1"}, {"mine", "1"}} {
		if out, err := dev(t, conf, args...); err == nil || !strings.Contains(err.Error(), "regtest only") {
			t.Fatalf("%v: want a refusal naming regtest, got %v\n%s", args, err, out)
		}
	}
}

// `up --ha` starts a primary with a synchronous standby and writes a
// multi-host DATABASE_URL asking for the read-write server, which the
// production CLI migrates through; a second `up --ha` reuses the pair and
// writes the same env file, and `down` stops both servers.
func TestDevUpHAStartsAPrimaryAndASynchronousStandby(t *testing.T) {
	root, err := os.MkdirTemp("", "cryptoassets-dev-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	dir := filepath.Join(root, ".dev")
	out, err := dev(t, "", "up", "--ha", "--dir", dir)
	t.Cleanup(func() { _, _ = dev(t, "", "down", "--dir", dir) })
	if err != nil {
		t.Fatalf("up --ha: %v\n%s", err, out)
	}
	env, err := os.ReadFile(filepath.Join(dir, "env"))
	if err != nil {
		t.Fatal(err)
	}
	var url string
	for _, line := range strings.Split(string(env), "\n") {
		if v, ok := strings.CutPrefix(line, "export DATABASE_URL="); ok {
			url = strings.Trim(v, "'")
		}
	}
	host := url[strings.Index(url, "@")+1 : strings.LastIndex(url, "/")]
	if strings.Count(host, ",") != 1 || !strings.Contains(url, "target_session_attrs=read-write") {
		t.Fatalf("up --ha wrote DATABASE_URL=%q: want two hosts and target_session_attrs=read-write", url)
	}
	service(t, filepath.Join(dir, "cryptoassets.toml"), "migrate")
	ctx := testenv.Ctx(t, time.Minute)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	var state string
	if err := conn.QueryRow(ctx, "SELECT sync_state FROM pg_stat_replication").Scan(&state); err != nil || state != "sync" {
		t.Fatalf("the primary streams to its standby with sync_state %q (%v), want sync", state, err)
	}
	conn.Close(ctx)
	if out, err := dev(t, "", "up", "--ha", "--dir", dir); err != nil {
		t.Fatalf("up --ha again: %v\n%s", err, out)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "env")); string(again) != string(env) {
		t.Fatalf("a second up --ha rewrote the env file:\n%s\nwas\n%s", again, env)
	}
	if out, err := dev(t, "", "down", "--dir", dir); err != nil {
		t.Fatalf("down: %v\n%s", err, out)
	}
	if _, err := pgx.Connect(ctx, url); err == nil {
		t.Fatal("a server of the pair still answers after down")
	}
}
