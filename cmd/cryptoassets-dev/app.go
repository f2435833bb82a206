package main

import (
	"context"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/cryptoassets/cryptoassets/internal/buildinfo"
	servicecli "github.com/cryptoassets/cryptoassets/online/cli"
)

func app() *cli.App {
	return &cli.App{
		Name:        "cryptoassets-dev",
		Usage:       "the development environment of cryptoassets: dev servers, regtest faucet and mining, the demo",
		Description: "Regtest only. Not part of a deployment: production runs cryptoassets and cryptoassets-signer.",
		HideVersion: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Aliases: []string{"c"}, EnvVars: []string{"CRYPTOASSETS_CONFIG"}, Usage: "configuration file of the service (make dev-up writes .dev/cryptoassets.toml)"},
		},
		Commands: []*cli.Command{
			{
				Name: "version", Usage: "print the version",
				Action: func(c *cli.Context) error {
					fmt.Fprintln(c.App.Writer, buildinfo.String("cryptoassets-dev"))
					return nil
				},
			},
			upCommand(),
			downCommand(),
			payCommand(),
			mineCommand(),
			txoutCommand(),
			servicecli.DemoCommand(newDevFaucet),
		},
	}
}

func run(ctx context.Context, args []string) int {
	if err := app().RunContext(ctx, args); err != nil {
		fmt.Fprintln(os.Stderr, "cryptoassets-dev:", err)
		return 1
	}
	return 0
}
