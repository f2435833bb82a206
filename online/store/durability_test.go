package store

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/cryptoassets/cryptoassets/internal/testenv"
)

// The test cluster's server default is synchronous_commit=off, and the
// database and role below set it off too: the service's own connections
// still commit synchronously.
func TestOpenSessionsCommitSynchronously(t *testing.T) {
	dsn := testenv.NewDatabase(t)
	ctx := testenv.Ctx(t, time.Minute)
	admin, err := Open(ctx, dsn, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, `DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET synchronous_commit = off', current_database()); END $$`); err != nil {
		t.Fatal(err)
	}
	admin.Close()
	pool, err := Open(ctx, dsn, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	for i := 0; i < 4; i++ { // every connection of the pool, not just the first
		conn, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Release()
		var v string
		if err := conn.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&v); err != nil || v != "on" {
			t.Fatalf("connection %d: synchronous_commit=%q (%v), want on", i, v, err)
		}
	}
}

// The test cluster runs with fsync=off: a mainnet asset is refused, naming the
// setting; a regtest one is served with a warning.
func TestCheckDurabilityRefusesMainnetOnUnsafeServer(t *testing.T) {
	ctx := testenv.Ctx(t, time.Minute)
	pool, err := Open(ctx, testenv.NewDatabase(t), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	d, err := ReadDurability(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if d.Fsync != "off" {
		t.Fatalf("the test cluster should run with fsync=off for this test; it has %+v", d)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	err = CheckDurability(ctx, pool, []Asset{{Schema: "tbtc", Network: "regtest"}, {Schema: "btc", Network: "mainnet"}}, log)
	if err == nil || !strings.Contains(err.Error(), "fsync=off") || !strings.Contains(err.Error(), "btc is on mainnet") || !strings.Contains(err.Error(), "set fsync = on") {
		t.Fatalf("mainnet on fsync=off: %v", err)
	}
	if err := CheckDurability(ctx, pool, []Asset{{Schema: "tbtc", Network: "regtest"}}, log); err != nil {
		t.Fatalf("regtest on fsync=off refused: %v", err)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "NOT DURABLE") {
		t.Fatalf("no loud warning for regtest:\n%s", logs.String())
	}
}

func TestDurabilityRisks(t *testing.T) {
	durable := Durability{Fsync: "on", FullPageWrites: "on", SynchronousCommit: "on"}
	for _, tt := range []struct {
		name string
		edit func(*Durability)
		want string
	}{
		{"durable", func(*Durability) {}, ""},
		{"remote_apply is durable", func(d *Durability) { d.SynchronousCommit = "remote_apply" }, ""},
		{"local is durable", func(d *Durability) { d.SynchronousCommit = "local" }, ""},
		{"fsync off", func(d *Durability) { d.Fsync = "off" }, "fsync=off"},
		{"full_page_writes off", func(d *Durability) { d.FullPageWrites = "off" }, "full_page_writes=off"},
		{"synchronous_commit off", func(d *Durability) { d.SynchronousCommit = "off" }, "synchronous_commit=off"},
	} {
		d := durable
		tt.edit(&d)
		got := strings.Join(d.Risks(), "; ")
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("%s: risks %q, want %q", tt.name, got, tt.want)
		}
	}
}
