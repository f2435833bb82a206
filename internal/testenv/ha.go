package testenv

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
)

// HADatabase is the database NewHA creates on its pair.
const HADatabase = "cryptoassets"

// NewHA starts a PostgreSQL primary with a synchronous streaming standby of
// this test's own (a failover test kills and promotes them, which the
// shared cluster must never see), creates HADatabase on it and returns the
// pair and the database's multi-host read-write URL. Both servers are
// stopped and removed when the test ends.
func NewHA(tb testing.TB) (*devenv.HA, string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Not tb.TempDir: its 0700 parent would keep the postgres user out.
	dir, err := os.MkdirTemp("", "cryptoassets-ha-")
	if err != nil {
		tb.Fatal(err)
	}
	ha, err := devenv.StartPostgresHA(ctx, filepath.Join(dir, "pg"), devenv.PostgresOptions{})
	if err != nil {
		_ = devenv.StopPostgresHA(context.Background(), filepath.Join(dir, "pg"))
		_ = os.RemoveAll(dir)
		tb.Fatalf("PostgreSQL primary and standby for tests: %v", err)
	}
	tb.Cleanup(func() {
		_ = ha.Stop(context.Background())
		_ = os.RemoveAll(dir)
	})
	conn, err := pgx.Connect(ctx, ha.DSN())
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+HADatabase+" TEMPLATE template0"); err != nil {
		tb.Fatalf("creating the database on the primary: %v", err)
	}
	// The standby confirmed the commit but replays it a moment later; a
	// client that meets it before then must be told it is a standby, not
	// that the database is missing.
	deadline := time.Now().Add(time.Minute)
	for {
		c, err := pgx.Connect(ctx, ha.Standby.DSNFor(HADatabase))
		if err == nil {
			c.Close(ctx)
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the standby did not replay the database's creation: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return ha, ha.DSNFor(HADatabase)
}
