package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cryptoassets/cryptoassets/internal/testenv"
)

// Open refuses a URL naming several hosts that would take any server,
// standby included, with an error naming the fix, and takes the same hosts
// with target_session_attrs=read-write or primary, or a single host.
func TestOpenMultiHostNeedsReadWrite(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tt := range []struct {
		name, dsn string
		refused   bool
	}{
		{"two hosts, any server", "postgres://u@127.0.0.1:1,127.0.0.1:2/db?connect_timeout=1", true},
		{"two hosts, explicitly any", "postgres://u@127.0.0.1:1,127.0.0.1:2/db?target_session_attrs=any&connect_timeout=1", true},
		{"keyword form, any server", "host=127.0.0.1,127.0.0.1 port=1,2 dbname=db connect_timeout=1", true},
		{"two hosts, read-write", "postgres://u@127.0.0.1:1,127.0.0.1:2/db?target_session_attrs=read-write&connect_timeout=1", false},
		{"two hosts, primary", "postgres://u@127.0.0.1:1,127.0.0.1:2/db?target_session_attrs=primary&connect_timeout=1", false},
		{"one host", "postgres://u@127.0.0.1:1/db?connect_timeout=1", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(ctx, tt.dsn, 1)
			if err == nil {
				t.Fatal("opened a pool on ports nobody listens on")
			}
			if got := errors.Is(err, ErrMultiHostAnySession); got != tt.refused {
				t.Fatalf("refused for the URL = %v, want %v (%v)", got, tt.refused, err)
			}
			if !tt.refused && (!IsUnavailable(err) || !strings.Contains(err.Error(), "127.0.0.1:1")) {
				t.Fatalf("a closed port: %v; want an unavailable error naming the hosts", err)
			}
		})
	}
}

// A pool on a primary and its synchronous standby: once the primary is
// killed every transaction fails with an error IsUnavailable knows, for as
// long as the standby is not promoted; after the promotion the same pool
// commits on the new primary, which holds every transaction committed
// before the kill.
func TestPoolFollowsThePromotedStandby(t *testing.T) {
	ctx := testenv.Ctx(t, 2*time.Minute)
	ha, dsn := testenv.NewHA(t)
	pool, err := Open(ctx, dsn, 8)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	r := NewRunner(pool, RunnerConfig{}, nil)
	if _, err := pool.Exec(ctx, "CREATE TABLE t (x int PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	const before = 200
	for i := range before {
		if err := r.InTx(ctx, "insert", func(tx *Tx) error {
			_, err := tx.Exec("INSERT INTO t VALUES ($1)", i)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := ha.Primary.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	insert := func(x int) error {
		return r.InTx(ctx, "insert", func(tx *Tx) error {
			_, err := tx.Exec("INSERT INTO t VALUES ($1)", x)
			return err
		})
	}
	// Each of the pool's connections to the dead primary fails once, then
	// every new one finds no server taking writes.
	for i := range 20 {
		err := insert(-1 - i)
		if err == nil {
			t.Fatal("a transaction committed with the primary dead and the standby not promoted")
		}
		if !IsUnavailable(err) {
			t.Fatalf("attempt %d with no primary: %v; want an unavailable error", i, err)
		}
		if i == 19 {
			t.Logf("with no primary: %v", err)
		}
	}
	if err := ha.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	if err := insert(before); err != nil {
		t.Fatalf("after the promotion the pool does not commit: %v", err)
	}
	var n, port int
	if err := pool.QueryRow(ctx, "SELECT count(*), inet_server_port() FROM t").Scan(&n, &port); err != nil {
		t.Fatal(err)
	}
	if n != before+1 || port != ha.Standby.Port {
		t.Fatalf("after the promotion: %d rows on port %d; want %d on the promoted standby's %d", n, port, before+1, ha.Standby.Port)
	}
}
