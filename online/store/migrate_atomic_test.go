package store

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/migrations"
)

// shippedPlus returns the shipped migrations with extra files added.
func shippedPlus(t *testing.T, extra map[string]string) fstest.MapFS {
	t.Helper()
	fsys := fstest.MapFS{}
	for _, dir := range []string{"global", "asset"} {
		ents, err := migrations.FS.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			b, err := migrations.FS.ReadFile(dir + "/" + e.Name())
			if err != nil {
				t.Fatal(err)
			}
			fsys[dir+"/"+e.Name()] = &fstest.MapFile{Data: b}
		}
	}
	for name, body := range extra {
		fsys[name] = &fstest.MapFile{Data: []byte(body)}
	}
	return fsys
}

// nextAsset is the file name of the asset migration after the shipped ones.
func nextAsset(t *testing.T, name string) string {
	t.Helper()
	ms, err := loadMigrations(migrations.FS, "asset")
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("asset/%04d_%s.sql", len(ms)+1, name)
}

// migrated returns a pool on a fresh database with the shipped migrations
// applied for btc and tbtc, and its snapshot.
func migrated(t *testing.T) (*pgxpool.Pool, string) {
	t.Helper()
	pool := testenv.NewPool(t, 4)
	ctx := testenv.Ctx(t, time.Minute)
	if _, err := newMigrator(t, pool).Migrate(ctx, []Asset{btc, {Schema: "tbtc", Network: "regtest"}}); err != nil {
		t.Fatal(err)
	}
	return pool, snapshot(t, pool)
}

// A COMMIT in a migration file would end the migrator's transaction: what
// came before it stays applied without its record, and what follows runs
// outside the asset schema. Such a file is refused before anything runs.
func TestMigrationWithCommitIsRefusedAndChangesNothing(t *testing.T) {
	pool, before := migrated(t)
	ctx := testenv.Ctx(t, time.Minute)
	file := nextAsset(t, "split")
	fsys := shippedPlus(t, map[string]string{file: "CREATE TABLE half_a (x int);\nCOMMIT;\nCREATE TABLE half_b (x int);\nSELECT 1/0;\n"})
	m, err := NewMigrator(pool, fsys)
	if err == nil {
		_, merr := m.Migrate(ctx, []Asset{btc, {Schema: "tbtc", Network: "regtest"}})
		t.Fatalf("a migration with COMMIT was accepted; Migrate: %v; the database changed from\n%s\nto\n%s", merr, before, snapshot(t, pool))
	}
	if !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "line 2: COMMIT") {
		t.Fatalf("error %q should name %s and line 2: COMMIT", err, file)
	}
	if after := snapshot(t, pool); after != before {
		t.Fatalf("refusing the file changed the database:\n%s\nvs\n%s", before, after)
	}
}

// A migration that fails after some of its statements ran leaves nothing of
// itself, in any schema, and no record; the assets stay even.
func TestMigrationFailingHalfwayLeavesNothing(t *testing.T) {
	pool, before := migrated(t)
	ctx := testenv.Ctx(t, time.Minute)
	file := nextAsset(t, "half")
	fsys := shippedPlus(t, map[string]string{file: `
CREATE TABLE half_a (x int);
ALTER TABLE chain_cursor ADD COLUMN half int;
CREATE FUNCTION half_f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$;
INSERT INTO half_a VALUES (1);
SELECT 1/0;
CREATE TABLE half_b (x int);
`})
	m, err := NewMigrator(pool, fsys)
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Migrate(ctx, []Asset{btc, {Schema: "tbtc", Network: "regtest"}})
	if err == nil || !strings.Contains(err.Error(), "division by zero") || !strings.Contains(err.Error(), "half") {
		t.Fatalf("want the migration's division by zero, naming it; got %v", err)
	}
	if after := snapshot(t, pool); after != before {
		t.Fatalf("a failed migration left something behind:\n%s\nvs\n%s", before, after)
	}
	var leftovers int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM information_schema.columns WHERE column_name = 'half')
		+ (SELECT count(*) FROM pg_proc WHERE proname = 'half_f')`).Scan(&leftovers); err != nil || leftovers != 0 {
		t.Fatalf("%d leftover columns or functions, %v", leftovers, err)
	}
	if err := CheckMigrated(ctx, pool, migrations.FS, []Asset{btc, {Schema: "tbtc", Network: "regtest"}}); err != nil {
		t.Fatalf("the shipped migrations should still be complete and even: %v", err)
	}
}

// Should a transaction-control statement get past the file check, the
// migrator sees its transaction was ended or replaced and records nothing.
func TestMigrationThatEscapesItsTransactionIsNotRecorded(t *testing.T) {
	for _, tt := range []struct {
		name, sql, want string
		gone            string // a table the migrator's rollback must have removed, if any
	}{
		{"COMMIT then BEGIN", "CREATE TABLE esc_a (x int); COMMIT; BEGIN; CREATE TABLE esc_b (x int);", "ended the migrator's transaction", "esc_b"},
		{"COMMIT", "CREATE TABLE esc_a (x int); COMMIT; CREATE TABLE esc_b (x int);", "ended the migrator's transaction", ""},
		{"search_path", "SET search_path TO public; CREATE TABLE esc_b (x int);", "search_path", "esc_b"},
		{"set_config", "SELECT set_config('search_path', 'public', true); CREATE TABLE esc_b (x int);", "search_path", "esc_b"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pool, _ := migrated(t)
			ctx := testenv.Ctx(t, time.Minute)
			m := newMigrator(t, pool)
			m.asset = append(m.asset, Migration{Version: len(m.asset) + 1, Name: "escape", SQL: tt.sql, Checksum: "test"})
			_, err := m.Migrate(ctx, []Asset{btc})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want an error containing %q, got %v", tt.want, err)
			}
			var recorded, gone int
			if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM public.schema_migrations WHERE name = 'escape'),
				(SELECT count(*) FROM information_schema.tables WHERE table_name = $1)`, tt.gone).Scan(&recorded, &gone); err != nil {
				t.Fatal(err)
			}
			if recorded != 0 || gone != 0 {
				t.Fatalf("recorded %d times; %q in %d schemas", recorded, tt.gone, gone)
			}
		})
	}
}
