package devenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
)

// HA is a PostgreSQL primary with a streaming standby that confirms every
// commit before the primary acknowledges it (synchronous replication), so
// promoting the standby after the primary died loses nothing a client was
// told had committed.
type HA struct {
	Primary *Postgres
	Standby *Postgres
}

// standbyName is the standby's cluster_name, which its WAL receiver gives
// the primary as application_name, and what synchronous_standby_names
// waits for.
const standbyName = "standby"

// StartPostgresHA starts a primary in dir/primary and a standby in
// dir/standby cloned from it with pg_basebackup -R, then makes the
// standby synchronous (synchronous_standby_names on the primary) and waits
// until the primary reports it so. A pair already running there is reused.
// Settings apply to both servers.
func StartPostgresHA(ctx context.Context, dir string, opt PostgresOptions) (*HA, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	primary, err := StartPostgresWith(ctx, filepath.Join(dir, "primary"), opt)
	if err != nil {
		return nil, fmt.Errorf("primary: %w", err)
	}
	standbyDir := filepath.Join(dir, "standby")
	if _, err := os.Stat(filepath.Join(standbyDir, "PG_VERSION")); err != nil {
		if err := cloneStandby(ctx, primary, standbyDir); err != nil {
			return nil, err
		}
	} else if _, err := os.Stat(filepath.Join(standbyDir, "standby.signal")); err != nil {
		// Starting both would leave two primaries taking writes.
		_ = primary.Stop(ctx)
		return nil, fmt.Errorf("the standby in %s was promoted and is a primary now: the pair cannot be started again; remove %s to make a new one", standbyDir, dir)
	}
	sopt := opt
	sopt.Settings = append(append([]string(nil), opt.Settings...), "cluster_name="+standbyName)
	standby, err := StartPostgresWith(ctx, standbyDir, sopt)
	if err != nil {
		return nil, fmt.Errorf("standby: %w", err)
	}
	h := &HA{Primary: primary, Standby: standby}
	if err := h.makeSynchronous(ctx); err != nil {
		return nil, err
	}
	return h, nil
}

// cloneStandby copies the running primary into dir as a standby that
// streams from it through a replication slot of its own.
func cloneStandby(ctx context.Context, primary *Postgres, dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := prepareDir(dir); err != nil {
		return fmt.Errorf("preparing %s: %w", dir, err)
	}
	// A slot left by an earlier clone of this primary is dropped first:
	// pg_basebackup -C refuses an existing one.
	if conn, err := pgx.Connect(ctx, primary.DSN()); err == nil {
		_, _ = conn.Exec(ctx, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", standbyName)
		conn.Close(ctx)
	}
	basebackup, err := PostgresProgram("pg_basebackup")
	if err != nil {
		return err
	}
	out, err := pgCommand(ctx, basebackup,
		"-D", dir, "-h", "127.0.0.1", "-p", fmt.Sprint(primary.Port), "-U", "postgres",
		"-R", "-X", "stream", "-C", "-S", standbyName, "--no-sync").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_basebackup of the primary into %s: %v\n%s", dir, err, out)
	}
	// The copy carries the primary's log and port record, which are not the
	// standby's.
	for _, f := range []string{"server.log", "devenv.port"} {
		_ = os.Remove(filepath.Join(dir, f))
	}
	locks, _ := filepath.Glob(filepath.Join(dir, ".s.PGSQL.*"))
	for _, f := range locks {
		_ = os.Remove(f)
	}
	return nil
}

// makeSynchronous names the standby in the primary's
// synchronous_standby_names and waits until the primary streams to it
// synchronously. Until then a commit could be acknowledged that the
// standby never received.
func (h *HA) makeSynchronous(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, h.Primary.DSN())
	if err != nil {
		return fmt.Errorf("connecting to the primary: %w", err)
	}
	defer conn.Close(ctx)
	var current string
	if err := conn.QueryRow(ctx, "SHOW synchronous_standby_names").Scan(&current); err != nil {
		return err
	}
	if current != standbyName {
		if _, err := conn.Exec(ctx, "ALTER SYSTEM SET synchronous_standby_names = '"+standbyName+"'"); err != nil {
			return err
		}
		if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
			return err
		}
	}
	err = waitFor(ctx, 60*time.Second, func() error {
		var state string
		err := conn.QueryRow(ctx, "SELECT sync_state FROM pg_stat_replication WHERE application_name = $1", standbyName).Scan(&state)
		if errors.Is(err, pgx.ErrNoRows) {
			return errors.New("the standby is not streaming from the primary")
		}
		if err != nil {
			return err
		}
		if state != "sync" {
			return fmt.Errorf("the standby streams with sync_state %q, not sync", state)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%v\nstandby log:\n%s", err, tail(filepath.Join(h.Standby.Dir, "server.log"), 20))
	}
	return nil
}

// DSN is the multi-host URL of the pair's default database.
func (h *HA) DSN() string { return h.DSNFor("postgres") }

// DSNFor is the multi-host URL of database db on the pair: the client tries
// the primary, then the standby, and keeps only a server that accepts
// writes (target_session_attrs=read-write), so after a promotion it finds
// the new primary on its own.
func (h *HA) DSNFor(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d,127.0.0.1:%d/%s?sslmode=disable&target_session_attrs=read-write&connect_timeout=5",
		h.Primary.Port, h.Standby.Port, db)
}

// Promote makes the standby a primary (pg_ctl promote) and waits until it
// accepts writes.
func (h *HA) Promote(ctx context.Context) error {
	out, err := pgCommand(ctx, filepath.Join(h.Standby.bin, "pg_ctl"), "-D", h.Standby.Dir, "-w", "-t", "60", "promote").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl promote %s: %v\n%s", h.Standby.Dir, err, out)
	}
	return waitFor(ctx, 60*time.Second, func() error {
		conn, err := pgx.Connect(ctx, h.Standby.DSN())
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		var inRecovery bool
		if err := conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery); err != nil {
			return err
		}
		if inRecovery {
			return errors.New("the promoted standby is still in recovery")
		}
		return nil
	})
}

// Stop stops both servers.
func (h *HA) Stop(ctx context.Context) error {
	return errors.Join(h.Primary.Stop(ctx), h.Standby.Stop(ctx))
}

// StopPostgresHA stops a pair started in dir, whichever of it still runs.
func StopPostgresHA(ctx context.Context, dir string) error {
	return errors.Join(StopPostgres(ctx, filepath.Join(dir, "primary")), StopPostgres(ctx, filepath.Join(dir, "standby")))
}

// IsHA reports whether dir holds a pair made by StartPostgresHA.
func IsHA(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "standby", "PG_VERSION"))
	return err == nil
}
