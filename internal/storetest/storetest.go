// Package storetest gives tests a fresh, fully migrated database and a
// Runner over it. (It lives apart from testenv because online/store's own
// tests use testenv.)
package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/migrations"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// Runner migrates a fresh database for the given assets (regtest) and
// returns a Runner over a pool of maxConns connections.
func Runner(tb testing.TB, maxConns int32, assets ...string) *store.Runner {
	tb.Helper()
	return RunnerOn(tb, testenv.NewDatabase(tb), maxConns, assets...)
}

// RunnerOn is Runner on the database at dsn.
func RunnerOn(tb testing.TB, dsn string, maxConns int32, assets ...string) *store.Runner {
	tb.Helper()
	// The service's own pool settings (durable commits), as serve has them.
	pool, err := store.Open(context.Background(), dsn, maxConns)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	m, err := store.NewMigrator(pool, migrations.FS)
	if err != nil {
		tb.Fatal(err)
	}
	var as []store.Asset
	for _, a := range assets {
		as = append(as, store.Asset{Schema: a, Network: "regtest"})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := m.Migrate(ctx, as); err != nil {
		tb.Fatal(err)
	}
	return store.NewRunner(pool, store.RunnerConfig{MaxAttempts: 100, BaseDelay: time.Millisecond, MaxDelay: 50 * time.Millisecond}, nil)
}
