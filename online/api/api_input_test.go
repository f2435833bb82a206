package api

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"

	"github.com/cryptoassets/cryptoassets/online/addresses"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// snapshot is every row a request could write: accounts, balances, ledger
// and every idempotency record with its answer.
func (f *fixture) snapshot(t *testing.T) string {
	t.Helper()
	var s string
	err := f.runner.Pool().QueryRow(context.Background(), `SELECT concat_ws(' | ',
		(SELECT string_agg(id || ':' || name, ',' ORDER BY id) FROM btc.accounts),
		(SELECT string_agg(id || ':' || kind || ':' || memo, ',' ORDER BY id) FROM btc.ledger_transactions),
		(SELECT count(*) FROM btc.ledger_entries),
		(SELECT string_agg(account_id || ':' || available || ':' || pending, ',' ORDER BY account_id, slot) FROM btc.balances),
		(SELECT count(*) FROM tbtc.accounts), (SELECT count(*) FROM tbtc.addresses),
		(SELECT string_agg(token_id || ':' || key || ':' || status || ':' || md5(response), ',' ORDER BY token_id, key) FROM public.idempotency_keys))`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Bad text, field names in another case, duplicate and unknown keys, and an
// Idempotency-Key replayed with other spacing or reused for another request:
// each answered before it can change anything, and the database is the same
// row for row afterwards.
func TestAPIBadInputRefusedBeforeTheDatabase(t *testing.T) {
	f := newFixture(t)
	paid := call{method: "POST", path: "/v1/btc/transfers", body: `{"from":"alice","to":"bob","amount_sat":1000}`, headers: map[string]string{"Idempotency-Key": "paid-1"}}
	st, first, _ := f.do(t, paid)
	if st != 201 {
		t.Fatalf("first transfer: %d %v", st, first)
	}
	tr := func(body string) call {
		return call{method: "POST", path: "/v1/btc/transfers", body: body}
	}
	withKey := func(c call, key string) call {
		c.headers = map[string]string{"Idempotency-Key": key}
		return c
	}
	tests := []struct {
		name   string
		c      call
		status int
		code   string
		msg    string
	}{
		{"NUL escape in a string", tr(`{"from":"alice","to":"bob","amount_sat":1,"memo":"a\u0000b"}`), 400, "invalid_text", "NUL"},
		{"NUL escape in a field name", tr(`{"from":"alice","to":"bob","amount_sat":1,"me\u0000mo":"x"}`), 400, "invalid_text", "field name"},
		{"raw NUL byte in a string", tr("{\"from\":\"alice\",\"to\":\"bob\",\"amount_sat\":1,\"memo\":\"a\x00b\"}"), 400, "invalid_json", "malformed"},
		{"invalid UTF-8 in a string", tr("{\"from\":\"alice\",\"to\":\"bob\",\"amount_sat\":1,\"memo\":\"caf\xe9\"}"), 400, "invalid_text", "UTF-8"},
		{"unpaired surrogate escape", tr(`{"from":"alice","to":"bob","amount_sat":1,"memo":"\ud800x"}`), 400, "invalid_text", "surrogate"},
		{"unpaired low surrogate escape", tr(`{"from":"alice","to":"bob","amount_sat":1,"memo":"\udc00"}`), 400, "invalid_text", "surrogate"},
		{"invalid UTF-8 in an account name", call{method: "POST", path: "/v1/btc/accounts", body: "{\"name\":\"\xff\"}"}, 400, "invalid_text", "UTF-8"},
		{"NUL in a path segment", call{method: "GET", path: "/v1/btc/accounts/a%00b"}, 400, "invalid_text", "NUL"},
		{"invalid UTF-8 in a path segment", call{method: "GET", path: "/v1/btc/accounts/%FF/history"}, 400, "invalid_text", "UTF-8"},
		{"invalid UTF-8 in an address path", call{method: "POST", path: "/v1/tbtc/accounts/%C3%28/addresses", body: `{}`}, 400, "invalid_text", "UTF-8"},
		{"NUL in the query", call{method: "GET", path: "/v1/btc/accounts?after=%00"}, 400, "invalid_text", "NUL"},
		{"field names in another case", tr(`{"From":"alice","To":"bob","Amount_Sat":1}`), 400, "invalid_json", "case-sensitive"},
		{"one field name in another case", tr(`{"from":"alice","to":"bob","AMOUNT_SAT":1}`), 400, "invalid_json", `did you mean "amount_sat"`},
		{"duplicate key", tr(`{"from":"alice","to":"bob","amount_sat":1,"amount_sat":2}`), 400, "invalid_json", `duplicate field "amount_sat"`},
		{"duplicate key with another value first", tr(`{"from":"bob","from":"alice","to":"bob","amount_sat":1}`), 400, "invalid_json", "duplicate"},
		{"duplicate key in a nested object", tr(`{"from":"alice","to":"bob","amount":{"a":1,"a":2}}`), 400, "invalid_json", "duplicate"},
		{"duplicate key in an account request", call{method: "POST", path: "/v1/btc/accounts", body: `{"name":"carol","name":"dave"}`}, 400, "invalid_json", "duplicate"},
		{"unknown field", tr(`{"from":"alice","to":"bob","amount_sat":1,"fee":1}`), 400, "invalid_json", `unknown field "fee"`},
		{"key reused for another amount", withKey(tr(`{"from":"alice","to":"bob","amount_sat":2000}`), "paid-1"), 422, "idempotency_key_reused", "different request"},
		{"key reused for another asset", call{method: "POST", path: "/v1/tbtc/transfers", body: paid.body, headers: paid.headers}, 422, "idempotency_key_reused", "different request"},
		{"key replayed with other spacing, order and escapes", withKey(tr(" {\n \"amount_sat\" : 1000 ,\t\"to\":\"b\\u006fb\",  \"from\":\"alice\" }\n"), "paid-1"), 201, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.c.headers == nil && tc.c.method == "POST" {
				tc.c.headers = map[string]string{"Idempotency-Key": "k-" + strings.ReplaceAll(tc.name, " ", "-")}
			}
			before := f.snapshot(t)
			st, out, hdr := f.do(t, tc.c)
			code, msg := errCode(out)
			if st != tc.status || code != tc.code || !strings.Contains(msg, tc.msg) {
				t.Fatalf("got %d %s %q; want %d %s containing %q", st, code, msg, tc.status, tc.code, tc.msg)
			}
			if st == 201 && (out["id"] != first["id"] || hdr.Get("Idempotent-Replayed") != "true") {
				t.Fatalf("not a replay of the first transfer %v: %v %v", first, out, hdr)
			}
			if after := f.snapshot(t); after != before {
				t.Fatalf("the database changed:\n before %s\n after  %s", before, after)
			}
		})
	}
	b, _ := f.ledger.GetAccount(context.Background(), "bob")
	if b.Available != 1000 {
		t.Fatalf("bob has %d sat; only the first transfer of 1000 may have moved money", b.Available)
	}
	if err := f.ledger.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// A money request refused by a rule is answered, and the answer stored
// under its Idempotency-Key, so the same key replays the refusal and never
// moves money later, even once the refusal's cause is gone.
func TestRefusalStoredUnderItsKey(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name, key, body string
		status          int
		code            string
		fix             func()
	}{
		{"insufficient funds", "bob-pays", `{"from":"bob","to":"alice","amount_sat":5000}`, 422, "insufficient_funds", func() { f.fund(t, "bob", 10_000) }},
		{"unknown account", "to-zed", `{"from":"alice","to":"zed","amount_sat":5000}`, 404, "unknown_account", func() {
			if _, err := f.ledger.CreateAccount(context.Background(), "zed"); err != nil {
				t.Fatal(err)
			}
		}},
		{"amount refused by a rule", "negative", `{"from":"alice","to":"bob","amount":"-0.1"}`, 400, "invalid_amount", func() {}},
		{"same account", "self", `{"from":"alice","to":"alice","amount_sat":5}`, 422, "same_account", func() {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := call{method: "POST", path: "/v1/btc/transfers", body: tc.body, headers: map[string]string{"Idempotency-Key": tc.key}}
			st, out, hdr := f.do(t, c)
			code, msg := errCode(out)
			if st != tc.status || code != tc.code || hdr.Get("Idempotent-Replayed") != "" {
				t.Fatalf("first answer: %d %v %v", st, out, hdr)
			}
			var stored int
			if err := f.runner.Pool().QueryRow(context.Background(), `SELECT status FROM public.idempotency_keys WHERE key = $1`, tc.key).Scan(&stored); err != nil || stored != tc.status {
				t.Fatalf("refusal not stored under its key: %d %v", stored, err)
			}
			tc.fix()
			before := f.snapshot(t)
			st, out, hdr = f.do(t, c)
			code2, msg2 := errCode(out)
			if st != tc.status || code2 != code || msg2 != msg || hdr.Get("Idempotent-Replayed") != "true" {
				t.Fatalf("replay: got %d %s %q %v; want the stored %d %s %q", st, code2, msg2, hdr, tc.status, code, msg)
			}
			if after := f.snapshot(t); after != before {
				t.Fatalf("a replayed refusal changed the database:\n before %s\n after  %s", before, after)
			}
		})
	}
	var transfers int
	_ = f.runner.Pool().QueryRow(context.Background(), `SELECT count(*) FROM btc.ledger_transactions WHERE kind = 'transfer'`).Scan(&transfers)
	if transfers != 0 {
		t.Fatalf("%d transfers moved money under refused keys", transfers)
	}
	if err := f.ledger.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// flakyIssuer wraps the real address issuer and fails its first calls with
// faults the real one cannot be made to produce on demand.
type flakyIssuer struct {
	AddressIssuer
	faults []error
}

func (f *flakyIssuer) NewAddressTx(tx *store.Tx, account, label string) (addresses.Address, error) {
	if len(f.faults) > 0 {
		err := f.faults[0]
		f.faults = f.faults[1:]
		return addresses.Address{}, err
	}
	return f.AddressIssuer.NewAddressTx(tx, account, label)
}

// What is not stored under a key: a request that never got past parsing,
// one without a valid token, and a failure a retry may get past (500, 503).
// The same key then succeeds.
func TestFailuresNotStoredUnderTheKey(t *testing.T) {
	f := newFixture(t)
	good := `{"from":"alice","to":"bob","amount_sat":100}`
	for _, tc := range []struct {
		name, key string
		first     call
		status    int
	}{
		{"malformed JSON", "malformed", call{method: "POST", path: "/v1/btc/transfers", body: `{"from":"alice",`}, 400},
		{"field names in another case", "cased", call{method: "POST", path: "/v1/btc/transfers", body: `{"From":"alice","To":"bob","Amount_Sat":100}`}, 400},
		{"NUL in a string", "nul", call{method: "POST", path: "/v1/btc/transfers", body: `{"from":"alice","to":"bob","amount_sat":100,"memo":"\u0000"}`}, 400},
		{"no token", "anonymous", call{method: "POST", path: "/v1/btc/transfers", body: good, noAuth: true}, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.first.headers = map[string]string{"Idempotency-Key": tc.key}
			st, out, _ := f.do(t, tc.first)
			if st != tc.status {
				t.Fatalf("first: %d %v", st, out)
			}
			st, out, hdr := f.do(t, call{method: "POST", path: "/v1/btc/transfers", body: good, headers: map[string]string{"Idempotency-Key": tc.key}})
			if st != 201 || hdr.Get("Idempotent-Replayed") != "" {
				t.Fatalf("the key did not move money after a refusal that must not be stored: %d %v %v", st, out, hdr)
			}
		})
	}

	tl, err := ledger.New(f.runner, "tbtc")
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
	flaky := &flakyIssuer{AddressIssuer: iss, faults: []error{errors.New("injected fault"), store.ErrConflictUnresolved}}
	srv := httptest.NewServer(NewServer(f.runner, map[string]Asset{"tbtc": {Ledger: tl, Addresses: flaky}}, nil).Handler())
	t.Cleanup(srv.Close)
	g := *f
	g.srv = srv
	c := call{method: "POST", path: "/v1/tbtc/accounts/alice/addresses", body: `{"label":"retry me"}`, headers: map[string]string{"Idempotency-Key": "addr-retry"}}
	for _, want := range []struct {
		status int
		code   string
	}{{500, "internal"}, {503, "busy"}} {
		before := f.snapshot(t)
		st, out, _ := g.do(t, c)
		if code, _ := errCode(out); st != want.status || code != want.code {
			t.Fatalf("injected fault: %d %v; want %d %s", st, out, want.status, want.code)
		}
		if after := f.snapshot(t); after != before {
			t.Fatalf("a failed request changed the database:\n before %s\n after  %s", before, after)
		}
	}
	st, out, hdr := g.do(t, c)
	if st != 201 || out["address"] == nil || hdr.Get("Idempotent-Replayed") != "" {
		t.Fatalf("retry after transient failures: %d %v %v", st, out, hdr)
	}
	st, out2, hdr := g.do(t, c)
	if st != 201 || out2["address"] != out["address"] || hdr.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay after success: %d %v %v", st, out2, hdr)
	}
}

// A withdrawal refused for want of funds is stored like a transfer's
// refusal: funding the account later does not let the key pay out.
func TestWithdrawalRefusalStoredUnderItsKey(t *testing.T) {
	f := newWithdrawalFixture(t)
	c := call{method: "POST", path: "/v1/btc/withdrawals", body: `{"account":"bob","address":"` + outsideAddress + `","amount_sat":50000}`,
		headers: map[string]string{"Idempotency-Key": "bob-withdraws"}}
	st, out, _ := f.do(t, c)
	if code, _ := errCode(out); st != 422 || code != "insufficient_funds" {
		t.Fatalf("first: %d %v", st, out)
	}
	f.fund(t, "bob", 100_000)
	before := f.snapshot(t) + f.withdrawalState(t)
	st, out, hdr := f.do(t, c)
	if code, _ := errCode(out); st != 422 || code != "insufficient_funds" || hdr.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay after funding: %d %v %v", st, out, hdr)
	}
	if after := f.snapshot(t) + f.withdrawalState(t); after != before {
		t.Fatalf("the replayed refusal changed the database:\n before %s\n after  %s", before, after)
	}
}
