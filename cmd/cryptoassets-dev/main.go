// Command cryptoassets-dev is the development program: it starts and stops
// the dev servers (a PostgreSQL cluster and a btcd regtest node), pays
// regtest coins from the faucet, mines blocks and runs the demo. It carries
// the dev environment so that the production binary, cmd/cryptoassets, does
// not: deployments ship cryptoassets and never this program.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args)
	stop()
	os.Exit(code)
}
