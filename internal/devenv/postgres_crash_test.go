package devenv

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// A cluster whose postmaster was killed comes back on the same port with
// every commit it acknowledged, and runs with synchronous_commit=on.
func TestPostgresComesBackOnItsPortAfterKill(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := filepath.Join(tempDir(t), "pg")
	pg, err := StartPostgres(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Stop(context.Background()) })
	conn, err := pgx.Connect(ctx, pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	var sc string
	if err := conn.QueryRow(ctx, "SHOW synchronous_commit").Scan(&sc); err != nil || sc != "on" {
		t.Fatalf("server default synchronous_commit=%q (%v), want on", sc, err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE t (x int); INSERT INTO t SELECT generate_series(1, 1000)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if err := pg.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	again, err := StartPostgres(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if again.Port != pg.Port {
		t.Fatalf("restarted on port %d, was %d", again.Port, pg.Port)
	}
	conn, err = pgx.Connect(ctx, again.DSN())
	if err != nil {
		t.Fatalf("%v\n%s", err, tail(filepath.Join(dir, "server.log"), 30))
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 1000 {
		t.Fatalf("after the crash: %d rows, %v", n, err)
	}
}
