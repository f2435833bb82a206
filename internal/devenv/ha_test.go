package devenv

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// A pair started by StartPostgresHA streams synchronously: what the primary
// acknowledged is on the standby when the primary is killed. Until the
// standby is promoted the multi-host URL finds no server that takes
// writes; after, it reaches the promoted standby, which holds every row.
func TestHAStandbyPromotedKeepsEveryCommit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := filepath.Join(tempDir(t), "ha")
	ha, err := StartPostgresHA(ctx, dir, PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ha.Stop(context.Background()) })
	again, err := StartPostgresHA(ctx, dir, PostgresOptions{})
	if err != nil {
		t.Fatalf("starting a running pair again: %v", err)
	}
	if again.Primary.Port != ha.Primary.Port || again.Standby.Port != ha.Standby.Port {
		t.Fatalf("starting again moved the pair from %d,%d to %d,%d", ha.Primary.Port, ha.Standby.Port, again.Primary.Port, again.Standby.Port)
	}

	conn, err := pgx.Connect(ctx, ha.DSN())
	if err != nil {
		t.Fatal(err)
	}
	var port int
	var names string
	if err := conn.QueryRow(ctx, "SELECT inet_server_port(), current_setting('synchronous_standby_names')").Scan(&port, &names); err != nil {
		t.Fatal(err)
	}
	if port != ha.Primary.Port || names != standbyName {
		t.Fatalf("the multi-host URL reached port %d with synchronous_standby_names %q; want the primary %d and %q", port, names, ha.Primary.Port, standbyName)
	}
	const rows = 500
	if _, err := conn.Exec(ctx, "CREATE TABLE t (x int)"); err != nil {
		t.Fatal(err)
	}
	for i := range rows { // one commit each: each one waited for the standby
		if _, err := conn.Exec(ctx, "INSERT INTO t VALUES ($1)", i); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close(ctx)

	if err := ha.Primary.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = pgx.Connect(ctx, ha.DSN())
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("with the primary dead and the standby not promoted, connecting for writes gave %v; want a connect error", err)
	}
	if err := ha.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err = pgx.Connect(ctx, ha.DSN())
	if err != nil {
		t.Fatalf("after the promotion: %v", err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT inet_server_port(), (SELECT count(*) FROM t)").Scan(&port, &n); err != nil {
		t.Fatal(err)
	}
	if port != ha.Standby.Port || n != rows {
		t.Fatalf("after the promotion: port %d with %d rows; want the standby %d with %d", port, n, ha.Standby.Port, rows)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO t VALUES (-1)"); err != nil {
		t.Fatalf("the promoted standby refuses a write: %v", err)
	}

	if _, err := StartPostgresHA(ctx, dir, PostgresOptions{}); err == nil {
		t.Fatal("a pair whose standby was promoted started again, which would run two primaries")
	}
}
