package store

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/migrations"
)

var btc = Asset{Schema: "btc", Network: "regtest"}

func newMigrator(t *testing.T, pool *pgxpool.Pool) *Migrator {
	t.Helper()
	m, err := NewMigrator(pool, migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// snapshot describes everything migrations may touch, to prove a refusal
// changed nothing.
func snapshot(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
		SELECT table_schema || '.' || table_name FROM information_schema.tables
		WHERE table_schema NOT IN ('pg_catalog', 'information_schema')
		UNION ALL
		SELECT 'migration ' || scope || ' ' || version || ' ' || checksum FROM public.schema_migrations
		UNION ALL
		SELECT 'schema ' || nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg_%' AND nspname <> 'information_schema'
		ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		b.WriteString(s + "\n")
	}
	return b.String()
}

func TestMigrateFreshThenNoOp(t *testing.T) {
	pool := testenv.NewPool(t, 4)
	ctx := testenv.Ctx(t, time.Minute)
	m := newMigrator(t, pool)
	applied, err := m.Migrate(ctx, []Asset{btc})
	if err != nil {
		t.Fatal(err)
	}
	if want := len(m.global) + len(m.asset); len(applied) != want {
		t.Fatalf("applied %d migrations, want %d", len(applied), want)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM btc.chain_cursor`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("btc.chain_cursor: %d rows, %v", n, err)
	}
	var network string
	if err := pool.QueryRow(ctx, `SELECT network FROM public.assets WHERE schema_name = 'btc'`).Scan(&network); err != nil || network != "regtest" {
		t.Fatalf("asset registry: %q, %v", network, err)
	}
	before := snapshot(t, pool)
	again, err := m.Migrate(ctx, []Asset{btc})
	if err != nil || len(again) != 0 {
		t.Fatalf("re-apply: %v, applied %v", err, again)
	}
	if after := snapshot(t, pool); after != before {
		t.Fatalf("re-apply changed the database:\n%s\nvs\n%s", before, after)
	}
	st, err := m.Status(ctx, []Asset{btc})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if len(s.Pending) != 0 || len(s.Applied) == 0 {
			t.Fatalf("status %s: %d applied, %d pending", s.Scope, len(s.Applied), len(s.Pending))
		}
	}
}

func TestMigrateAddsSecondAssetSchema(t *testing.T) {
	pool := testenv.NewPool(t, 4)
	ctx := testenv.Ctx(t, time.Minute)
	m := newMigrator(t, pool)
	if _, err := m.Migrate(ctx, []Asset{btc}); err != nil {
		t.Fatal(err)
	}
	tbtc := Asset{Schema: "tbtc", Network: "testnet"}
	st, err := m.Status(ctx, []Asset{btc, tbtc})
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 3 || st[2].Scope != "tbtc" || len(st[2].Pending) != len(m.asset) {
		t.Fatalf("status before adding tbtc: %+v", st)
	}
	applied, err := m.Migrate(ctx, []Asset{btc, tbtc})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range applied {
		if a.Scope != "tbtc" {
			t.Fatalf("adding tbtc re-applied %s %d", a.Scope, a.Version)
		}
	}
	if len(applied) != len(m.asset) {
		t.Fatalf("applied %d to tbtc, want %d", len(applied), len(m.asset))
	}
	// The two assets have separate tables.
	if _, err := pool.Exec(ctx, `UPDATE tbtc.chain_cursor SET height = 7`); err != nil {
		t.Fatal(err)
	}
	var h *int
	if err := pool.QueryRow(ctx, `SELECT height FROM btc.chain_cursor`).Scan(&h); err != nil || h != nil {
		t.Fatalf("btc cursor changed with tbtc's: %v %v", h, err)
	}
	// An asset dropped from the configuration is still reported.
	st, err = m.Status(ctx, []Asset{btc})
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 3 || st[2].Scope != "tbtc" || st[2].Configured || st[2].Network != "testnet" {
		t.Fatalf("status without tbtc configured: %+v", st[2])
	}
}

func TestMigrateRefusals(t *testing.T) {
	tampered := fstest.MapFS{}
	for _, dir := range []string{"global", "asset"} {
		ents, _ := migrations.FS.ReadDir(dir)
		for _, e := range ents {
			b, _ := migrations.FS.ReadFile(dir + "/" + e.Name())
			tampered[dir+"/"+e.Name()] = &fstest.MapFile{Data: b}
		}
	}
	tampered["asset/0001_chain.sql"] = &fstest.MapFile{Data: append([]byte("-- edited after release\n"), tampered["asset/0001_chain.sql"].Data...)}

	tests := []struct {
		name    string
		prepare func(t *testing.T, pool *pgxpool.Pool)
		fsys    fstest.MapFS
		assets  []Asset
		want    string
	}{
		{
			name: "tampered checksum",
			fsys: tampered,
			// A second asset is pending too: it must not be created.
			assets: []Asset{btc, {Schema: "tbtc", Network: "testnet"}},
			want:   "was applied with checksum",
		},
		{
			name: "unknown newer version",
			prepare: func(t *testing.T, pool *pgxpool.Pool) {
				if _, err := pool.Exec(context.Background(), `INSERT INTO public.schema_migrations (scope, version, name, checksum) VALUES ('global', 99, 'from_the_future', 'x')`); err != nil {
					t.Fatal(err)
				}
			},
			assets: []Asset{btc, {Schema: "tbtc", Network: "testnet"}},
			want:   "which this binary does not know",
		},
		{
			name:   "network changed",
			assets: []Asset{{Schema: "btc", Network: "mainnet"}},
			want:   "recorded in the database as network regtest but configured as mainnet",
		},
		{
			name:   "bad schema name",
			assets: []Asset{btc, {Schema: "Robert'); DROP TABLE", Network: "regtest"}},
			want:   "want a lower-case identifier",
		},
		{
			name:   "reserved schema name",
			assets: []Asset{{Schema: "public", Network: "regtest"}},
			want:   "reserved",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pool := testenv.NewPool(t, 4)
			ctx := testenv.Ctx(t, time.Minute)
			if _, err := newMigrator(t, pool).Migrate(ctx, []Asset{btc}); err != nil {
				t.Fatal(err)
			}
			if tc.prepare != nil {
				tc.prepare(t, pool)
			}
			before := snapshot(t, pool)
			m := newMigrator(t, pool)
			if tc.fsys != nil {
				var err error
				if m, err = NewMigrator(pool, tc.fsys); err != nil {
					t.Fatal(err)
				}
			}
			_, err := m.Migrate(ctx, tc.assets)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error containing %q, got %v", tc.want, err)
			}
			if _, serr := m.Status(ctx, tc.assets); serr == nil || serr.Error() != err.Error() {
				t.Fatalf("status should report the same problem: %v", serr)
			}
			if after := snapshot(t, pool); after != before {
				t.Fatalf("a refused migration changed the database:\n%s\nvs\n%s", before, after)
			}
		})
	}
}

func TestMigrateFileNames(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"bad name", map[string]string{"global/1_x.sql": "", "asset/0001_a.sql": ""}, "want NNNN_name.sql"},
		{"gap", map[string]string{"global/0001_a.sql": "", "global/0003_c.sql": "", "asset/0001_a.sql": ""}, "without gaps"},
		{"missing dir", map[string]string{"global/0001_a.sql": ""}, "reading migrations asset/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for name, body := range tc.files {
				fsys[name] = &fstest.MapFile{Data: []byte(body)}
			}
			_, err := NewMigrator(nil, fsys)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want %q, got %v", tc.want, err)
			}
		})
	}
}

// Two migrators started at once: the second waits on the advisory lock while
// the first applies, then finds nothing left to do.
func TestConcurrentMigratorsSerialize(t *testing.T) {
	pool := testenv.NewPool(t, 8)
	ctx := testenv.Ctx(t, time.Minute)
	first := newMigrator(t, pool)
	second := newMigrator(t, pool)
	inside := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	first.beforeApply = func(string, Migration) {
		once.Do(func() { close(inside); <-release })
	}
	var wg sync.WaitGroup
	var firstApplied, secondApplied []AppliedMigration
	var firstErr, secondErr error
	wg.Add(1)
	go func() { defer wg.Done(); firstApplied, firstErr = first.Migrate(ctx, []Asset{btc}) }()
	<-inside
	wg.Add(1)
	go func() { defer wg.Done(); secondApplied, secondErr = second.Migrate(ctx, []Asset{btc}) }()

	// Wait until the second migrator is blocked on the lock.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var waiting int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second migrator never waited on the migration lock")
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	wg.Wait()
	if firstErr != nil || secondErr != nil {
		t.Fatalf("errors: %v, %v", firstErr, secondErr)
	}
	if len(firstApplied) != len(first.global)+len(first.asset) || len(secondApplied) != 0 {
		t.Fatalf("first applied %d, second %d: each migration must be applied exactly once", len(firstApplied), len(secondApplied))
	}
	var rows int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM public.schema_migrations`).Scan(&rows); err != nil || rows != len(firstApplied) {
		t.Fatalf("%d recorded migrations, %v", rows, err)
	}
}
