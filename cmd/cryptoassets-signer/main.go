// Command cryptoassets-signer is the air-gapped signer.
package main

import (
	"context"
	"os"

	"github.com/cryptoassets/cryptoassets/offline-signer/cli"
)

func main() {
	os.Exit(cli.Run(context.Background(), os.Args))
}
