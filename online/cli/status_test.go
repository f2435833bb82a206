package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/electiontest"
	"github.com/cryptoassets/cryptoassets/internal/jsontest"
	"github.com/cryptoassets/cryptoassets/internal/storetest"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/status"
)

// `status` on a migrated database with a real node for btc and a dead one
// for tbtc: --json carries every field of the report, the screen names
// each figure and the node that does not answer, and an unknown --asset is
// refused with the configured ones.
func TestStatusCommand(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	dsn := testenv.NewDatabase(t)
	btcd := testenv.NewNode(t, devenv.BtcdOptions{NoMine: true})
	conf := fmt.Sprintf("[database]\nurl = %q\n"+
		"[assets.btc]\nnetwork = \"regtest\"\nrpc_url = %q\nrpc_user = %q\nrpc_password = %q\n"+
		"[assets.tbtc]\nnetwork = \"regtest\"\nrpc_url = \"http://127.0.0.1:1\"\nrpc_user = \"u\"\nrpc_password = \"p\"\n"+
		"[[webhooks]]\nurl = \"https://shop.example/hook?key=secret\"\nsecret = \"0123456789abcdef\"\n",
		dsn, btcd.RPCURL(), devenv.RPCUser, devenv.RPCPassword)
	p := filepath.Join(t.TempDir(), "c.toml")
	if err := os.WriteFile(p, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, p, "migrate"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	// Two other instances hold btc's follower and payments elections.
	runner := storetest.RunnerOn(t, dsn, 4, "btc", "tbtc")
	alpha, stopAlpha := electiontest.Campaign(t, runner, "follower", "btc", "alpha")
	beta, stopBeta := electiontest.Campaign(t, runner, "payments", "btc", "beta")
	testenv.WaitFor(t, "alpha and beta leading", func() bool { return alpha.Epoch() != 0 && beta.Epoch() != 0 })

	out, err := run(t, p, "status", "--json")
	if err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("status --json is not one JSON object: %v\n%s", err, out)
	}
	if missing := jsontest.MissingFields(reflect.TypeOf(status.Report{}), m, ""); len(missing) > 0 {
		t.Fatalf("status --json lacks %v:\n%s", missing, out)
	}
	var rep status.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Assets) != 2 || !rep.Assets[0].Node.Reachable || rep.Assets[1].Node.Reachable || rep.Assets[1].Node.Error == "" {
		t.Fatalf("assets %+v", rep.Assets)
	}
	if len(rep.Webhooks) != 1 || strings.Contains(out, "secret") {
		t.Fatalf("webhooks %+v (the key in its URL must not show)", rep.Webhooks)
	}
	holders := map[string]string{}
	for _, e := range append(rep.Assets[0].Elections, rep.Elections...) {
		holders[e.Key()] = e.State + " " + e.Holder
	}
	for key, want := range map[string]string{"follower/btc": "held alpha", "payments/btc": "held beta", "audit/btc": "never_elected ", "deliverer": "never_elected "} {
		if holders[key] != want {
			t.Fatalf("election %s: %q, want %q (all: %v)", key, holders[key], want, holders)
		}
	}

	out, err = run(t, p, "status")
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	for _, want := range []string{"btc (regtest)", "tbtc (regtest)", "node tip", "UNREACHABLE", "follower", "not started", "deposits", "credited 0",
		"withdrawals", "awaiting_approval 0", "broadcasts", "0 open, 0 broken", "hot wallet", "cold wallet", "circuit breaker", "closed",
		"audit", "webhook https://shop.example/hook", "backlog 0",
		"workers follower", "held by alpha, epoch 1, lease expires in", "[follower]",
		"workers payments", "held by beta, epoch 1", "[resolver]",
		"workers audit", "NEVER ELECTED", "workers deliverer", "runs no worker"} {
		if !strings.Contains(out, want) {
			t.Fatalf("status lacks %q:\n%s", want, out)
		}
	}
	t.Logf("status:\n%s", out)

	// Both stop: no instance runs btc's follower or payments any more.
	stopAlpha()
	stopBeta()
	out, err = run(t, p, "status", "--asset", "btc")
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	for _, want := range []string{"NO LEADER: last held by alpha, epoch 1", "NO LEADER: last held by beta, epoch 1"} {
		if !strings.Contains(out, want) {
			t.Fatalf("status after the holders stopped lacks %q:\n%s", want, out)
		}
	}
	t.Logf("status after the holders stopped:\n%s", out)

	one, err := run(t, p, "status", "--asset", "btc", "--json")
	if err != nil || !strings.Contains(one, `"asset": "btc"`) || strings.Contains(one, `"asset": "tbtc"`) {
		t.Fatalf("status --asset btc: %v\n%s", err, one)
	}
	for _, args := range [][]string{{"status", "--asset", "ltc"}, {"status", "--asset", "ltc", "--json"}} {
		out, err := run(t, p, args...)
		if err == nil || !strings.Contains(err.Error(), `"ltc" is not configured (configured: btc, tbtc)`) {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
}
