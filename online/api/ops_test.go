package api

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cryptoassets/cryptoassets/internal/storetest"
	"github.com/cryptoassets/cryptoassets/online/ledger"
)

// Every request is observed once, by the pattern of the route that
// answered it and its status; /healthz and /readyz need no token, and
// /metrics is served only when set.
func TestOpsEndpointsAndRequestObservation(t *testing.T) {
	runner := storetest.Runner(t, 4, "btc")
	l, err := ledger.New(runner, "btc")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	s := NewServer(runner, map[string]Asset{"btc": {Ledger: l}}, nil)
	s.SetOps(Ops{Observe: func(route string, code int, d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		seen[route+" "+http.StatusText(code)]++
	}})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	tests := []struct {
		method, path string
		want         int
		observed     string
	}{
		{"GET", "/healthz", 200, "GET /healthz OK"},
		{"GET", "/readyz", 200, "GET /readyz OK"},
		{"GET", "/metrics", 404, "/ Not Found"},
		{"GET", "/v1/btc/accounts", 401, "GET /v1/{asset}/accounts Unauthorized"},
		{"GET", "/v1/btc/accounts/%00", 400, "unmatched Bad Request"},
		{"POST", "/healthz", 404, "/ Not Found"},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Fatalf("%s %s: %d %s, want %d", tc.method, tc.path, resp.StatusCode, body, tc.want)
		}
		if tc.path == "/readyz" && !strings.Contains(string(body), `"name":"database","ok":true`) {
			t.Fatalf("/readyz without a Ready function: %s", body)
		}
	}
	want := map[string]int{}
	for _, tc := range tests {
		want[tc.observed]++
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != len(want) {
		t.Fatalf("observed %v, want %v", seen, want)
	}
	for k, n := range want {
		if seen[k] != n {
			t.Fatalf("observed %v, want %v", seen, want)
		}
	}

	ops := OpsHandler(Ops{Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "m 1\n") })})
	rec := httptest.NewRecorder()
	ops.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || rec.Body.String() != "m 1\n" {
		t.Fatalf("OpsHandler /metrics: %d %q", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	ops.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/btc/accounts", nil))
	if rec.Code != 404 {
		t.Fatalf("OpsHandler serves the API: %d", rec.Code)
	}
}
