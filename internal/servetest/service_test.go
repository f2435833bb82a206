package servetest

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cryptoassets/cryptoassets/internal/crashpoint"
	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The harness runs the real program: serve unlocks the dev hot seed and
// answers on its port; SIGKILL ends it as a crash does; a restart comes back
// on the same port with the data of the first run; the log holds both runs;
// the CLI and the API work beside it.
func TestServeKilledBySIGKILLComesBackOnItsPort(t *testing.T) {
	node := testenv.NewNode(t, devenv.BtcdOptions{})
	s := New(t, Options{RPCURL: node.RPCURL(), AssetTOML: "confirmations = 1\npoll_interval = \"100ms\"\n"})
	if !strings.HasPrefix(s.Descriptor, "wpkh([73c5da0a/84h/1h/0h]tpub") {
		t.Fatalf("the dev hot seed gave %s, want the BIP84 test vector's account", s.Descriptor)
	}

	s.StartReady()
	first := s.PID()
	if !strings.Contains(s.Log(), "hot keystore unlocked") {
		t.Fatalf("serve did not unlock the hot keystore:\n%s", s.Log())
	}
	status, body, err := s.Do(http.MethodPost, "/v1/btc/accounts", `{"name":"alice"}`, "acct-alice")
	if err != nil || status != http.StatusCreated {
		t.Fatalf("creating an account through the API: %d %s %v", status, body, err)
	}
	s.Kill()
	if status, _, err := s.Do(http.MethodGet, "/v1/btc/accounts/alice", "", ""); err == nil {
		t.Fatalf("the API answered %d after SIGKILL", status)
	}

	s.StartReady()
	if s.PID() == first || s.Runs() != 2 {
		t.Fatalf("no second process: pid %d (first %d), %d runs", s.PID(), first, s.Runs())
	}
	status, body, err = s.Do(http.MethodGet, "/v1/btc/accounts/alice", "", "")
	if err != nil || status != http.StatusOK {
		t.Fatalf("the account after the restart: %d %s %v", status, body, err)
	}
	var acct struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(body, &acct); err != nil || acct.Name != "alice" {
		t.Fatalf("account body %s: %v", body, err)
	}
	if out, err := s.CLI("account", "list"); err != nil || !strings.Contains(out, "alice") {
		t.Fatalf("the CLI beside serve: %v\n%s", err, out)
	}
	s.Stop()
	log := s.Log()
	if n := strings.Count(log, "API listening"); n != 2 || strings.Count(log, "=== servetest: run") != 2 || !strings.Contains(log, "stopped") {
		t.Fatalf("the log does not show two runs and a clean stop (%d API listening):\n%s", n, log)
	}
}

// A serve that cannot start (its API port is taken) is reported with its
// log, not waited for.
func TestWaitReadyReportsAServeThatExited(t *testing.T) {
	node := testenv.NewNode(t, devenv.BtcdOptions{})
	s := New(t, Options{RPCURL: node.RPCURL()})
	ln, err := net.Listen("tcp", strings.TrimPrefix(s.APIURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s.Start()
	err = s.WaitReady(time.Minute)
	if err == nil || !strings.Contains(err.Error(), "exited") {
		t.Fatalf("serve on a taken port: %v", err)
	}
	st, werr := s.Wait(time.Second)
	if werr != nil || st.Success() || KilledBySIGKILL(st) {
		t.Fatalf("serve on a taken port ended with %v %v", st, werr)
	}
	t.Logf("reported: %.300s", err)
}

// The harness's binary is the crash-point build and reaches every point of
// the batch and broadcast protocol.
func TestBinaryCarriesEveryCrashPoint(t *testing.T) {
	if missing := MissingCrashPoints(t, Binary(t), crashpoint.Points...); len(missing) > 0 {
		t.Fatalf("the crash-point build of cryptoassets lacks %v", missing)
	}
	if missing := MissingCrashPoints(t, Binary(t), "no.such.point"); len(missing) != 1 {
		t.Fatal("a point the program does not name was found in it: the check looks at the wrong thing")
	}
}
