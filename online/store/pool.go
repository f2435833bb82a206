package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Open connects a pool to dsn and checks the server answers. Every
// connection runs with synchronous_commit=on, so nothing the service
// acknowledges can vanish in a server crash (CheckDurability covers what a
// session cannot set).
//
// dsn may name several hosts (postgres://h1:5432,h2:5432/db?...): each new
// connection tries them in order. It must then carry
// target_session_attrs=read-write (or primary), so that only the primary is
// kept; after a failover the pool's new connections find the promoted
// standby by themselves, and while no host takes writes, every statement
// fails with an error IsUnavailable recognizes.
func Open(ctx context.Context, dsn string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err)
	}
	if err := checkHosts(cfg.ConnConfig.Config); err != nil {
		return nil, err
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	configureDurable(cfg)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database %s: %w", Hosts(cfg.ConnConfig.Config), err)
	}
	return pool, nil
}

// ErrMultiHostAnySession refuses a URL naming several hosts without asking
// for a server that takes writes.
var ErrMultiHostAnySession = errors.New("the database URL names several hosts but not target_session_attrs=read-write: a connection could land on a standby, where every write fails; add target_session_attrs=read-write to the URL")

// checkHosts refuses several hosts with target_session_attrs=any (pgx's
// default), the one setting that keeps no validation of the server.
func checkHosts(c pgconn.Config) error {
	if len(c.Fallbacks) == 0 || c.ValidateConnect != nil {
		return nil
	}
	hosts := map[string]bool{fmt.Sprintf("%s:%d", c.Host, c.Port): true}
	for _, f := range c.Fallbacks {
		hosts[fmt.Sprintf("%s:%d", f.Host, f.Port)] = true
	}
	if len(hosts) == 1 { // one host tried over several addresses (a name resolving to more than one)
		return nil
	}
	return ErrMultiHostAnySession
}

// Hosts names every host:port c tries, in order, for messages.
func Hosts(c pgconn.Config) string {
	seen := map[string]bool{}
	var out []string
	add := func(host string, port uint16) {
		hp := fmt.Sprintf("%s:%d", host, port)
		if !seen[hp] {
			seen[hp] = true
			out = append(out, hp)
		}
	}
	add(c.Host, c.Port)
	for _, f := range c.Fallbacks {
		add(f.Host, f.Port)
	}
	return strings.Join(out, ",")
}
