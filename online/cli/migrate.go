package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/cryptoassets/cryptoassets/migrations"
	"github.com/cryptoassets/cryptoassets/online/store"
)

func migrateCommand() *cli.Command {
	return &cli.Command{
		Name:  "migrate",
		Usage: "apply pending database migrations (global, then one schema per configured asset)",
		Description: "Safe to run at any time and from several hosts at once: migrators serialize on an advisory lock.\n" +
			"Refuses, changing nothing, when an applied migration's file changed, when the database was migrated\n" +
			"by a newer release, or when an asset's configured network differs from the one recorded.",
		Action: func(c *cli.Context) error {
			e, m, err := migrator(c)
			if err != nil {
				return err
			}
			defer e.close()
			applied, err := m.Migrate(c.Context, e.cfg.StoreAssets())
			if err != nil {
				return err
			}
			if len(applied) == 0 {
				fmt.Fprintln(c.App.Writer, "database is up to date")
			}
			for _, a := range applied {
				fmt.Fprintf(c.App.Writer, "applied %-8s %04d_%s\n", a.Scope, a.Version, a.Name)
			}
			return nil
		},
		Subcommands: []*cli.Command{{
			Name:  "status",
			Usage: "list applied and pending migrations per schema",
			Action: func(c *cli.Context) error {
				e, m, err := migrator(c)
				if err != nil {
					return err
				}
				defer e.close()
				st, err := m.Status(c.Context, e.cfg.StoreAssets())
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "SCHEMA\tNETWORK\tMIGRATION\tSTATE\tAPPLIED AT")
				pending := 0
				for _, s := range st {
					scope := s.Scope
					if !s.Configured {
						scope += " (not configured)"
					}
					for _, a := range s.Applied {
						fmt.Fprintf(tw, "%s\t%s\t%04d_%s\tapplied\t%s\n", scope, s.Network, a.Version, a.Name, a.AppliedAt.UTC().Format("2006-01-02 15:04:05Z"))
					}
					for _, p := range s.Pending {
						pending++
						fmt.Fprintf(tw, "%s\t%s\t%04d_%s\tpending\t-\n", scope, s.Network, p.Version, p.Name)
					}
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				if pending > 0 {
					fmt.Fprintf(c.App.Writer, "%d pending: run `cryptoassets migrate`\n", pending)
				}
				return nil
			},
		}},
	}
}

func migrator(c *cli.Context) (*env, *store.Migrator, error) {
	e, err := loadEnv(c, true)
	if err != nil {
		return nil, nil, err
	}
	m, err := store.NewMigrator(e.runner.Pool(), migrations.FS)
	if err != nil {
		e.close()
		return nil, nil, err
	}
	return e, m, nil
}

// checkMigrated refuses a database this release has not fully migrated for
// the configured assets (serve runs it before anything else).
func checkMigrated(c *cli.Context, e *env) error {
	return store.CheckMigrated(c.Context, e.runner.Pool(), migrations.FS, e.cfg.StoreAssets())
}
