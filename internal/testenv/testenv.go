package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
)

var (
	pgOnce    sync.Once
	pgCluster *devenv.Postgres
	pgTmp     string
	pgAdmin   string // DSN of a database to issue CREATE DATABASE from
	pgErr     error
)

// Main runs the tests and stops the servers they started.
func Main(m *testing.M) {
	code := m.Run()
	if pgCluster != nil {
		_ = pgCluster.Stop(context.Background())
		_ = os.RemoveAll(pgTmp)
	}
	os.Exit(code)
}

func server() (string, error) {
	pgOnce.Do(func() {
		if dsn := os.Getenv("DATABASE_URL"); dsn != "" {
			pgAdmin = dsn
			return
		}
		pgTmp, pgErr = os.MkdirTemp("", "cryptoassets-pg-")
		if pgErr != nil {
			return
		}
		pgCluster, pgErr = devenv.StartPostgres(context.Background(), filepath.Join(pgTmp, "data"))
		if pgErr == nil {
			pgAdmin = pgCluster.DSN()
		}
	})
	return pgAdmin, pgErr
}

// NewDatabase creates an empty database for this test, dropped when it ends,
// and returns its URL.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	admin, err := server()
	if err != nil {
		tb.Fatalf("PostgreSQL for tests: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		tb.Fatalf("connecting to %s: %v", admin, err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE template0"); err != nil {
		tb.Fatalf("creating database: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			tb.Errorf("dropping test database: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("dropping test database: %v", err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		tb.Fatalf("DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// NewPool opens a pool on a fresh database, closed when the test ends.
func NewPool(tb testing.TB, maxConns int32) *pgxpool.Pool {
	tb.Helper()
	cfg, err := pgxpool.ParseConfig(NewDatabase(tb))
	if err != nil {
		tb.Fatal(err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

// NewNode starts a btcd regtest node with segwit active, stopped when the
// test ends.
func NewNode(tb testing.TB, opt devenv.BtcdOptions) *devenv.Btcd {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "cryptoassets-btcd-")
	if err != nil {
		tb.Fatal(err)
	}
	node, err := devenv.StartBtcd(ctx, dir, opt)
	if err != nil {
		_ = os.RemoveAll(dir)
		tb.Fatalf("btcd for tests: %v", err)
	}
	tb.Cleanup(func() {
		if err := node.Stop(context.Background()); err != nil {
			tb.Errorf("stopping btcd: %v", err)
		}
		_ = os.RemoveAll(dir)
	})
	return node
}

// Ctx returns a context cancelled when the test ends or after timeout.
func Ctx(tb testing.TB, timeout time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	tb.Cleanup(cancel)
	return ctx
}

// Describe names the servers in use, for test logs.
func Describe() string {
	if pgCluster != nil {
		return fmt.Sprintf("PostgreSQL cluster in %s on port %d", pgCluster.Dir, pgCluster.Port)
	}
	return "PostgreSQL from DATABASE_URL"
}
