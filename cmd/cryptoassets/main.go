// Command cryptoassets is the online service and its admin command line.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/cryptoassets/cryptoassets/online/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args)
	stop()
	os.Exit(code)
}
