// Command devenv starts and stops the project's development servers: a
// PostgreSQL cluster and a btcd regtest node under one directory (.dev by
// default). `make dev-up` and `make dev-down` call it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
)

func main() {
	dir := flag.String("dir", ".dev", "directory that holds the servers' data")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: devenv [-dir DIR] up|down\n\n"+
			"up    start PostgreSQL and a btcd regtest node (reused if running); write DIR/env and DIR/cryptoassets.toml\n"+
			"down  stop both\n")
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var err error
	switch flag.Arg(0) {
	case "up":
		err = up(ctx, *dir)
	case "down":
		err = down(ctx, *dir)
	default:
		flag.Usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "devenv:", err)
		os.Exit(1)
	}
}

func up(ctx context.Context, dir string) error {
	pg, err := devenv.StartPostgres(ctx, filepath.Join(dir, "pg"))
	if err != nil {
		return err
	}
	node, err := devenv.StartBtcd(ctx, filepath.Join(dir, "btcd"), devenv.BtcdOptions{Detach: true})
	if err != nil {
		return err
	}
	env := fmt.Sprintf("export DATABASE_URL='%s'\nexport CRYPTOASSETS_CONFIG='%s'\n",
		pg.DSN(), filepath.Join(dir, "cryptoassets.toml"))
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
	if err := os.WriteFile(filepath.Join(dir, "cryptoassets.toml"), []byte(conf), 0o600); err != nil {
		return err
	}
	fmt.Printf("PostgreSQL:  DATABASE_URL=%s\n", pg.DSN())
	fmt.Printf("btcd:        rpc_url=%s rpc_user=%s rpc_password=%s (regtest, segwit active, mining to %s)\n",
		node.RPCURL(), devenv.RPCUser, devenv.RPCPassword, devenv.FaucetAddress())
	fmt.Printf("config:      %s\n", filepath.Join(dir, "cryptoassets.toml"))
	fmt.Printf("shell:       . %s\n", filepath.Join(dir, "env"))
	return nil
}

func down(ctx context.Context, dir string) error {
	errNode := devenv.StopBtcd(ctx, filepath.Join(dir, "btcd"))
	errPG := devenv.StopPostgres(ctx, filepath.Join(dir, "pg"))
	if errNode != nil {
		return errNode
	}
	if errPG != nil {
		return errPG
	}
	fmt.Println("dev environment stopped")
	return nil
}
