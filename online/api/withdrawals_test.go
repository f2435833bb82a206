package api

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"

	"github.com/cryptoassets/cryptoassets/online/withdrawals"
)

const outsideAddress = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"

// newWithdrawalFixture is the API fixture with withdrawals enabled on btc
// (regtest, a flat fee of 100 sat); alice has 1,000,000 sat.
func newWithdrawalFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t)
	svc, err := withdrawals.New(f.ledger, withdrawals.Config{Params: &chaincfg.RegressionNetParams, FeeSat: 100})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewServer(f.runner, map[string]Asset{"btc": {Ledger: f.ledger, Withdrawals: svc}}, nil).Handler())
	t.Cleanup(srv.Close)
	f.srv = srv
	return f
}

// withdrawalState is everything a withdrawal request could change.
func (f *fixture) withdrawalState(t *testing.T) string {
	t.Helper()
	var s string
	err := f.runner.Pool().QueryRow(context.Background(), `SELECT
		(SELECT count(*) FROM btc.withdrawals) || '/' || (SELECT count(*) FROM public.events) || '/' ||
		coalesce((SELECT string_agg(id || ':' || state, ',' ORDER BY id) FROM btc.withdrawals), '')`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return f.state(t) + "/" + s
}

func TestBadWithdrawalRequestsChangeNothing(t *testing.T) {
	f := newWithdrawalFixture(t)
	// One accepted request, so a replay of its key with another body can be tried.
	st, out, _ := f.do(t, call{method: "POST", path: "/v1/btc/withdrawals", body: `{"account":"alice","address":"` + outsideAddress + `","amount_sat":10000}`,
		headers: map[string]string{"Idempotency-Key": "used"}})
	if st != 201 {
		t.Fatalf("first request: %d %v", st, out)
	}
	body := func(account, address, amount string) string {
		return fmt.Sprintf(`{"account":%q,"address":%q,"amount_sat":%s}`, account, address, amount)
	}
	for _, c := range []struct {
		name, body, key string
		status          int
		code, says      string
	}{
		{"wrong network", body("alice", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "10000"), "k1", 400, "wrong_network", "mainnet address"},
		{"testnet address on regtest", body("alice", "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", "10000"), "k2", 400, "wrong_network", "testnet3"},
		{"malformed address", body("alice", "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt081", "10000"), "k3", 400, "invalid_address", "malformed"},
		{"unknown witness version", body("alice", "bcrt1zw508d6qejxtdg4y5r3zarvaryv2wuatf", "10000"), "k4", 400, "unsupported_address", "segwit version 2"},
		{"dust", body("alice", outsideAddress, "293"), "k5", 422, "amount_below_dust", "294 sat"},
		{"over the balance", body("alice", outsideAddress, "990000"), "k6", 422, "insufficient_funds", "insufficient funds"},
		{"unknown account", body("nobody", outsideAddress, "10000"), "k7", 404, "unknown_account", "nobody"},
		{"internal account", body("internal:hot_wallet", outsideAddress, "10000"), "k8", 422, "internal_account", "customer accounts"},
		{"key replayed with another body", body("alice", outsideAddress, "20000"), "used", 422, "idempotency_key_reused", "different request"},
		{"no idempotency key", body("alice", outsideAddress, "10000"), "", 400, "missing_idempotency_key", "Idempotency-Key"},
		{"no address", `{"account":"alice","amount_sat":10000}`, "k9", 400, "invalid_request", "address"},
		{"zero amount", body("alice", outsideAddress, "0"), "k10", 400, "invalid_amount", ""},
		{"unknown field", `{"account":"alice","address":"` + outsideAddress + `","amount_sat":10000,"fee":1}`, "k11", 400, "invalid_json", "unknown field"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := f.withdrawalState(t)
			h := map[string]string{}
			if c.key != "" {
				h["Idempotency-Key"] = c.key
			}
			st, out, _ := f.do(t, call{method: "POST", path: "/v1/btc/withdrawals", body: c.body, headers: h})
			code, msg := errCode(out)
			if st != c.status || code != c.code || !strings.Contains(msg, c.says) {
				t.Fatalf("got %d %s %q; want %d %s containing %q", st, code, msg, c.status, c.code, c.says)
			}
			if after := f.withdrawalState(t); after != before {
				t.Fatalf("the database changed:\n before %s\n after  %s", before, after)
			}
		})
	}
	if err := f.ledger.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestWithdrawalAPIRequestReplayListCancel(t *testing.T) {
	f := newWithdrawalFixture(t)
	req := call{method: "POST", path: "/v1/btc/withdrawals", body: `{"account":"alice","address":"` + outsideAddress + `","amount":"0.001"}`,
		headers: map[string]string{"Idempotency-Key": "w-1"}}
	st, first, _ := f.do(t, req)
	if st != 201 || first["state"] != "requested" || first["amount_sat"] != "100000" || first["fee_sat"] != "100" || first["internal"] != false {
		t.Fatalf("request: %d %v", st, first)
	}
	st, again, h := f.do(t, req)
	if st != 201 || again["id"] != first["id"] || h.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %v %v", st, again, h)
	}
	st, acct, _ := f.do(t, call{method: "GET", path: "/v1/btc/accounts/alice"})
	if st != 200 || acct["available_sat"] != "899900" {
		t.Fatalf("after request: %d %v", st, acct)
	}
	id := fmt.Sprint(first["id"])
	for i := 2; i <= 3; i++ {
		if st, out, _ := f.do(t, call{method: "POST", path: "/v1/btc/withdrawals", body: `{"account":"alice","address":"` + outsideAddress + `","amount_sat":1000}`,
			headers: map[string]string{"Idempotency-Key": fmt.Sprint("w-", i)}}); st != 201 {
			t.Fatalf("request %d: %d %v", i, st, out)
		}
	}
	st, page, _ := f.do(t, call{method: "GET", path: "/v1/btc/withdrawals?limit=2"})
	ws, _ := page["withdrawals"].([]any)
	if st != 200 || len(ws) != 2 || page["next_after"] == nil {
		t.Fatalf("page 1: %d %v", st, page)
	}
	st, page, _ = f.do(t, call{method: "GET", path: fmt.Sprintf("/v1/btc/withdrawals?limit=2&after=%v", page["next_after"])})
	ws, _ = page["withdrawals"].([]any)
	if st != 200 || len(ws) != 1 || page["next_after"] != nil {
		t.Fatalf("page 2: %d %v", st, page)
	}
	st, got, _ := f.do(t, call{method: "GET", path: "/v1/btc/withdrawals/" + id})
	if st != 200 || got["address"] != outsideAddress {
		t.Fatalf("get: %d %v", st, got)
	}
	st, got, _ = f.do(t, call{method: "DELETE", path: "/v1/btc/withdrawals/" + id})
	if st != 200 || got["state"] != "cancelled" {
		t.Fatalf("cancel: %d %v", st, got)
	}
	st, acct, _ = f.do(t, call{method: "GET", path: "/v1/btc/accounts/alice"})
	if st != 200 || acct["available_sat"] != "997800" {
		t.Fatalf("after cancel: %d %v", st, acct)
	}
	for _, c := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/v1/btc/withdrawals/999", 404, "unknown_withdrawal"},
		{"GET", "/v1/btc/withdrawals/x", 400, "invalid_parameter"},
		{"DELETE", "/v1/btc/withdrawals/999", 404, "unknown_withdrawal"},
		{"GET", "/v1/tbtc/withdrawals", 404, "unknown_asset"},
	} {
		st, out, _ := f.do(t, call{method: c.method, path: c.path})
		if code, _ := errCode(out); st != c.status || code != c.code {
			t.Errorf("%s %s: %d %v", c.method, c.path, st, out)
		}
	}
	if err := f.ledger.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
}
