package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// GlobalScope is the scope name of migrations applied to the public schema.
const GlobalScope = "global"

// migrationLockKey is the advisory lock every migrator takes, so two of them
// started at once apply each file exactly once, one after the other.
const migrationLockKey int64 = 0x63727970746f6d67 // "cryptomg"

// Migration is one embedded SQL file.
type Migration struct {
	Version  int
	Name     string
	SQL      string
	Checksum string // hex SHA-256 of the file
}

// Asset is an asset schema the migrator maintains.
type Asset struct {
	Schema  string // PostgreSQL schema name, e.g. "btc"
	Network string // mainnet, testnet, signet or regtest
}

var schemaName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// ValidateSchemaName checks that name can be used as an asset's schema.
func ValidateSchemaName(name string) error {
	if !schemaName.MatchString(name) {
		return fmt.Errorf("asset name %q: want a lower-case identifier of at most 32 letters, digits or '_' starting with a letter", name)
	}
	if strings.HasPrefix(name, "pg_") || name == "public" || name == "information_schema" || name == GlobalScope {
		return fmt.Errorf("asset name %q is reserved: choose another", name)
	}
	return nil
}

// Migrator applies the embedded migrations.
type Migrator struct {
	pool   *pgxpool.Pool
	global []Migration
	asset  []Migration
	// beforeApply, when set, runs before each migration is applied (tests).
	beforeApply func(scope string, m Migration)
}

// NewMigrator loads the migrations in fsys (global/*.sql and asset/*.sql).
func NewMigrator(pool *pgxpool.Pool, fsys fs.FS) (*Migrator, error) {
	global, err := loadMigrations(fsys, "global")
	if err != nil {
		return nil, err
	}
	asset, err := loadMigrations(fsys, "asset")
	if err != nil {
		return nil, err
	}
	return &Migrator{pool: pool, global: global, asset: asset}, nil
}

