package events

import (
	"context"
	"io/fs"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/migrations"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// A database with events numbered the old way (ids from a sequence at
// insert, with gaps) keeps them as published under their ids; events
// emitted after the upgrade are numbered above them.
func TestUpgradeKeepsEventsNumberedAtInsert(t *testing.T) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testenv.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	migrateUpTo := func(globalVersion string) {
		t.Helper()
		sub := fstest.MapFS{}
		err := fs.WalkDir(migrations.FS, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || (len(p) > 7 && p[:7] == "global/" && p[7:11] > globalVersion) {
				return err
			}
			b, err := fs.ReadFile(migrations.FS, p)
			sub[p] = &fstest.MapFile{Data: b}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		m, err := store.NewMigrator(pool, sub)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Migrate(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	migrateUpTo("0003")
	// Ids 1, 2 and 5 as 0003's emitter gave them (3 and 4 were rolled back).
	for _, id := range []int{1, 2, 5} {
		if _, err := pool.Exec(ctx, `SELECT setval('public.events_id_seq', $1, false)`, id); err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `INSERT INTO public.events (id, xid, asset, type, payload)
			VALUES (nextval('public.events_id_seq'), pg_current_xact_id(), 'btc', 'deposit.seen', '{}')`); err != nil {
			t.Fatal(err)
		}
	}
	migrateUpTo("9999")
	r := store.NewRunner(pool, store.RunnerConfig{}, nil)
	if err := r.InTx(ctx, "emit", func(tx *store.Tx) error {
		_, err := Emit(tx, "btc", DepositCredited, map[string]any{"after": "upgrade"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	evs, err := List(ctx, pool, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, e := range evs {
		ids = append(ids, e.ID)
	}
	if len(ids) != 4 || ids[0] != 1 || ids[1] != 2 || ids[2] != 5 || ids[3] != 6 || evs[3].Type != DepositCredited {
		t.Fatalf("after the upgrade: ids %v", ids)
	}
}
