package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/cryptoassets/cryptoassets/internal/buildinfo"
)

// App builds the `cryptoassets-signer` command line.
func App() *cli.App {
	return &cli.App{
		Name:  "cryptoassets-signer",
		Usage: "the air-gapped signer: holds the cold keys, reviews and signs PSBTs offline",
		Description: "Run it on a machine that never touches a network. PSBTs come in and go out as files\n" +
			"or animated QR codes; each is checked against the policy and shown to you before signing.",
		HideVersion: true,
		Commands: []*cli.Command{{
			Name:  "version",
			Usage: "print the version",
			Action: func(c *cli.Context) error {
				fmt.Fprintln(c.App.Writer, buildinfo.String("cryptoassets-signer"))
				return nil
			},
		}},
	}
}

// Run runs the command line and returns the process exit code.
func Run(ctx context.Context, args []string) int {
	if err := App().RunContext(ctx, args); err != nil {
		fmt.Fprintln(os.Stderr, "cryptoassets-signer:", err)
		return 1
	}
	return 0
}
