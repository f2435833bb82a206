package cli

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/cryptoassets/cryptoassets/online/deposits"
	"github.com/cryptoassets/cryptoassets/online/events"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/shared/amount"
)

func addressCommand() *cli.Command {
	return &cli.Command{
		Name:  "address",
		Usage: "receive addresses of customer accounts",
		Subcommands: []*cli.Command{
			{
				Name: "new", Usage: "hand out the next receive address(es) to an account", ArgsUsage: "ACCOUNT",
				Flags: []cli.Flag{assetFlag, &cli.StringFlag{Name: "label", Usage: "a note kept with the address"},
					&cli.IntFlag{Name: "count", Value: 1, Usage: "how many addresses"}},
				Action: withLedger(func(c *cli.Context, e *env, l *ledger.Ledger) error {
					if err := needArgs(c, 1, "ACCOUNT"); err != nil {
						return err
					}
					iss, err := issuerFor(c.Context, e, l)
					if err != nil {
						return err
					}
					if iss == nil {
						return fmt.Errorf("assets.%s.hot_wallet_descriptor is not set: configure the hot wallet's account key first", l.Asset())
					}
					as, err := iss.NewAddresses(c.Context, c.Args().First(), c.String("label"), c.Int("count"))
					if err != nil {
						return err
					}
					for _, a := range as {
						fmt.Fprintf(c.App.Writer, "%s\t%s\n", a.Address, a.Path)
					}
					return nil
				}),
			},
			{
				Name: "list", Usage: "addresses handed to an account, newest first", ArgsUsage: "ACCOUNT",
				Flags: []cli.Flag{assetFlag, &cli.IntFlag{Name: "limit", Value: 100}},
				Action: withLedger(func(c *cli.Context, e *env, l *ledger.Ledger) error {
					if err := needArgs(c, 1, "ACCOUNT"); err != nil {
						return err
					}
					iss, err := issuerFor(c.Context, e, l)
					if err != nil || iss == nil {
						return fmt.Errorf("assets.%s.hot_wallet_descriptor is not set (%v)", l.Asset(), err)
					}
					as, err := iss.List(c.Context, c.Args().First(), c.Int("limit"))
					if err != nil {
						return err
					}
					for _, a := range as {
						fmt.Fprintf(c.App.Writer, "%s\tindex %d\t%s\t%s\n", a.Address, a.Index, a.CreatedAt.UTC().Format("2006-01-02 15:04:05"), a.Label)
					}
					return nil
				}),
			},
		},
	}
}

func depositsCommand() *cli.Command {
	return &cli.Command{
		Name:  "deposits",
		Usage: "payments to customers' addresses",
		Subcommands: []*cli.Command{{
			Name: "list", Usage: "list deposits, newest first",
			Flags: []cli.Flag{assetFlag, &cli.StringFlag{Name: "account"}, &cli.StringFlag{Name: "state", Usage: "seen, confirmed, credited, reorged, replaced or expired"},
				&cli.IntFlag{Name: "limit", Value: 50}},
			Action: withLedger(func(c *cli.Context, e *env, l *ledger.Ledger) error {
				ds, err := deposits.List(c.Context, e.runner.Pool(), l.Asset(), c.String("account"), c.String("state"), c.Int("limit"))
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tACCOUNT\tAMOUNT BTC\tSTATE\tCONF\tHEIGHT\tOUTPOINT")
				for _, d := range ds {
					h := "-"
					if d.BlockHeight != nil {
						h = fmt.Sprint(*d.BlockHeight)
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s:%d\n", d.ID, d.Account, amount.FormatBTC(d.Amount), d.State, d.Confirmations, h, d.TxID, d.Vout)
				}
				return tw.Flush()
			}),
		}},
	}
}

func rescanCommand() *cli.Command {
	return &cli.Command{
		Name:  "rescan",
		Usage: "read blocks again from a height and record deposits that were missed",
		Description: "Idempotent: deposits already recorded are left as they are. Use it after importing\n" +
			"addresses whose payments already confirmed, or to audit a range. Runs beside a live service.",
		Flags: []cli.Flag{assetFlag, &cli.IntFlag{Name: "from-height", Required: true, Usage: "first block height to read"}},
		Action: withLedger(func(c *cli.Context, e *env, l *ledger.Ledger) error {
			f, err := followerFor(e, l.Asset())
			if err != nil {
				return err
			}
			tty := term.IsTerminal(int(os.Stderr.Fd()))
			progress := func(done, total int) {
				if tty && (done%10 == 0 || done == total) {
					width := 40
					filled := width * done / total
					fmt.Fprintf(os.Stderr, "\r[%s%s] %d/%d blocks", strings.Repeat("#", filled), strings.Repeat(".", width-filled), done, total)
				}
			}
			found, err := f.Rescan(c.Context, int32(c.Int("from-height")), progress)
			if tty {
				fmt.Fprintln(os.Stderr)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "rescan done: %d deposit(s) recorded that were missing\n", found)
			return nil
		}),
	}
}

func eventsCommand() *cli.Command {
	return &cli.Command{
		Name:  "events",
		Usage: "the event outbox: list, redeliver to a webhook",
		Subcommands: []*cli.Command{
			{
				Name: "list", Usage: "list events in id order (publishing those committed since the last read first)",
				Flags: []cli.Flag{&cli.Int64Flag{Name: "after", Usage: "events after this id"}, &cli.IntFlag{Name: "limit", Value: 50}},
				Action: func(c *cli.Context) error {
					e, err := loadEnv(c, true)
					if err != nil {
						return err
					}
					defer e.close()
					evs, err := events.List(c.Context, e.runner.Pool(), c.Int64("after"), c.Int("limit"))
					if err != nil {
						return err
					}
					for _, ev := range evs {
						fmt.Fprintf(c.App.Writer, "%d\t%s\t%s\t%s\n", ev.ID, ev.CreatedAt.UTC().Format("2006-01-02 15:04:05"), ev.Type, ev.Payload)
					}
					return nil
				},
			},
			{
				Name: "redeliver", Usage: "send a webhook every event after an id again",
				Flags: []cli.Flag{&cli.StringFlag{Name: "webhook", Required: true, Usage: "the webhook URL as configured"},
					&cli.Int64Flag{Name: "after", Usage: "redeliver events after this id (0: all)"}},
				Action: func(c *cli.Context) error {
					e, err := loadEnv(c, true)
					if err != nil {
						return err
					}
					defer e.close()
					known := false
					for _, w := range e.cfg.Webhooks {
						known = known || w.URL == c.String("webhook")
					}
					if !known {
						return fmt.Errorf("webhook %q is not in the configuration", c.String("webhook"))
					}
					if err := events.Redeliver(c.Context, e.runner, c.String("webhook"), c.Int64("after")); err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "events after %d will be delivered to %s again by the running service\n", c.Int64("after"), c.String("webhook"))
					return nil
				},
			},
		},
	}
}
