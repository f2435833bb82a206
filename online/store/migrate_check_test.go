package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/migrations"
)

// TestCheckMigratedRefusesToServe: the check serve runs at start refuses a
// database whose migrations are pending, newer than the binary or uneven
// across the configured assets, naming the fix, and changes nothing.
func TestCheckMigratedRefusesToServe(t *testing.T) {
	tbtc := Asset{Schema: "tbtc", Network: "regtest"}
	both := []Asset{btc, tbtc}
	migrate := func(assets ...Asset) func(t *testing.T, pool *pgxpool.Pool) {
		return func(t *testing.T, pool *pgxpool.Pool) {
			if _, err := newMigrator(t, pool).Migrate(context.Background(), assets); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tt := range []struct {
		name    string
		prepare func(t *testing.T, pool *pgxpool.Pool)
		assets  []Asset
		want    []string // parts of the error; none for a database ready to serve
	}{
		{"empty database", nil, both, []string{"not migrated", "run `cryptoassets migrate`"}},
		{"global only", migrate(), both, []string{`asset schema "btc"`, `asset schema "tbtc"`, "pending", "run `cryptoassets migrate`"}},
		{"uneven: tbtc added to the configuration", migrate(btc), both, []string{`asset schema "tbtc"`, "pending", "run `cryptoassets migrate`"}},
		{"uneven: one asset behind", func(t *testing.T, pool *pgxpool.Pool) {
			migrate(btc, tbtc)(t, pool)
			if _, err := pool.Exec(context.Background(), `DELETE FROM public.schema_migrations WHERE scope = 'tbtc' AND version = (SELECT max(version) FROM public.schema_migrations WHERE scope = 'tbtc')`); err != nil {
				t.Fatal(err)
			}
		}, both, []string{`asset schema "tbtc"`, "1 pending", "run `cryptoassets migrate`"}},
		{"newer than the binary", func(t *testing.T, pool *pgxpool.Pool) {
			m, err := NewMigrator(pool, shippedPlus(t, map[string]string{nextAsset(t, "future"): "CREATE TABLE future (x int);"}))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := m.Migrate(context.Background(), both); err != nil {
				t.Fatal(err)
			}
		}, both, []string{"newer release", "upgrade"}},
		{"network changed", migrate(btc, tbtc), []Asset{btc, {Schema: "tbtc", Network: "testnet"}}, []string{"recorded in the database as network regtest"}},
		{"ready", migrate(btc, tbtc), both, nil},
		{"ready, with an asset no longer configured", migrate(btc, tbtc), []Asset{btc}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pool := testenv.NewPool(t, 4)
			ctx := testenv.Ctx(t, time.Minute)
			if tt.prepare != nil {
				tt.prepare(t, pool)
			}
			before := catalog(t, pool)
			err := CheckMigrated(ctx, pool, migrations.FS, tt.assets)
			if len(tt.want) == 0 && err != nil {
				t.Fatalf("refused a database ready to serve: %v", err)
			}
			if len(tt.want) > 0 && err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if after := catalog(t, pool); after != before {
				t.Fatalf("the check changed the database:\n%s\nvs\n%s", before, after)
			}
		})
	}
}

// catalog is snapshot for a database that may have no schema_migrations.
func catalog(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var exists bool
	if err := pool.QueryRow(context.Background(), `SELECT to_regclass('public.schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if !exists {
		var n int
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT LIKE 'pg_%' AND n.nspname <> 'information_schema'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("no schema_migrations; %d relations", n)
	}
	return snapshot(t, pool)
}
