package cli

import (
	"errors"
	"fmt"
	"os"
	"text/tabwriter"

	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/urfave/cli/v2"

	"github.com/cryptoassets/cryptoassets/online/broadcast"
	"github.com/cryptoassets/cryptoassets/online/cold"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/shared/psbt"
	"github.com/cryptoassets/cryptoassets/shared/psbt/transport"
)

func broadcasterFor(e *env, l *ledger.Ledger) (*broadcast.Broadcaster, error) {
	node, err := nodeFor(e.cfg.Assets[l.Asset()])
	if err != nil {
		return nil, err
	}
	return broadcast.New(e.runner, l.Asset(), node, e.log)
}

func printRecords(c *cli.Context, rs []broadcast.Record) error {
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTXID\tKIND\tOPENED\tCLOSED\tOUTCOME\tATTEMPTS\tERROR")
	for _, r := range rs {
		closed, outcome := "-", "OPEN: run `cryptoassets broadcasts resolve`"
		if r.ClosedAt != nil {
			closed, outcome = r.ClosedAt.UTC().Format("2006-01-02 15:04:05"), r.Outcome
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", r.ID, r.TxID, r.Kind, r.OpenedAt.UTC().Format("2006-01-02 15:04:05"), closed, outcome, r.Attempts, r.Error)
	}
	return tw.Flush()
}

func broadcastsCommand() *cli.Command {
	return &cli.Command{
		Name:  "broadcasts",
		Usage: "signed transactions sent to the network, each recorded before (opened) and after (closed)",
		Subcommands: []*cli.Command{
			{
				Name: "list", Usage: "the newest broadcasts; open ones have an unknown outcome",
				Flags: []cli.Flag{assetFlag, &cli.IntFlag{Name: "limit", Value: 50}},
				Action: withLedger(func(c *cli.Context, e *env, l *ledger.Ledger) error {
					b, err := broadcasterFor(e, l)
					if err != nil {
						return err
					}
					rs, err := b.List(c.Context, c.Int("limit"))
					if err != nil {
						return err
					}
					return printRecords(c, rs)
				}),
			},
			{
				Name:  "resolve",
				Usage: "settle open broadcasts: close those the node has; send the same bytes again for the others",
				Flags: []cli.Flag{assetFlag},
				Action: withLedger(func(c *cli.Context, e *env, l *ledger.Ledger) error {
					b, err := broadcasterFor(e, l)
					if err != nil {
						return err
					}
					rs, err := b.Resolve(c.Context)
					if err != nil {
						return err
					}
					if len(rs) == 0 {
						fmt.Fprintln(c.App.Writer, "no open broadcasts")
						return nil
					}
					return printRecords(c, rs)
				}),
			},
		},
	}
}

func coldCommand() *cli.Command {
	return &cli.Command{
		Name:  "cold",
		Usage: "the cold wallet: submit a top-up signed on the air-gapped signer",
		Subcommands: []*cli.Command{{
			Name:      "submit",
			Usage:     "read a signed PSBT (file or --qr frames), check it is a top-up this service exported, record it and broadcast it",
			ArgsUsage: "[FILE]",
			Flags:     []cli.Flag{assetFlag, &cli.StringSliceFlag{Name: "qr", Usage: "QR image files (PNG, JPEG, GIF), any order"}},
			Action: withLedger(func(c *cli.Context, e *env, l *ledger.Ledger) error {
				p, err := readSignedPSBT(c)
				if err != nil {
					return err
				}
				tx, err := btcpsbt.Extract(p)
				if err != nil {
					return fmt.Errorf("the PSBT is not fully signed: %w", err)
				}
				b, err := broadcasterFor(e, l)
				if err != nil {
					return err
				}
				x, err := cold.NewExports(e.runner, l.Asset())
				if err != nil {
					return err
				}
				// Only a top-up this service built: same inputs, outputs,
				// sequences and locktime as one it exported.
				r, err := x.Submit(c.Context, b, tx)
				if errors.Is(err, broadcast.ErrUnresolved) {
					return fmt.Errorf("broadcast %s: %w", r.TxID, err)
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(c.App.Writer, "broadcast %s: %s\n", r.TxID, r.Outcome)
				if r.Outcome == broadcast.Rejected {
					return fmt.Errorf("the node rejected the transaction: %s", r.Error)
				}
				return nil
			}),
		}},
	}
}

func readSignedPSBT(c *cli.Context) (*btcpsbt.Packet, error) {
	if imgs := c.StringSlice("qr"); len(imgs) > 0 {
		var parts int
		raw, err := transport.ReadImages(imgs, func(_ string, have, _ int) { parts = have })
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(c.App.Writer, "read the signed PSBT from %d QR frames (%d parts)\n", len(imgs), parts)
		return psbt.Decode(raw, psbt.DefaultMaxSize)
	}
	if c.NArg() != 1 {
		return nil, errors.New("name the signed PSBT file, or give --qr IMAGE (one or more)")
	}
	f, err := os.Open(c.Args().First())
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return psbt.DecodeReader(f, psbt.DefaultMaxSize)
}
