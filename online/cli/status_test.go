package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/status"
)

// `status` on a migrated database with a real node for btc and a dead one
// for tbtc: --json carries every field of the report, the screen names
// each figure and the node that does not answer, and an unknown --asset is
// refused with the configured ones.
func TestStatusCommand(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	btcd := testenv.NewNode(t, devenv.BtcdOptions{NoMine: true})
	conf := fmt.Sprintf("[database]\nurl = %q\n"+
		"[assets.btc]\nnetwork = \"regtest\"\nrpc_url = %q\nrpc_user = %q\nrpc_password = %q\n"+
		"[assets.tbtc]\nnetwork = \"regtest\"\nrpc_url = \"http://127.0.0.1:1\"\nrpc_user = \"u\"\nrpc_password = \"p\"\n"+
		"[[webhooks]]\nurl = \"https://shop.example/hook?key=secret\"\nsecret = \"0123456789abcdef\"\n",
		testenv.NewDatabase(t), btcd.RPCURL(), devenv.RPCUser, devenv.RPCPassword)
	p := filepath.Join(t.TempDir(), "c.toml")
	if err := os.WriteFile(p, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, p, "migrate"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}

	out, err := run(t, p, "status", "--json")
	if err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("status --json is not one JSON object: %v\n%s", err, out)
	}
	if missing := missingFields(reflect.TypeOf(status.Report{}), m, ""); len(missing) > 0 {
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

	out, err = run(t, p, "status")
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	for _, want := range []string{"btc (regtest)", "tbtc (regtest)", "node tip", "UNREACHABLE", "follower", "not started", "deposits", "credited 0",
		"withdrawals", "awaiting_approval 0", "broadcasts", "0 open, 0 broken", "hot wallet", "cold wallet", "circuit breaker", "closed",
		"audit", "webhook https://shop.example/hook", "backlog 0", "workers"} {
		if !strings.Contains(out, want) {
			t.Fatalf("status lacks %q:\n%s", want, out)
		}
	}
	t.Logf("status:\n%s", out)

	one, err := run(t, p, "status", "--asset", "btc", "--json")
	if err != nil || !strings.Contains(one, `"asset": "btc"`) || strings.Contains(one, `"asset": "tbtc"`) {
		t.Fatalf("status --asset btc: %v\n%s", err, one)
	}
	for _, args := range [][]string{{"status", "--asset", "ltc"}, {"status", "--asset", "ltc", "--json"}} {
		start := time.Now()
		out, err := run(t, p, args...)
		if err == nil || !strings.Contains(err.Error(), `"ltc" is not configured (configured: btc, tbtc)`) || time.Since(start) > 10*time.Second {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
}

// missingFields lists the JSON keys of type t (not omitempty) absent from
// v, descending into structs and the first element of slices.
func missingFields(t reflect.Type, v any, path string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []string
	switch t.Kind() {
	case reflect.Struct:
		if t == reflect.TypeOf(time.Time{}) {
			return nil
		}
		m, _ := v.(map[string]any)
		for i := range t.NumField() {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			sub, ok := m[name]
			if !ok {
				if !strings.Contains(opts, "omitempty") {
					out = append(out, path+name)
				}
				continue
			}
			if sub != nil {
				out = append(out, missingFields(f.Type, sub, path+name+".")...)
			}
		}
	case reflect.Slice:
		if s, _ := v.([]any); len(s) > 0 {
			out = append(out, missingFields(t.Elem(), s[0], path+"0.")...)
		}
	}
	return out
}
