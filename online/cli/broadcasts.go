package cli

import (
	"errors"
	"flag"
	"fmt"
	"github.com/cryptoassets/cryptoassets/online/batcher"
	"github.com/cryptoassets/cryptoassets/online/service"
	"io"
	"os"
	"strconv"
	"text/tabwriter"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/urfave/cli/v2"

	"github.com/cryptoassets/cryptoassets/online/broadcast"
	"github.com/cryptoassets/cryptoassets/online/ledger"
)

func broadcasterFor(e *env, l *ledger.Ledger) (*broadcast.Broadcaster, error) {
	b, err := service.Broadcaster(e.cfg, e.runner, l.Asset(), e.log)
	if err != nil {
		return nil, err
	}
	batcher.RegisterHooks(b, l, e.log)
	return b, nil
}

const stamp = "2006-01-02 15:04:05"

func printRecords(c *cli.Context, rs []broadcast.Record) error {
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTXID\tKIND\tOPENED\tCLOSED\tOUTCOME\tATTEMPTS\tBY\tNOTE")
	for _, r := range rs {
		closed, outcome, note := "-", "OPEN: run `cryptoassets broadcasts resolve`", r.Error
		switch {
		case r.ClosedAt != nil:
			closed, outcome = r.ClosedAt.UTC().Format(stamp), r.Outcome
		case r.BrokenAt != nil:
			outcome = fmt.Sprintf("BROKEN since %s: see `cryptoassets broadcasts find %d`", r.BrokenAt.UTC().Format(stamp), r.ID)
			note = r.BrokenReason
		}
		by := r.ResolvedBy
		if by == "" {
			by = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", r.ID, r.TxID, r.Kind, r.OpenedAt.UTC().Format(stamp), closed, outcome, r.Attempts, by, note)
	}
	return tw.Flush()
}

func printReport(c *cli.Context, rep broadcast.Report) error {
	w := c.App.Writer
	r := rep.Record
	state := "open"
	switch {
	case r.ClosedAt != nil:
		state = "closed " + r.Outcome
	case r.BrokenAt != nil:
		state = "open, BROKEN: " + r.BrokenReason
	}
	fmt.Fprintf(w, "broadcast %d (%s), %s, opened %s: %s\n", r.ID, r.Kind, r.TxID, r.OpenedAt.UTC().Format(stamp), state)
	if rep.Where != "" {
		fmt.Fprintf(w, "the node has the transaction: %s\n", rep.Where)
	} else {
		fmt.Fprintf(w, "the node does not have the transaction: not in its mempool, no output among the chain's coins, not in %s\n", rep.Scanned)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INPUT\tSTATE")
	for _, in := range rep.Inputs {
		fmt.Fprintf(tw, "%s\t%s\n", in.OutPoint, in)
	}
	return tw.Flush()
}

func recordID(c *cli.Context) (int64, error) {
	if c.NArg() != 1 {
		return 0, errors.New("name one broadcast ID (see `cryptoassets broadcasts list`)")
	}
	id, err := strconv.ParseInt(c.Args().First(), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("broadcast ID %q: want a positive whole number (see `cryptoassets broadcasts list`)", c.Args().First())
	}
	return id, nil
}

// withRecord is withLedger for a command on one broadcast record: it takes
// the record's ID argument, then the asset's broadcaster.
func withRecord(fn func(c *cli.Context, e *env, l *ledger.Ledger, b *broadcast.Broadcaster, id int64) error) cli.ActionFunc {
	return withLedger(func(c *cli.Context, e *env, l *ledger.Ledger) error {
		id, err := recordID(c)
		if err != nil {
			return err
		}
		b, err := broadcasterFor(e, l)
		if err != nil {
			return err
		}
		return fn(c, e, l, b, id)
	})
}

func broadcastsCommand() *cli.Command {
	return &cli.Command{
		Name:  "broadcasts",
		Usage: "signed transactions sent to the network, each recorded before (opened) and after (closed)",
		Subcommands: []*cli.Command{
			{
				Name: "list", Usage: "the newest broadcasts; open ones have an unknown outcome, broken ones need an operator",
				Flags: []cli.Flag{assetFlag, &cli.IntFlag{Name: "limit", Value: 50},
					&cli.BoolFlag{Name: "open", Usage: "only records still open"},
					&cli.BoolFlag{Name: "broken", Usage: "only broken records (open past broadcast_broken_after, or inputs spent by another transaction)"}},
				Action: withLedger(func(c *cli.Context, e *env, l *ledger.Ledger) error {
					b, err := broadcasterFor(e, l)
					if err != nil {
						return err
					}
					rs, err := b.List(c.Context, broadcast.Filter{Limit: c.Int("limit"), Open: c.Bool("open"), Broken: c.Bool("broken")})
					if err != nil {
						return err
					}
					return printRecords(c, rs)
				}),
			},
			{
				Name: "resolve",
				Usage: "without ID: settle open broadcasts (close those the node has; send the same bytes again for the others). " +
					"With ID: --mark-sent TXID (the node shows it) or --abandon (it is nowhere)",
				ArgsUsage: "[ID]",
				Flags: []cli.Flag{assetFlag,
					&cli.StringFlag{Name: "mark-sent", Usage: "close record ID as accepted: TXID is its transaction and the node or a block shows it"},
					&cli.BoolFlag{Name: "abandon", Usage: "close record ID as abandoned: its transaction is on neither the node nor a recent block"},
					&cli.StringFlag{Name: "operator", Value: os.Getenv("USER"), Usage: "who resolves it, recorded in the record"}},
				Action: withLedger(func(c *cli.Context, e *env, l *ledger.Ledger) error {
					b, err := broadcasterFor(e, l)
					if err != nil {
						return err
					}
					markSent, abandon := c.String("mark-sent"), c.Bool("abandon")
					if c.NArg() == 0 {
						if markSent != "" || abandon {
							return errors.New("--mark-sent and --abandon act on one record: name its ID")
						}
						rs, err := b.Resolve(c.Context)
						if len(rs) == 0 && err == nil {
							fmt.Fprintln(c.App.Writer, "no open broadcasts")
							return nil
						}
						if perr := printRecords(c, rs); perr != nil {
							return perr
						}
						return err
					}
					id, err := strconv.ParseInt(c.Args().First(), 10, 64)
					if err != nil || id <= 0 {
						return fmt.Errorf("broadcast ID %q: want a positive whole number (see `cryptoassets broadcasts list`)", c.Args().First())
					}
					// The runbook's order, `resolve ID --mark-sent TXID`, puts
					// the flags after the ID, where the flag parser stops.
					operator := c.String("operator")
					if tail := c.Args().Tail(); len(tail) > 0 {
						fs := flag.NewFlagSet("resolve", flag.ContinueOnError)
						fs.SetOutput(io.Discard)
						fs.StringVar(&markSent, "mark-sent", markSent, "")
						fs.BoolVar(&abandon, "abandon", abandon, "")
						fs.StringVar(&operator, "operator", operator, "")
						if err := fs.Parse(tail); err != nil {
							return fmt.Errorf("after the ID: %w (use --mark-sent TXID, --abandon, --operator NAME)", err)
						}
						if fs.NArg() > 0 {
							return fmt.Errorf("unexpected %q: name one broadcast ID", fs.Arg(0))
						}
					}
					var r broadcast.Record
					switch {
					case markSent != "" && abandon:
						return errors.New("--mark-sent and --abandon are exclusive: the transaction either went out or it did not")
					case markSent != "":
						txid, perr := chainhash.NewHashFromStr(markSent)
						if perr != nil || len(markSent) != 2*chainhash.HashSize {
							return fmt.Errorf("--mark-sent %q: want the transaction's 64-hex-digit txid", markSent)
						}
						r, err = b.MarkSent(c.Context, id, *txid, operator)
					case abandon:
						r, err = b.Abandon(c.Context, id, operator)
					default:
						return errors.New("with an ID, say how it is resolved: --mark-sent TXID or --abandon")
					}
					if err != nil {
						return err
					}
					return printRecords(c, []broadcast.Record{r})
				}),
			},
			{
				Name:      "find",
				Usage:     "where the record's transaction and each of its inputs are: unspent, spent in the mempool, or spent in block H by which txid",
				ArgsUsage: "ID",
				Flags:     []cli.Flag{assetFlag},
				Action: withRecord(func(c *cli.Context, e *env, l *ledger.Ledger, b *broadcast.Broadcaster, id int64) error {
					rep, err := b.Find(c.Context, id)
					if err != nil {
						return err
					}
					return printReport(c, rep)
				}),
			},
			{
				Name:      "bump",
				Usage:     "replace a withdrawal batch or a sweep waiting for a block by one paying a higher fee rate (BIP125), from its change; serve's batcher builds, signs and sends it (a top-up is signed on the air-gapped signer and is never bumped here)",
				ArgsUsage: "ID",
				Flags: []cli.Flag{assetFlag, &cli.Float64Flag{Name: "fee-rate", Required: true, Usage: "the new rate in sat/vB: above the batch's, within max_fee_sat and max_fee_ratio"},
					&cli.StringFlag{Name: "operator", Value: os.Getenv("USER"), Usage: "who asks, recorded with the request"}},
				Action: withRecord(func(c *cli.Context, e *env, l *ledger.Ledger, b *broadcast.Broadcaster, id int64) error {
					r, err := b.ByID(c.Context, id)
					if err != nil {
						return err
					}
					if err := batcher.CheckBumpable(r.Kind); err != nil {
						return fmt.Errorf("broadcast %d is a %s: %w", id, r.Kind, err)
					}
					rate := c.Float64("fee-rate")
					if !(rate >= 0.1 && rate <= 10_000) {
						return fmt.Errorf("--fee-rate %v: use 0.1 to 10000 sat/vB", rate)
					}
					batch, err := batcher.RequestBump(c.Context, e.runner, l.Asset(), service.BatcherConfig(e.cfg.Assets[l.Asset()]), r.TxID, int64(rate*1000+0.5), c.String("operator"))
					if err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "bump of batch %d (broadcast %d, %s) to %v sat/vB requested: serve's batcher sends the replacement within a poll; follow it with `cryptoassets broadcasts list`\n",
						batch, id, r.TxID, rate)
					return nil
				}),
			},
		},
	}
}

func coldCommand() *cli.Command {
	return &cli.Command{
		Name:        "cold",
		Usage:       "the cold wallet: export top-ups for the air-gapped signer, import them signed, list, cancel, its next address",
		Subcommands: append(coldCommands(), coldImportCommand()),
	}
}
