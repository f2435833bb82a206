package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/cryptoassets/cryptoassets/internal/buildinfo"
	"github.com/cryptoassets/cryptoassets/online/config"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// App builds the `cryptoassets` command line.
func App() *cli.App {
	return &cli.App{
		Name:        "cryptoassets",
		Usage:       "accept, hold and pay out bitcoin: the online service and its admin commands",
		Description: "Customer accounts live in PostgreSQL at SERIALIZABLE isolation, one schema per asset.\nCold keys never touch this program: see cryptoassets-signer.",
		HideVersion: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Aliases: []string{"c"}, EnvVars: []string{"CRYPTOASSETS_CONFIG"}, Usage: "configuration file (TOML); DATABASE_URL and CRYPTOASSETS_* variables override it"},
		},
		Commands: []*cli.Command{
			versionCommand(),
			migrateCommand(),
			serveCommand(),
			statusCommand(),
			accountCommand(),
			transferCommand(),
			withdrawCommand(), withdrawalsCommand(),
			tokenCommand(),
			ledgerCommand(),
			addressCommand(),
			depositsCommand(), coinsCommand(),
			auditCommand(),
			rescanCommand(),
			eventsCommand(),
			broadcastsCommand(), batchesCommand(),
			coldCommand(),
			hotkeyCommand(),
			demoMovedCommand(),
		},
	}
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version",
		Action: func(c *cli.Context) error {
			fmt.Fprintln(c.App.Writer, buildinfo.String("cryptoassets"))
			return nil
		},
	}
}

// env is what a command needs from the configuration and the database.
type env struct {
	cfg    *config.Config
	log    *slog.Logger
	runner *store.Runner
}

func (e *env) close() {
	if e.runner != nil {
		e.runner.Pool().Close()
	}
}

// loadEnv reads the configuration and, when withDB, connects to PostgreSQL.
func loadEnv(c *cli.Context, withDB bool) (*env, error) {
	cfg, err := config.LoadFromOS(c.String("config"))
	if err != nil {
		return nil, err
	}
	e := &env{cfg: cfg, log: newLogger(c.App.ErrWriter, cfg.Log)}
	if withDB {
		pool, err := store.Open(c.Context, cfg.Database.URL, cfg.Database.MaxConns)
		if err != nil {
			return nil, err
		}
		e.runner = store.NewRunner(pool, cfg.RunnerConfig(), e.log)
	}
	return e, nil
}

func newLogger(w io.Writer, lc config.Log) *slog.Logger {
	if w == nil {
		w = os.Stderr
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(lc.Level))
	opts := &slog.HandlerOptions{Level: level}
	if lc.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Run runs the command line and returns the process exit code.
func Run(ctx context.Context, args []string) int {
	app := App()
	if err := app.RunContext(ctx, args); err != nil {
		fmt.Fprintln(os.Stderr, "cryptoassets:", err)
		return 1
	}
	return 0
}
