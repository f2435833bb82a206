package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"

	"github.com/cryptoassets/cryptoassets/internal/storetest"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/addresses"
	"github.com/cryptoassets/cryptoassets/online/events"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type fixture struct {
	srv    *httptest.Server
	token  string
	ledger *ledger.Ledger
	runner *store.Runner
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	runner := storetest.Runner(t, 40, "btc", "tbtc")
	l, err := ledger.New(runner, "btc")
	if err != nil {
		t.Fatal(err)
	}
	tl, err := ledger.New(runner, "tbtc")
	if err != nil {
		t.Fatal(err)
	}
	key, err := addresses.ParseKey("wpkh([73c5da0a/84'/1'/0']tpubDC8msFGeGuwnKG9Upg7DM2b4DaRqg3CUZa5g8v2SRQ6K4NSkxUgd7HsL2XVWbVm39yBA4LAxysQAm397zwQSQoQgewGiYZqrA9DsP4zbQ1M)", &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	iss, err := addresses.NewIssuer(context.Background(), tl, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tl.CreateAccount(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	s := NewServer(runner, map[string]Asset{"btc": {Ledger: l}, "tbtc": {Ledger: tl, Addresses: iss}}, nil)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	_, secret, err := NewTokens(runner).Create(context.Background(), "tests")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{srv: srv, token: secret, ledger: l, runner: runner}
	for _, n := range []string{"alice", "bob"} {
		if _, err := l.CreateAccount(context.Background(), n); err != nil {
			t.Fatal(err)
		}
	}
	f.fund(t, "alice", 1_000_000)
	return f
}

func (f *fixture) fund(t *testing.T, name string, sat int64) {
	t.Helper()
	a, err := f.ledger.GetAccount(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	err = f.runner.InTx(context.Background(), "fund", func(tx *store.Tx) error {
		hot, _, err := f.ledger.Internal(tx, ledger.HotWallet)
		if err != nil {
			return err
		}
		_, err = f.ledger.PostTx(tx, "test_funding", "", []ledger.Posting{{AccountID: hot, Available: -sat}, {AccountID: a.ID, Available: sat}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

type call struct {
	method, path, body string
	headers            map[string]string
	noAuth             bool
}

func (f *fixture) do(t *testing.T, c call) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(c.method, f.srv.URL+c.path, strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	if !c.noAuth {
		req.Header.Set("Authorization", "Bearer "+f.token)
	}
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: response is not a JSON object: %q", c.method, c.path, raw)
	}
	return resp.StatusCode, out, resp.Header
}

func errCode(out map[string]any) (string, string) {
	e, _ := out["error"].(map[string]any)
	code, _ := e["code"].(string)
	msg, _ := e["message"].(string)
	return code, msg
}

// state is everything a request could change, except the refusals stored
// under an Idempotency-Key (TestRefusalStoredUnderItsKey checks those).
func (f *fixture) state(t *testing.T) string {
	t.Helper()
	var s string
	err := f.runner.Pool().QueryRow(context.Background(), `SELECT
		(SELECT count(*) FROM btc.accounts) || '/' || (SELECT count(*) FROM btc.ledger_transactions) || '/' ||
		(SELECT count(*) FROM btc.ledger_entries) || '/' || (SELECT count(*) FROM public.idempotency_keys WHERE status < 400) || '/' ||
		(SELECT string_agg(account_id || ':' || available || ':' || pending, ',' ORDER BY account_id, slot) FROM btc.balances)`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestHappyPath(t *testing.T) {
	f := newFixture(t)
	st, out, _ := f.do(t, call{method: "POST", path: "/v1/btc/accounts", body: `{"name":"carol"}`})
	if st != 201 || out["name"] != "carol" || out["available_sat"] != "0" {
		t.Fatalf("create: %d %v", st, out)
	}
	st, out, _ = f.do(t, call{method: "POST", path: "/v1/btc/transfers", body: `{"from":"alice","to":"carol","amount":"0.001","memo":"hi"}`,
		headers: map[string]string{"Idempotency-Key": "t-1"}})
	if st != 201 || out["amount_sat"] != "100000" || out["amount"] != "0.00100000" {
		t.Fatalf("transfer: %d %v", st, out)
	}
	st, out, _ = f.do(t, call{method: "POST", path: "/v1/btc/transfers", body: `{"from":"alice","to":"carol","amount_sat":5}`,
		headers: map[string]string{"Idempotency-Key": "t-2"}})
	if st != 201 || out["amount_sat"] != "5" {
		t.Fatalf("transfer in satoshis: %d %v", st, out)
	}
	st, out, _ = f.do(t, call{method: "GET", path: "/v1/btc/accounts/carol"})
	if st != 200 || out["available_sat"] != "100005" || out["available"] != "0.00100005" {
		t.Fatalf("balance: %d %v", st, out)
	}
	st, out, _ = f.do(t, call{method: "GET", path: "/v1/btc/accounts/carol/history?limit=1"})
	entries, _ := out["entries"].([]any)
	if st != 200 || len(entries) != 1 || out["next_before"] == nil {
		t.Fatalf("history: %d %v", st, out)
	}
	st, out, _ = f.do(t, call{method: "GET", path: "/v1/btc/accounts?limit=1000"})
	accts, _ := out["accounts"].([]any)
	if st != 200 || len(accts) != 8 { // five internal, three customers
		t.Fatalf("list: %d %v", st, out)
	}
	st, out, _ = f.do(t, call{method: "POST", path: "/v1/tbtc/accounts/alice/addresses", body: `{"label":"order 1"}`, headers: map[string]string{"Idempotency-Key": "addr-1"}})
	addr, _ := out["address"].(string)
	if st != 201 || !strings.HasPrefix(addr, "bcrt1q") || out["label"] != "order 1" || out["derivation_path"] != "m/84'/1'/0'/0/0" {
		t.Fatalf("new address: %d %v", st, out)
	}
	st, out, _ = f.do(t, call{method: "POST", path: "/v1/tbtc/accounts/alice/addresses", body: `{"label":"order 1"}`, headers: map[string]string{"Idempotency-Key": "addr-1"}})
	if st != 201 || out["address"] != addr {
		t.Fatalf("replayed new address: %d %v", st, out)
	}
	st, out, _ = f.do(t, call{method: "POST", path: "/v1/tbtc/accounts/alice/addresses"})
	if st != 201 || out["address"] == addr {
		t.Fatalf("second address: %d %v", st, out)
	}
	st, out, _ = f.do(t, call{method: "GET", path: "/v1/health", noAuth: true})
	if st != 200 || out["status"] != "ok" {
		t.Fatalf("health: %d %v", st, out)
	}
	if err := f.ledger.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestBadInputsChangeNothing(t *testing.T) {
	f := newFixture(t)
	key := map[string]string{"Idempotency-Key": "k"}
	tr := func(body string) call {
		return call{method: "POST", path: "/v1/btc/transfers", body: body, headers: key}
	}
	tests := []struct {
		name   string
		c      call
		status int
		code   string
		msg    string
	}{
		{"no token", call{method: "GET", path: "/v1/btc/accounts", noAuth: true}, 401, "unauthorized", "Bearer"},
		{"bad token", call{method: "GET", path: "/v1/btc/accounts", headers: map[string]string{"Authorization": "Bearer cat_nope"}}, 401, "unauthorized", "token"},
		{"unknown asset", call{method: "GET", path: "/v1/ltc/accounts"}, 404, "unknown_asset", "btc"},
		{"address for unknown account", call{method: "POST", path: "/v1/tbtc/accounts/zed/addresses", body: `{}`}, 404, "unknown_account", "zed"},
		{"address label too long", call{method: "POST", path: "/v1/tbtc/accounts/alice/addresses", body: `{"label":"` + strings.Repeat("x", 201) + `"}`}, 400, "invalid_label", "200"},
		{"address unknown field", call{method: "POST", path: "/v1/tbtc/accounts/alice/addresses", body: `{"lable":"x"}`}, 400, "invalid_json", "lable"},
		{"unknown endpoint", call{method: "GET", path: "/v2/things"}, 404, "not_found", "no such endpoint"},
		{"unknown account", call{method: "GET", path: "/v1/btc/accounts/nobody"}, 404, "unknown_account", "nobody"},
		{"no idempotency key", call{method: "POST", path: "/v1/btc/transfers", body: `{"from":"alice","to":"bob","amount":"0.1"}`}, 400, "missing_idempotency_key", "Idempotency-Key"},
		{"idempotency key with space", call{method: "POST", path: "/v1/btc/transfers", body: `{"from":"alice","to":"bob","amount":"0.1"}`, headers: map[string]string{"Idempotency-Key": "a b"}}, 400, "invalid_idempotency_key", "printable"},
		{"negative", tr(`{"from":"alice","to":"bob","amount":"-0.1"}`), 400, "invalid_amount", "greater than zero"},
		{"zero", tr(`{"from":"alice","to":"bob","amount_sat":0}`), 400, "invalid_amount", "greater than zero"},
		{"over supply", tr(`{"from":"alice","to":"bob","amount":"21000000.00000001"}`), 400, "invalid_amount", "21,000,000"},
		{"nine decimals", tr(`{"from":"alice","to":"bob","amount":"0.000000001"}`), 400, "invalid_amount", "8 decimal"},
		{"JSON number BTC", tr(`{"from":"alice","to":"bob","amount":0.1}`), 400, "invalid_amount", "string"},
		{"fractional satoshis", tr(`{"from":"alice","to":"bob","amount_sat":1.5}`), 400, "invalid_amount", "whole number"},
		{"exponent satoshis", tr(`{"from":"alice","to":"bob","amount_sat":1e3}`), 400, "invalid_amount", "whole number"},
		{"both amounts", tr(`{"from":"alice","to":"bob","amount":"0.1","amount_sat":5}`), 400, "invalid_amount", "not both"},
		{"no amount", tr(`{"from":"alice","to":"bob"}`), 400, "invalid_amount", "missing amount"},
		{"unknown field", tr(`{"from":"alice","to":"bob","amount":"0.1","fee":"1"}`), 400, "invalid_json", `unknown field "fee"`},
		{"malformed JSON", tr(`{"from":"alice",`), 400, "invalid_json", "malformed"},
		{"trailing data", tr(`{"from":"alice","to":"bob","amount":"0.1"} {}`), 400, "invalid_json", "trailing"},
		{"array body", tr(`[1]`), 400, "invalid_json", "JSON object"},
		{"empty body", tr(``), 400, "invalid_json", "empty"},
		{"wrong type", tr(`{"from":1,"to":"bob","amount":"0.1"}`), 400, "invalid_json", "string"},
		{"oversized", tr(`{"from":"alice","to":"bob","amount":"0.1","memo":"` + strings.Repeat("x", MaxBodySize) + `"}`), 413, "body_too_large", "bytes"},
		{"wrong content type", call{method: "POST", path: "/v1/btc/transfers", body: `{}`, headers: map[string]string{"Idempotency-Key": "k", "Content-Type": "text/plain"}}, 415, "unsupported_media_type", "application/json"},
		{"unknown from", tr(`{"from":"zed","to":"bob","amount":"0.1"}`), 404, "unknown_account", "zed"},
		{"missing to", tr(`{"from":"alice","amount":"0.1"}`), 400, "invalid_request", "customer accounts"},
		{"same account", tr(`{"from":"alice","to":"alice","amount":"0.1"}`), 422, "same_account", "same account"},
		{"internal account", tr(`{"from":"alice","to":"internal:hot_wallet","amount":"0.1"}`), 422, "internal_account", "customer accounts"},
		{"insufficient", tr(`{"from":"bob","to":"alice","amount":"0.1"}`), 422, "insufficient_funds", "insufficient funds"},
		{"bad account name", call{method: "POST", path: "/v1/btc/accounts", body: `{"name":"has space"}`}, 400, "invalid_account_name", "letters"},
		{"existing account", call{method: "POST", path: "/v1/btc/accounts", body: `{"name":"alice"}`}, 409, "account_exists", "alice"},
		{"bad page", call{method: "GET", path: "/v1/btc/accounts?limit=0"}, 400, "invalid_parameter", "limit"},
		{"addresses not configured", call{method: "POST", path: "/v1/btc/accounts/alice/addresses", body: `{}`}, 501, "addresses_not_configured", "descriptor"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := f.state(t)
			// Each refusal gets a fresh key, so no stored refusal masks the next case.
			if tc.c.headers["Idempotency-Key"] == "k" {
				h := map[string]string{}
				for k, v := range tc.c.headers {
					h[k] = v
				}
				h["Idempotency-Key"] = "bad-" + strings.ReplaceAll(tc.name, " ", "-")
				tc.c.headers = h
			}
			st, out, _ := f.do(t, tc.c)
			code, msg := errCode(out)
			if st != tc.status || code != tc.code || !strings.Contains(msg, tc.msg) {
				t.Fatalf("got %d %s %q; want %d %s containing %q", st, code, msg, tc.status, tc.code, tc.msg)
			}
			if after := f.state(t); after != before {
				t.Fatalf("a refused request changed the database:\n%s\n%s", before, after)
			}
			if err := f.ledger.Check(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
	a, _ := f.ledger.GetAccount(context.Background(), "alice")
	b, _ := f.ledger.GetAccount(context.Background(), "bob")
	if a.Available != 1_000_000 || b.Available != 0 {
		t.Fatalf("money moved: alice %d bob %d", a.Available, b.Available)
	}
	var tx int
	_ = f.runner.Pool().QueryRow(context.Background(), `SELECT count(*) FROM btc.ledger_transactions WHERE kind = 'transfer'`).Scan(&tx)
	if tx != 0 {
		t.Fatalf("%d transfers recorded by refused requests", tx)
	}
}

func TestIdempotencyKey(t *testing.T) {
	f := newFixture(t)
	body := `{"from":"alice","to":"bob","amount_sat":1000}`
	h := map[string]string{"Idempotency-Key": "same"}
	st1, out1, _ := f.do(t, call{method: "POST", path: "/v1/btc/transfers", body: body, headers: h})
	st2, out2, hdr := f.do(t, call{method: "POST", path: "/v1/btc/transfers", body: body, headers: h})
	if st1 != 201 || st2 != 201 || out1["id"] != out2["id"] || hdr.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %v / %d %v %v", st1, out1, st2, out2, hdr)
	}
	st, out, _ := f.do(t, call{method: "POST", path: "/v1/btc/transfers", body: `{"from":"alice","to":"bob","amount_sat":2000}`, headers: h})
	if code, _ := errCode(out); st != 422 || code != "idempotency_key_reused" {
		t.Fatalf("reuse with another body: %d %v", st, out)
	}
	b, _ := f.ledger.GetAccount(context.Background(), "bob")
	if b.Available != 1000 {
		t.Fatalf("bob %d", b.Available)
	}
}

// The same request fired concurrently, many times, moves money once.
func TestIdempotentRequestFiredConcurrently(t *testing.T) {
	f := newFixture(t)
	const n = 24
	for round := 0; round < 5; round++ {
		key := fmt.Sprintf("concurrent-%d", round)
		var wg sync.WaitGroup
		ids := make([]any, n)
		statuses := make([]int, n)
		start := make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				st, out, _ := f.do(t, call{method: "POST", path: "/v1/btc/transfers", body: `{"from":"alice","to":"bob","amount":"0.0001"}`,
					headers: map[string]string{"Idempotency-Key": key}})
				statuses[i], ids[i] = st, out["id"]
			}()
		}
		close(start)
		wg.Wait()
		for i := range ids {
			if statuses[i] != 201 || ids[i] == nil || ids[i] != ids[0] {
				t.Fatalf("round %d: response %d: %d %v (first %v)", round, i, statuses[i], ids[i], ids[0])
			}
		}
	}
	b, _ := f.ledger.GetAccount(context.Background(), "bob")
	if b.Available != 5*10_000 {
		t.Fatalf("bob received %d sat, want exactly %d (one transfer per key)", b.Available, 5*10_000)
	}
	if err := f.ledger.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := f.runner.Stats()
	t.Logf("serialization retries: %d", st.Retries)
	if st.Retries == 0 {
		t.Fatalf("no conflicts happened: the concurrency was not exercised (stats %+v)", st)
	}
}

func TestRevokedTokenRefused(t *testing.T) {
	f := newFixture(t)
	toks := NewTokens(f.runner)
	list, err := toks.List(context.Background())
	if err != nil || len(list) != 1 {
		t.Fatalf("%v %v", list, err)
	}
	if err := toks.Revoke(context.Background(), list[0].ID); err != nil {
		t.Fatal(err)
	}
	st, out, _ := f.do(t, call{method: "GET", path: "/v1/btc/accounts"})
	if code, _ := errCode(out); st != 401 || code != "unauthorized" {
		t.Fatalf("revoked token: %d %v", st, out)
	}
	if err := toks.Revoke(context.Background(), list[0].ID); err == nil {
		t.Fatal("revoking twice should say there is no active token")
	}
}

func TestEventsPullAndAck(t *testing.T) {
	f := newFixture(t)
	for i := 0; i < 3; i++ {
		err := f.runner.InTx(context.Background(), "emit", func(tx *store.Tx) error {
			_, err := events.Emit(tx, "btc", events.DepositSeen, map[string]any{"amount_sat": "5"})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	st, out, _ := f.do(t, call{method: "GET", path: "/v1/events?limit=2"})
	evs, _ := out["events"].([]any)
	if st != 200 || len(evs) != 2 {
		t.Fatalf("page 1: %d %v", st, out)
	}
	next := out["next_after"]
	st, out, _ = f.do(t, call{method: "POST", path: "/v1/events/ack", body: fmt.Sprintf(`{"up_to":%v}`, next)})
	if st != 200 || out["acked_up_to"] != next {
		t.Fatalf("ack: %d %v", st, out)
	}
	st, out, _ = f.do(t, call{method: "GET", path: "/v1/events"})
	evs, _ = out["events"].([]any)
	if st != 200 || len(evs) != 1 {
		t.Fatalf("after ack: %d %v", st, out)
	}
	ev, _ := evs[0].(map[string]any)
	if ev["type"] != "deposit.seen" || ev["asset"] != "btc" || ev["event_id"] == nil {
		t.Fatalf("event payload %v", ev)
	}
	st, out, _ = f.do(t, call{method: "POST", path: "/v1/events/ack", body: `{"up_to":1.5}`})
	if code, _ := errCode(out); st != 400 || code != "invalid_request" {
		t.Fatalf("bad ack: %d %v", st, out)
	}
	st, _, _ = f.do(t, call{method: "GET", path: "/v1/events", noAuth: true})
	if st != 401 {
		t.Fatalf("events without a token: %d", st)
	}
}
