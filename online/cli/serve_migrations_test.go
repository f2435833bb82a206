package cli

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// serve refuses to start on a database its release has not migrated, and
// on one whose configured assets are uneven, naming the command that fixes it.
func TestServeRefusesUnmigratedDatabase(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	t.Setenv("CRYPTOASSETS_HTTP_LISTEN", "127.0.0.1:0")
	serve := func(conf string) (string, error) {
		app := App()
		out := &syncBuffer{}
		app.Writer, app.ErrWriter = out, out
		// A serve that starts anyway runs until this deadline.
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		err := app.RunContext(ctx, []string{"cryptoassets", "--config", conf, "serve"})
		return out.String(), err
	}

	conf := writeConfig(t, "btc")
	out, err := serve(conf)
	if err == nil || !strings.Contains(err.Error(), "not migrated") || !strings.Contains(err.Error(), "run `cryptoassets migrate`") {
		t.Fatalf("serve on an empty database: %v\n%s", err, out)
	}
	if strings.Contains(out, "API listening") {
		t.Fatalf("serve listened on an unmigrated database:\n%s", out)
	}

	// btc migrated, then tbtc added to the configuration: uneven.
	if _, err := run(t, conf, "migrate"); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	tbtc := strings.ReplaceAll(string(data[strings.Index(string(data), "[assets.btc]"):]), "assets.btc", "assets.tbtc")
	if err := os.WriteFile(conf, append(data, []byte(tbtc)...), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = serve(conf)
	if err == nil || !strings.Contains(err.Error(), `asset schema "tbtc" has`) || !strings.Contains(err.Error(), "run `cryptoassets migrate`") {
		t.Fatalf("serve with tbtc unmigrated: %v\n%s", err, out)
	}
	if strings.Contains(out, "API listening") {
		t.Fatalf("serve listened with an asset unmigrated:\n%s", out)
	}
}

// The test cluster runs with fsync=off: serve refuses a mainnet asset there,
// naming the setting, before it listens.
func TestServeRefusesMainnetOnUndurableServer(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	t.Setenv("CRYPTOASSETS_HTTP_LISTEN", "127.0.0.1:0")
	conf := writeConfig(t, "btc")
	data, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte(strings.Replace(string(data), `network = "regtest"`, `network = "mainnet"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, conf, "migrate"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	app := App()
	out := &syncBuffer{}
	app.Writer, app.ErrWriter = out, out
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err = app.RunContext(ctx, []string{"cryptoassets", "--config", conf, "serve"})
	if err == nil || !strings.Contains(err.Error(), "fsync=off") || !strings.Contains(err.Error(), "btc is on mainnet") {
		t.Fatalf("serve of a mainnet asset on fsync=off: %v\n%s", err, out.String())
	}
	if strings.Contains(out.String(), "API listening") {
		t.Fatalf("serve listened:\n%s", out.String())
	}
}
