package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestIsUnavailable(t *testing.T) {
	// A real refused connection: a port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, refused := Open(ctx, fmt.Sprintf("postgres://u@127.0.0.1:%d/db?connect_timeout=5", port), 1)
	if refused == nil {
		t.Fatal("connecting to a closed port succeeded")
	}
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", refused, true},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"crash shutdown", &pgconn.PgError{Code: "57P02"}, true},
		{"starting up", fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: "57P03"}), true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"read-only server", &pgconn.PgError{Code: "25006"}, true},
		{"conn closed", fmt.Errorf("commit: %w", pgconn.ErrConnClosed), true},
		{"serialization failure", &pgconn.PgError{Code: "40001"}, false},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"check violation", &pgconn.PgError{Code: "23514"}, false},
		{"plain error", errors.New("insufficient funds"), false},
		{"no SQLSTATE", &pgconn.PgError{}, false},
		{"nil", nil, false},
	} {
		if got := IsUnavailable(tt.err); got != tt.want {
			t.Errorf("%s (%v): IsUnavailable = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}
