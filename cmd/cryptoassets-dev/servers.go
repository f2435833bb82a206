package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
)

var dirFlag = &cli.StringFlag{Name: "dir", Value: ".dev", Usage: "directory that holds the servers' data, the env file and the configuration"}

func upCommand() *cli.Command {
	return &cli.Command{
		Name:  "up",
		Usage: "start PostgreSQL and a btcd regtest node (reused if running); write DIR/env and DIR/cryptoassets.toml",
		Flags: []cli.Flag{dirFlag, &cli.BoolFlag{Name: "ha",
			Usage: "PostgreSQL as a primary with a synchronous streaming standby in DIR/pg-ha, and a multi-host DATABASE_URL that follows a promotion"}},
		Action: func(c *cli.Context) error {
			ctx, cancel := context.WithTimeout(c.Context, 10*time.Minute)
			defer cancel()
			return up(ctx, c, c.String("dir"), c.Bool("ha"))
		},
	}
}

func downCommand() *cli.Command {
	return &cli.Command{
		Name:  "down",
		Usage: "stop the dev servers in DIR",
		Flags: []cli.Flag{dirFlag},
		Action: func(c *cli.Context) error {
			ctx, cancel := context.WithTimeout(c.Context, 2*time.Minute)
			defer cancel()
			dir := c.String("dir")
			errNode := devenv.StopBtcd(ctx, filepath.Join(dir, "btcd"))
			errPG := errors.Join(devenv.StopPostgres(ctx, filepath.Join(dir, "pg")), devenv.StopPostgresHA(ctx, filepath.Join(dir, "pg-ha")))
			if errNode != nil {
				return errNode
			}
			if errPG != nil {
				return errPG
			}
			fmt.Fprintln(c.App.Writer, "dev environment stopped")
			return nil
		},
	}
}

func up(ctx context.Context, c *cli.Context, dir string, ha bool) error {
	// Absolute paths in the env file, so the commands work from any
	// directory once it is sourced.
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	var pg interface{ DSN() string }
	var pair *devenv.HA
	if ha {
		// The single cluster of an earlier `up` would otherwise keep
		// running beside the pair, with data the pair does not have.
		if err := devenv.StopPostgres(ctx, filepath.Join(dir, "pg")); err != nil {
			return err
		}
		pair, err = devenv.StartPostgresHA(ctx, filepath.Join(dir, "pg-ha"), devenv.PostgresOptions{})
		if err != nil {
			return err
		}
		pg = pair
	} else {
		if err := devenv.StopPostgresHA(ctx, filepath.Join(dir, "pg-ha")); err != nil {
			return err
		}
		single, err := devenv.StartPostgres(ctx, filepath.Join(dir, "pg"))
		if err != nil {
			return err
		}
		pg = single
	}
	node, err := devenv.StartBtcd(ctx, filepath.Join(dir, "btcd"), devenv.BtcdOptions{Detach: true})
	if err != nil {
		return err
	}
	confPath := filepath.Join(dir, "cryptoassets.toml")
	env := fmt.Sprintf("export DATABASE_URL='%s'\nexport CRYPTOASSETS_CONFIG='%s'\n", pg.DSN(), confPath)
	conf := fmt.Sprintf(`# Written by make dev-up for the local regtest environment.
[database]
url = %q

[assets.btc]
network = "regtest"
rpc_url = %q
rpc_user = %q
rpc_password = %q
confirmations = 3
poll_interval = "200ms"
# The BIP84 test vector's account key on test networks (mnemonic "abandon ... about").
# For development only: anyone can spend what is sent to it.
hot_wallet_descriptor = "wpkh([73c5da0a/84'/1'/0']tpubDC8msFGeGuwnKG9Upg7DM2b4DaRqg3CUZa5g8v2SRQ6K4NSkxUgd7HsL2XVWbVm39yBA4LAxysQAm397zwQSQoQgewGiYZqrA9DsP4zbQ1M/<0;1>/*)"
`, pg.DSN(), node.RPCURL(), devenv.RPCUser, devenv.RPCPassword)
	if err := os.WriteFile(filepath.Join(dir, "env"), []byte(env), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return err
	}
	w := c.App.Writer
	fmt.Fprintf(w, "PostgreSQL:  DATABASE_URL=%s\n", pg.DSN())
	if pair != nil {
		fmt.Fprintf(w, "             primary %s (port %d), synchronous standby %s (port %d)\n", pair.Primary.Dir, pair.Primary.Port, pair.Standby.Dir, pair.Standby.Port)
		fmt.Fprintf(w, "failover:    pg_ctl -D %s -m immediate stop && pg_ctl -D %s promote (as the postgres user; see docs/runbook.md)\n", pair.Primary.Dir, pair.Standby.Dir)
	}
	fmt.Fprintf(w, "btcd:        rpc_url=%s rpc_user=%s rpc_password=%s (regtest, segwit active, mining to %s)\n",
		node.RPCURL(), devenv.RPCUser, devenv.RPCPassword, devenv.FaucetAddress())
	fmt.Fprintf(w, "config:      %s\n", confPath)
	fmt.Fprintf(w, "shell:       . %s\n", filepath.Join(dir, "env"))
	fmt.Fprintln(w, "fund:        cryptoassets-dev pay ADDRESS 0.5 && cryptoassets-dev mine 3")
	return nil
}