var migrationFile = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.sql$`)

func loadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("reading migrations %s/: %w", dir, err)
	}
	var ms []Migration
	for _, e := range entries {
		m := migrationFile.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %s/%s: want NNNN_name.sql", dir, e.Name())
		}
		body, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		if err := checkMigrationSQL(string(body)); err != nil {
			return nil, fmt.Errorf("migration file %s/%s %w", dir, e.Name(), err)
		}
		v, _ := strconv.Atoi(m[1])
		sum := sha256.Sum256(body)
		ms = append(ms, Migration{Version: v, Name: m[2], SQL: string(body), Checksum: hex.EncodeToString(sum[:])})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migrations %s/: versions must run 1, 2, 3... without gaps or repeats; found %04d at position %d", dir, m.Version, i+1)
		}
	}
	return ms, nil
}

// AppliedMigration is a row of public.schema_migrations.
type AppliedMigration struct {
	Scope     string
	Version   int
	Name      string
	Checksum  string
	AppliedAt time.Time
}

// ScopeStatus is the state of one scope: the global one or an asset schema.
type ScopeStatus struct {
	Scope      string
	Network    string // for asset scopes, as recorded or configured
	Configured bool   // false for an asset schema in the database but not in the configuration
	Applied    []AppliedMigration
	Pending    []Migration
}

const createLedgerTable = `CREATE TABLE IF NOT EXISTS public.schema_migrations (
    scope      text NOT NULL,
    version    integer NOT NULL CHECK (version > 0),
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, version)
)`

// Migrate applies every pending migration: the global ones, then each asset's.
// It first checks everything already applied and the configured networks, and
// refuses to change anything when a recorded checksum differs from the file,
// when the database holds a version this binary does not know, or when an
// asset's recorded network differs from its configuration. It returns what it
// applied.
func (m *Migrator) Migrate(ctx context.Context, assets []Asset) ([]AppliedMigration, error) {
	var applied []AppliedMigration
	err := m.locked(ctx, func(conn *pgx.Conn) error {
		plan, err := m.plan(ctx, conn, assets)
		if err != nil {
			return err
		}
		for _, st := range plan {
			for _, mig := range st.Pending {
				if m.beforeApply != nil {
					m.beforeApply(st.Scope, mig)
				}
				if err := m.apply(ctx, conn, st, mig); err != nil {
					return err
				}
				applied = append(applied, AppliedMigration{Scope: st.Scope, Version: mig.Version, Name: mig.Name, Checksum: mig.Checksum})
			}
		}
		return nil
	})
	return applied, err
}

// Status lists applied and pending migrations per scope without changing
// anything. It reports the same inconsistencies Migrate refuses.
func (m *Migrator) Status(ctx context.Context, assets []Asset) ([]ScopeStatus, error) {
	var out []ScopeStatus
	err := m.locked(ctx, func(conn *pgx.Conn) error {
		var err error
		out, err = m.plan(ctx, conn, assets)
		return err
	})
	return out, err
}

// locked runs fn on one connection holding the migration advisory lock.
func (m *Migrator) locked(ctx context.Context, fn func(*pgx.Conn) error) error {
	conn, err := m.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: connecting: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLockKey); err != nil {
		return fmt.Errorf("migrate: taking the migration lock: %w", err)
	}
	defer func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLockKey); err != nil {
			// The lock dies with the session; make sure the session dies.
			conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()
	if _, err := conn.Exec(ctx, createLedgerTable); err != nil {
		return fmt.Errorf("migrate: creating public.schema_migrations: %w", err)
	}
	return fn(conn.Conn())
}

// plan reads what is applied, checks it, and returns every scope's status.
func (m *Migrator) plan(ctx context.Context, conn *pgx.Conn, assets []Asset) ([]ScopeStatus, error) {
	configured := map[string]Asset{}
	for _, a := range assets {
		if err := ValidateSchemaName(a.Schema); err != nil {
			return nil, err
		}
		if _, dup := configured[a.Schema]; dup {
			return nil, fmt.Errorf("asset %q is configured twice", a.Schema)
		}
		configured[a.Schema] = a
	}
	rows, err := conn.Query(ctx, `SELECT scope, version, name, checksum, applied_at FROM public.schema_migrations ORDER BY scope, version`)
	if err != nil {
		return nil, fmt.Errorf("migrate: reading public.schema_migrations: %w", err)
	}
	appliedRows, err := pgx.CollectRows(rows, pgx.RowToStructByPos[AppliedMigration])
	if err != nil {
		return nil, fmt.Errorf("migrate: reading public.schema_migrations: %w", err)
	}
	byScope := map[string][]AppliedMigration{}
	for _, a := range appliedRows {
		byScope[a.Scope] = append(byScope[a.Scope], a)
	}
	// Every applied row, configured or not, must match a file of this binary.
	for scope, rows := range byScope {
		files := m.asset
		if scope == GlobalScope {
			files = m.global
		}
		for _, a := range rows {
			if a.Version > len(files) {
				return nil, fmt.Errorf("migrate: %s has migration %04d_%s applied, which this binary does not know (it knows up to %04d): the database was migrated by a newer release: upgrade this binary to that release or newer, never run an older one", scopeLabel(scope), a.Version, a.Name, len(files))
			}
			f := files[a.Version-1]
			if f.Checksum != a.Checksum {
				return nil, fmt.Errorf("migrate: %s migration %04d_%s was applied with checksum %s but the file now has %s: applied migrations must never change; restore the original file and add a new migration for the change", scopeLabel(scope), a.Version, a.Name, a.Checksum[:12], f.Checksum[:12])
			}
		}
	}
	networks := map[string]string{}
	if len(byScope[GlobalScope]) > 0 {
		rows, err := conn.Query(ctx, `SELECT schema_name, network FROM public.assets`)
		if err != nil {
			return nil, fmt.Errorf("migrate: reading public.assets: %w", err)
		}
		var name, network string
		if _, err := pgx.ForEachRow(rows, []any{&name, &network}, func() error {
			networks[name] = network
			return nil
		}); err != nil {
			return nil, fmt.Errorf("migrate: reading public.assets: %w", err)
		}
	}
	for _, a := range assets {
		if rec, ok := networks[a.Schema]; ok && rec != a.Network {
			return nil, fmt.Errorf("migrate: asset %q is recorded in the database as network %s but configured as %s: fix the configuration (a schema never changes network)", a.Schema, rec, a.Network)
		}
	}

	status := []ScopeStatus{{Scope: GlobalScope, Configured: true, Applied: byScope[GlobalScope], Pending: m.global[len(byScope[GlobalScope]):]}}
	var names []string
	for name := range configured {
		names = append(names, name)
	}
	for scope := range byScope {
		if _, ok := configured[scope]; !ok && scope != GlobalScope {
			names = append(names, scope)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		a, ok := configured[name]
		st := ScopeStatus{Scope: name, Network: a.Network, Configured: ok, Applied: byScope[name]}
		if !ok {
			st.Network = networks[name]
		} else {
			st.Pending = m.asset[len(st.Applied):]
		}
		status = append(status, st)
	}
	return status, nil
}

func scopeLabel(scope string) string {
	if scope == GlobalScope {
		return "the global schema"
	}
	return fmt.Sprintf("asset schema %q", scope)
}

// apply runs one migration and records it in the same transaction.
func (m *Migrator) apply(ctx context.Context, conn *pgx.Conn, st ScopeStatus, mig Migration) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	if st.Scope == GlobalScope {
		if _, err := tx.Exec(ctx, "SET LOCAL search_path TO public"); err != nil {
			return err
		}
	} else {
		ident := pgx.Identifier{st.Scope}.Sanitize()
		if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+ident); err != nil {
			return fmt.Errorf("migrate: creating schema %s: %w", ident, err)
		}
		if _, err := tx.Exec(ctx, "SET LOCAL search_path TO "+ident); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO public.assets (schema_name, network) VALUES ($1, $2) ON CONFLICT (schema_name) DO NOTHING`, st.Scope, st.Network); err != nil {
			return fmt.Errorf("migrate: recording asset %q: %w", st.Scope, err)
		}
	}
	// The file was checked for transaction control when it was loaded; the
	// transaction and the search_path are checked again after it ran, so a
	// file that ends the transaction or leaves the schema is never recorded.
	var xid, searchPath string
	if err := tx.QueryRow(ctx, "SELECT pg_current_xact_id()::text, current_setting('search_path')").Scan(&xid, &searchPath); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, mig.SQL); err != nil {
		return fmt.Errorf("migrate: %s migration %04d_%s failed: %w", scopeLabel(st.Scope), mig.Version, mig.Name, err)
	}
	var xidAfter, searchPathAfter string
	if conn.PgConn().TxStatus() == 'T' {
		if err := tx.QueryRow(ctx, "SELECT pg_current_xact_id()::text, current_setting('search_path')").Scan(&xidAfter, &searchPathAfter); err != nil {
			return err
		}
	}
	if xidAfter != xid {
		return fmt.Errorf("migrate: %s migration %04d_%s ended the migrator's transaction (a COMMIT or ROLLBACK in the file): "+
			"it is not recorded, but what ran before that statement may have been committed; compare the schema with the file and repair it by hand before migrating again",
			scopeLabel(st.Scope), mig.Version, mig.Name)
	}
	if searchPathAfter != searchPath {
		return fmt.Errorf("migrate: %s migration %04d_%s changed the search_path from %q to %q: a migration must create its objects in the schema the migrator chose; nothing of it was applied",
			scopeLabel(st.Scope), mig.Version, mig.Name, searchPath, searchPathAfter)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO public.schema_migrations (scope, version, name, checksum) VALUES ($1, $2, $3, $4)`,
		st.Scope, mig.Version, mig.Name, mig.Checksum); err != nil {
		return fmt.Errorf("migrate: recording %04d_%s: %w", mig.Version, mig.Name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrate: committing %s migration %04d_%s: %w", scopeLabel(st.Scope), mig.Version, mig.Name, err)
	}
	return nil
}

// CheckMigrated reports whether the database is ready for this binary to
// serve the given assets: every migration in fsys applied to the global
// schema and to each asset's, none the binary does not know, none changed,
// networks as configured. It changes nothing; each error names the fix.
func CheckMigrated(ctx context.Context, pool *pgxpool.Pool, fsys fs.FS, assets []Asset) error {
	m, err := NewMigrator(pool, fsys)
	if err != nil {
		return err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("database: %w", err)
	}
	defer conn.Release()
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('public.schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	if !exists {
		return errors.New("the database is not migrated (no public.schema_migrations): run `cryptoassets migrate` with this release, then start again")
	}
	plan, err := m.plan(ctx, conn.Conn(), assets)
	if err != nil {
		return fmt.Errorf("the database does not match this release: %w", err)
	}
	var behind []string
	for _, st := range plan {
		if n := len(st.Pending); n > 0 {
			behind = append(behind, fmt.Sprintf("%s has %d pending (%04d_%s to %04d_%s)", scopeLabel(st.Scope), n,
				st.Pending[0].Version, st.Pending[0].Name, st.Pending[n-1].Version, st.Pending[n-1].Name))
		}
	}
	if len(behind) > 0 {
		return fmt.Errorf("the database is not migrated for this release: %s: run `cryptoassets migrate` with this release, then start again", strings.Join(behind, "; "))
	}
	return nil
}
