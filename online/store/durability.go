package store

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Durability is what the server and this service's own sessions say about
// keeping a commit once it was acknowledged.
type Durability struct {
	Fsync                   string // server: "on", or "off" (the OS may lose or reorder what was written)
	FullPageWrites          string // server: "off" lets a crash mid-write tear a page
	SynchronousCommit       string // this session's; Open sets "on"
	SynchronousStandbyNames string // server: empty when no standby must confirm
}

// ReadDurability reads the settings on one of pool's connections.
func ReadDurability(ctx context.Context, pool *pgxpool.Pool) (Durability, error) {
	var d Durability
	err := pool.QueryRow(ctx, `SELECT current_setting('fsync'), current_setting('full_page_writes'),
		current_setting('synchronous_commit'), current_setting('synchronous_standby_names')`).
		Scan(&d.Fsync, &d.FullPageWrites, &d.SynchronousCommit, &d.SynchronousStandbyNames)
	if err != nil {
		return d, fmt.Errorf("reading the server's durability settings: %w", err)
	}
	return d, nil
}

// Risks lists how the server could lose a commit it has acknowledged, with
// the setting that fixes each; none for a durable server.
func (d Durability) Risks() []string {
	var out []string
	if d.Fsync != "on" {
		out = append(out, "fsync="+d.Fsync+" (an operating-system crash or power loss can lose or corrupt acknowledged commits): set fsync = on")
	}
	if d.FullPageWrites != "on" {
		out = append(out, "full_page_writes="+d.FullPageWrites+" (a crash during a page write can corrupt the database): set full_page_writes = on")
	}
	if d.SynchronousCommit == "off" {
		out = append(out, "synchronous_commit=off on the service's own sessions (a server crash loses the last commits it acknowledged): check that nothing between the service and PostgreSQL drops the synchronous_commit startup parameter")
	}
	return out
}

// CheckDurability refuses to serve a mainnet asset on a server that could
// lose acknowledged commits, with no override, and warns loudly for the
// other networks, where a development server may trade safety for speed.
func CheckDurability(ctx context.Context, pool *pgxpool.Pool, assets []Asset, log *slog.Logger) error {
	d, err := ReadDurability(ctx, pool)
	if err != nil {
		return err
	}
	risks := d.Risks()
	if len(risks) == 0 {
		if d.SynchronousStandbyNames == "" {
			log.Info("PostgreSQL is durable on this server; no synchronous standby is configured, so losing this server's disk loses commits a standby has not received")
		}
		return nil
	}
	var mainnet []string
	for _, a := range assets {
		if a.Network == "mainnet" {
			mainnet = append(mainnet, a.Schema)
		}
	}
	if len(mainnet) > 0 {
		return fmt.Errorf("PostgreSQL could lose money already acknowledged, and asset %s is on mainnet, so the service refuses to run: %s; then restart PostgreSQL (see docs/runbook.md, \"Durability\")",
			strings.Join(mainnet, ", "), strings.Join(risks, "; "))
	}
	for _, r := range risks {
		log.Warn("PostgreSQL IS NOT DURABLE: acknowledged transfers can be lost in a crash; acceptable on a development or regtest server only, refused for mainnet", "risk", r)
	}
	return nil
}

// durableSession is set on every connection the service opens, so a commit
// is acknowledged only once its WAL is written, whatever the server's or
// the role's default.
var durableSession = map[string]string{"synchronous_commit": "on"}

// configureDurable makes cfg's connections durable and refuses any the
// server did not give synchronous_commit=on (a pooler in between may drop
// startup parameters).
func configureDurable(cfg *pgxpool.Config) {
	for k, v := range durableSession {
		cfg.ConnConfig.RuntimeParams[k] = v
	}
	prev := cfg.AfterConnect
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		if prev != nil {
			if err := prev(ctx, conn); err != nil {
				return err
			}
		}
		var v string
		if err := conn.QueryRow(ctx, "SELECT current_setting('synchronous_commit')").Scan(&v); err != nil {
			return err
		}
		if v != "on" {
			return fmt.Errorf("the server gave this connection synchronous_commit=%s although the service asked for on: refusing it", v)
		}
		return nil
	}
}
