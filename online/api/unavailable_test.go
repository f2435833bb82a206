package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// Every way the database can be away (a refused connection through a
// multi-host URL, a primary dying mid-statement, a standby refusing the
// write while it is promoted) answers 503 database_unavailable with
// Retry-After, so a client retries with its Idempotency-Key; a conflict the
// runner gave up on answers 503 busy, and a refusal of the request itself
// answers without Retry-After.
func TestUnavailableDatabaseAnswers503WithRetryAfter(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, refused := store.Open(ctx, fmt.Sprintf("postgres://u@127.0.0.1:%d,127.0.0.1:%d/db?target_session_attrs=read-write&connect_timeout=5", port, port), 1)
	if refused == nil {
		t.Fatal("connecting to a closed port succeeded")
	}
	s := NewServer(nil, nil, nil)
	for _, tt := range []struct {
		name       string
		err        error
		status     int
		code       string
		retryAfter bool
	}{
		{"no host of a multi-host URL answers", refused, http.StatusServiceUnavailable, "database_unavailable", true},
		{"the primary died mid-statement", fmt.Errorf("transfer: %w", &pgconn.PgError{Code: "57P01"}), http.StatusServiceUnavailable, "database_unavailable", true},
		{"the connection was closed at commit", fmt.Errorf("commit: %w", pgconn.ErrConnClosed), http.StatusServiceUnavailable, "database_unavailable", true},
		{"a standby refuses the write", &pgconn.PgError{Code: "25006"}, http.StatusServiceUnavailable, "database_unavailable", true},
		{"conflicts unresolved", fmt.Errorf("api-transfer: %w", store.ErrConflictUnresolved), http.StatusServiceUnavailable, "busy", true},
		{"insufficient funds", ledger.ErrInsufficientFunds, http.StatusUnprocessableEntity, "insufficient_funds", false},
		{"unexpected", errors.New("boom"), http.StatusInternalServerError, "internal", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			s.fail(w, httptest.NewRequest(http.MethodPost, "/v1/btc/transfers", nil), tt.err)
			var body errorBody
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if w.Code != tt.status || body.Error.Code != tt.code || (w.Header().Get("Retry-After") != "") != tt.retryAfter {
				t.Fatalf("%v: %d %s Retry-After %q; want %d %s, Retry-After %v", tt.err, w.Code, body.Error.Code, w.Header().Get("Retry-After"), tt.status, tt.code, tt.retryAfter)
			}
		})
	}
}
