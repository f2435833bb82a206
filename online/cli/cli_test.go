package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cryptoassets/cryptoassets/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// run runs the command line with a config naming a fresh database.
func run(t *testing.T, conf string, args ...string) (string, error) {
	t.Helper()
	app := testApp()
	var out, errOut bytes.Buffer
	app.Writer, app.ErrWriter = &out, &errOut
	err := app.RunContext(context.Background(), append([]string{"cryptoassets", "--config", conf}, args...))
	return out.String() + errOut.String(), err
}

func writeConfig(t *testing.T, assets ...string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "[database]\nurl = %q\n", testenv.NewDatabase(t))
	for _, a := range assets {
		fmt.Fprintf(&b, "[assets.%s]\nnetwork = \"regtest\"\nrpc_url = \"http://127.0.0.1:1\"\nrpc_user = \"u\"\nrpc_password = \"p\"\n", a)
	}
	p := filepath.Join(t.TempDir(), "c.toml")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCommandsEndToEnd(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	conf := writeConfig(t, "btc")
	steps := []struct {
		args    []string
		want    string
		wantErr string
	}{
		{[]string{"migrate", "status"}, "pending", ""},
		{[]string{"migrate"}, "applied btc", ""},
		{[]string{"migrate"}, "up to date", ""},
		{[]string{"migrate", "status"}, "0002_ledger", ""},
		{[]string{"account", "create", "alice"}, "created account alice", ""},
		{[]string{"account", "create", "bob"}, "created account bob", ""},
		{[]string{"account", "create", "alice"}, "", "already exists"},
		{[]string{"transfer", "alice", "bob", "0.1"}, "", "insufficient funds"},
		{[]string{"transfer", "alice", "bob", "0.000000001"}, "", "8 decimal"},
		{[]string{"transfer", "alice", "bob"}, "", "usage:"},
		{[]string{"account", "balance", "alice"}, "available 0.00000000 BTC", ""},
		{[]string{"account", "balance", "nobody"}, "", "unknown account"},
		{[]string{"account", "list"}, "internal:hot_wallet", ""},
		{[]string{"account", "history", "alice"}, "ENTRY", ""},
		{[]string{"ledger", "check"}, "consistent", ""},
		{[]string{"token", "create", "shop"}, "cat_", ""},
		{[]string{"token", "list"}, "shop", ""},
		{[]string{"token", "revoke", "1"}, "revoked", ""},
		{[]string{"token", "revoke", "1"}, "", "no active token"},
		{[]string{"account", "list", "--asset", "ltc"}, "", "not configured"},
		{[]string{"broadcasts", "list"}, "OUTCOME", ""},
		{[]string{"broadcasts", "resolve"}, "no open broadcasts", ""},
		{[]string{"cold", "import", conf}, "", "not a PSBT"},
		{[]string{"cold", "import"}, "", "name the signed PSBT"},
	}
	for _, s := range steps {
		out, err := run(t, conf, s.args...)
		if s.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), s.wantErr) {
				t.Fatalf("%v: want error %q, got %v\n%s", s.args, s.wantErr, err, out)
			}
			continue
		}
		if err != nil || !strings.Contains(out, s.want) {
			t.Fatalf("%v: want output containing %q, got %v\n%s", s.args, s.want, err, out)
		}
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	p := filepath.Join(t.TempDir(), "c.toml")
	if err := os.WriteFile(p, []byte("[database]\nurl = \"postgres://x@127.0.0.1:1/x\"\n[assets.btc]\nnetwork = \"mainnett\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := run(t, p, "migrate")
	if err == nil || !strings.Contains(err.Error(), "assets.btc.network") || !strings.Contains(err.Error(), "assets.btc.rpc_url") {
		t.Fatalf("want errors naming the keys, got %v", err)
	}
}

func TestHelpNeedsNoDatabase(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"version"}, {"migrate", "--help"}, {"transfer", "--help"}} {
		app := App()
		var out bytes.Buffer
		app.Writer = &out
		if err := app.Run(append([]string{"cryptoassets"}, args...)); err != nil || out.Len() == 0 {
			t.Fatalf("%v: %v %q", args, err, out.String())
		}
	}
}

// serve stops cleanly when its context ends (SIGTERM in the binary).
func TestServeStopsGracefully(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	conf := writeConfig(t, "btc")
	if _, err := run(t, conf, "migrate"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CRYPTOASSETS_HTTP_LISTEN", "127.0.0.1:0")
	app := App()
	out := &syncBuffer{}
	app.Writer, app.ErrWriter = out, out
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.RunContext(ctx, []string{"cryptoassets", "--config", conf, "serve"}) }()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "API listening") {
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v\n%s", err, out.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(out.String(), "stopped") {
		t.Fatalf("no clean stop logged:\n%s", out.String())
	}
}

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
