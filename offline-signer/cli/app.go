package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/cryptoassets/cryptoassets/internal/buildinfo"
)

// App builds the `cryptoassets-signer` command line.
func App() *cli.App {
	home, _ := os.UserHomeDir()
	return &cli.App{
		Name:  "cryptoassets-signer",
		Usage: "the air-gapped signer: holds the cold keys, reviews and signs PSBTs offline",
		Description: "Run it on a machine that never touches a network. PSBTs come in and go out as files\n" +
			"or animated QR codes; each is checked against the policy and shown to you before signing.\n" +
			"Passphrases are read from the terminal without echo, or from --passphrase-fd; never from\n" +
			"the command line. See docs/air-gap.md for the ceremony.",
		HideVersion: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Value: filepath.Join(home, ".cryptoassets-signer"), EnvVars: []string{"CRYPTOASSETS_SIGNER_DIR"},
				Usage: "directory of keystore.json and policy.toml"},
			&cli.IntFlag{Name: "passphrase-fd", Value: -1, Usage: "read the keystore passphrase from this file descriptor instead of the terminal (scripts)"},
		},
		Before: func(*cli.Context) error {
			// Secrets must not end up in a core dump.
			_ = syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{})
			return nil
		},
		Commands: []*cli.Command{
			initCommand(), restoreCommand(), xpubCommand(), inspectCommand(), signCommand(),
			{
				Name:  "version",
				Usage: "print the version",
				Action: func(c *cli.Context) error {
					fmt.Fprintln(c.App.Writer, buildinfo.String("cryptoassets-signer"))
					return nil
				},
			},
		},
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
