package metrics_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/servetest"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/status"
)

// readiness is GET /readyz: its status and the check of each name.
func readiness(t *testing.T, url string) (int, map[string]status.Check) {
	t.Helper()
	code, body := get(t, url+"/readyz")
	var rd status.Readiness
	if err := json.Unmarshal([]byte(body), &rd); err != nil {
		t.Fatalf("/readyz answered %d %q: %v", code, body, err)
	}
	checks := map[string]status.Check{}
	for _, c := range rd.Checks {
		checks[c.Name] = c
	}
	if rd.Ready != (code == http.StatusOK) {
		t.Fatalf("/readyz answered %d with ready=%v", code, rd.Ready)
	}
	return code, checks
}

func waitReadyz(t *testing.T, url string, want int) map[string]status.Check {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		code, checks := readiness(t, url)
		if code == want {
			return checks
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz on %s: %d, want %d: %+v", url, code, want, checks)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// /readyz goes 503, naming the database, while serve's PostgreSQL is
// stopped (pg_ctl stop -m fast of a cluster of this test's own), and 200
// again once it is back; /healthz answers 200 throughout, and /metrics
// keeps answering, with cryptoassets_status_up 0 while the database is
// away. With http.metrics_listen the metrics leave the API's port and the
// health endpoints answer on both.
func TestReadyzFollowsTheDatabase(t *testing.T) {
	ctx := testenv.Ctx(t, 5*time.Minute)
	dir := filepath.Join(t.TempDir(), "pg")
	pg, err := devenv.StartPostgres(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Stop(ctx) })
	btcd := testenv.NewNode(t, devenv.BtcdOptions{})
	s := servetest.New(t, servetest.Options{DatabaseURL: pg.DSN(), RPCURL: btcd.RPCURL(), AssetTOML: serveTOML})

	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsURL := "http://" + probe.Addr().String()
	probe.Close()
	conf, err := os.ReadFile(s.Config)
	if err != nil {
		t.Fatal(err)
	}
	withMetrics := strings.Replace(string(conf), "[http]\n", fmt.Sprintf("[http]\nmetrics_listen = %q\n", strings.TrimPrefix(metricsURL, "http://")), 1)
	if withMetrics == string(conf) {
		t.Fatal("servetest's configuration has no [http] table to add metrics_listen to")
	}
	if err := os.WriteFile(s.Config, []byte(withMetrics), 0o600); err != nil {
		t.Fatal(err)
	}
	s.StartReady()

	for _, url := range []string{s.APIURL, metricsURL} {
		checks := waitReadyz(t, url, http.StatusOK)
		for _, name := range []string{"database", "migrations", "node:btc"} {
			if !checks[name].OK {
				t.Fatalf("%s/readyz: check %s missing or failing: %+v", url, name, checks)
			}
		}
	}
	if code, _ := get(t, s.APIURL+"/metrics"); code != http.StatusNotFound {
		t.Fatalf("/metrics on the API's port with metrics_listen set: %d, want 404", code)
	}
	if v := scrapeOf(t, metricsURL+"/metrics").must(t, up); v != 1 {
		t.Fatalf("status_up %v with the database up", v)
	}

	if err := pg.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	for _, url := range []string{s.APIURL, metricsURL} {
		checks := waitReadyz(t, url, http.StatusServiceUnavailable)
		if c := checks["database"]; c.OK || c.Error == "" {
			t.Fatalf("%s/readyz with the database stopped: database check %+v", url, c)
		}
		if !checks["node:btc"].OK {
			t.Fatalf("the node check failed with only the database away: %+v", checks)
		}
		t.Logf("%s/readyz while the database is stopped: %+v", url, checks)
		if code, body := get(t, url+"/healthz"); code != http.StatusOK {
			t.Fatalf("%s/healthz with the database stopped: %d %s", url, code, body)
		}
	}
	away := scrapeOf(t, metricsURL+"/metrics")
	if away.must(t, up) != 0 || away.must(t, "cryptoassets_status_read_failures_total") < 1 {
		t.Fatalf("/metrics with the database stopped: status_up %v, read failures %v", away[up], away["cryptoassets_status_read_failures_total"])
	}
	if _, ok := away.has(`cryptoassets_deposits{asset="btc",state="credited"}`); ok {
		t.Fatal("/metrics reports deposit figures it could not read")
	}

	again, err := devenv.StartPostgres(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if again.Port != pg.Port {
		t.Fatalf("PostgreSQL came back on port %d, not %d", again.Port, pg.Port)
	}
	for _, url := range []string{s.APIURL, metricsURL} {
		waitReadyz(t, url, http.StatusOK)
	}
	if v := scrapeOf(t, metricsURL+"/metrics").must(t, up); v != 1 {
		t.Fatalf("status_up %v after the database came back", v)
	}
	s.Stop()
}
