package api

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"

	"github.com/cryptoassets/cryptoassets/online/withdrawals"
)

// Approvals through the API: only operator tokens decide (403 for an
// application token), never on their own requests, two of them where two
// are required; the limits answer 422 with a code per rule, and the breach
// of the hourly outflow pauses every later request.
func TestApprovalsNeedOperatorTokensAndLimitsAnswer422(t *testing.T) {
	f := newFixture(t)
	svc, err := withdrawals.New(f.ledger, withdrawals.Config{Params: &chaincfg.RegressionNetParams,
		Limits:   withdrawals.Limits{MaxWithdrawalSat: 500_000, HotOutflowPerHourSat: 800_000},
		Approval: withdrawals.Approval{AboveSat: 100_000, Required: 2}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewServer(f.runner, map[string]Asset{"btc": {Ledger: f.ledger, Withdrawals: svc}}, nil).Handler())
	t.Cleanup(srv.Close)
	f.srv = srv
	tokens := NewTokens(f.runner)
	op := func(name string) string {
		_, secret, err := tokens.CreateScoped(context.Background(), name, ScopeOperator)
		if err != nil {
			t.Fatal(err)
		}
		return secret
	}
	app, op1, op2 := f.token, op("op1"), op("op2")
	listed, err := tokens.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	scopes := map[string]string{}
	for _, k := range listed {
		scopes[k.Name] = k.Scope
	}
	if scopes["op1"] != ScopeOperator || scopes["op2"] != ScopeOperator || len(listed) != 3 {
		t.Fatalf("tokens as listed: %+v", listed)
	}
	for name, scope := range scopes {
		if name != "op1" && name != "op2" && scope != ScopeApplication {
			t.Fatalf("token %s listed with scope %q, want %s", name, scope, ScopeApplication)
		}
	}
	n := 0
	do := func(token, method, path, body string) (int, map[string]any) {
		t.Helper()
		f.token = token
		n++
		st, out, _ := f.do(t, call{method: method, path: path, body: body, headers: map[string]string{"Idempotency-Key": fmt.Sprint("k", n)}})
		return st, out
	}
	request := func(token string, sat int) (int, map[string]any) {
		t.Helper()
		return do(token, "POST", "/v1/btc/withdrawals", fmt.Sprintf(`{"account":"alice","address":%q,"amount_sat":%d}`, outsideAddress, sat))
	}
	expect := func(st int, out map[string]any, status int, code string) {
		t.Helper()
		if c, msg := errCode(out); st != status || c != code {
			t.Fatalf("got %d %s (%s), want %d %s", st, c, msg, status, code)
		}
	}
	st, w1 := request(app, 200_000)
	if st != 201 || w1["state"] != "awaiting_approval" {
		t.Fatalf("request above the threshold: %d %v", st, w1)
	}
	path1 := fmt.Sprintf("/v1/btc/withdrawals/%v", w1["id"])
	st, out := do(app, "POST", path1+"/approve", "")
	expect(st, out, 403, "operator_token_required")
	st, w2 := request(op1, 150_000)
	if st != 201 {
		t.Fatalf("operator's own request: %d %v", st, w2)
	}
	path2 := fmt.Sprintf("/v1/btc/withdrawals/%v", w2["id"])
	st, out = do(op1, "POST", path2+"/approve", "")
	expect(st, out, 403, "own_request")
	if st, out = do(op1, "POST", path1+"/approve", ""); st != 200 || out["state"] != "awaiting_approval" || out["approvals"] != 1.0 {
		t.Fatalf("first approval: %d %v", st, out)
	}
	if st, out = do(op2, "POST", path1+"/approve", ""); st != 200 || out["state"] != "requested" || out["approvals"] != 2.0 {
		t.Fatalf("second approval: %d %v", st, out)
	}
	if st, out = do(op2, "POST", path2+"/reject", ""); st != 200 || out["state"] != "rejected" {
		t.Fatalf("reject: %d %v", st, out)
	}
	st, out = do(op2, "POST", path2+"/approve", "")
	expect(st, out, 409, "already_decided")

	st, out = request(app, 500_001)
	expect(st, out, 422, "limit_max_withdrawal")
	if st, out = request(app, 500_000); st != 201 { // 700,000 of 800,000 this hour
		t.Fatalf("at the per-withdrawal limit: %d %v", st, out)
	}
	st, out = request(app, 100_001)
	expect(st, out, 422, "limit_hot_outflow")
	st, out = request(app, 1_000)
	expect(st, out, 422, "withdrawals_paused")
}
