package cli

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cryptoassets/cryptoassets/online/cold"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/service"
	"github.com/cryptoassets/cryptoassets/shared/amount"
	"github.com/cryptoassets/cryptoassets/shared/psbt/transport"
)

var (
	coldDirFlag  = &cli.StringFlag{Name: "dir", Usage: "where to write the PSBT and its QR frames (default: the asset's cold_export_dir)"}
	coldJSONFlag = &cli.BoolFlag{Name: "json", Usage: "print JSON"}
)

// topUpsFor is the top-up exporter of l's asset.
func topUpsFor(c *cli.Context, e *env, l *ledger.Ledger) (*cold.TopUps, error) {
	node, err := service.Node(e.cfg.Assets[l.Asset()])
	if err != nil {
		return nil, err
	}
	return service.TopUps(c.Context, e.cfg, l, node, e.log)
}

// exportDir is --dir, or the asset's cold_export_dir.
func exportDir(c *cli.Context, e *env, l *ledger.Ledger) (string, error) {
	if d := c.String("dir"); d != "" {
		return d, nil
	}
	if d := e.cfg.Assets[l.Asset()].ColdExportDir; d != "" {
		return d, nil
	}
	return "", fmt.Errorf("no directory for the top-up's files: give --dir or set assets.%s.cold_export_dir", l.Asset())
}

func topUpID(c *cli.Context) (int64, error) {
	if err := needArgs(c, 1, "ID"); err != nil {
		return 0, err
	}
	id, err := strconv.ParseInt(c.Args().First(), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("top-up id %q: want a positive whole number (cryptoassets cold list shows them)", c.Args().First())
	}
	return id, nil
}

// withTopUp runs fn for the top-up the ID argument names, with the
// asset's top-ups: the subcommands that act on one top-up.
func withTopUp(fn func(c *cli.Context, e *env, l *ledger.Ledger, t *cold.TopUps, id int64) error) cli.ActionFunc {
	return withLedger(func(c *cli.Context, e *env, l *ledger.Ledger) error {
		id, err := topUpID(c)
		if err != nil {
			return err
		}
		t, err := topUpsFor(c, e, l)
		if err != nil {
			return err
		}
		return fn(c, e, l, t, id)
	})
}

// coldCommands are the cold wallet's subcommands besides import.
func coldCommands() []*cli.Command {
	return []*cli.Command{
		{
			Name:  "topup",
			Usage: "export a top-up from cold to hot for the air-gapped signer: PSBT file, base64, UR and BBQr QR frames (PNG, GIF)",
			Flags: []cli.Flag{assetFlag, operatorFlag,
				&cli.StringFlag{Name: "amount", Required: true, Usage: "to the hot wallet, in BTC (0.5) or satoshis (50000000sat)"},
				coldDirFlag,
				&cli.BoolFlag{Name: "terminal", Usage: "also show the QR frames in this terminal"},
				&cli.StringFlag{Name: "format", Value: "ur", Usage: "QR encoding shown with --terminal: ur or bbqr"}},
			Action: withLedger(func(c *cli.Context, e *env, l *ledger.Ledger) error {
				amt, err := parseCLIAmount(c.String("amount"))
				if err != nil {
					return fmt.Errorf("--amount %q: %w", c.String("amount"), err)
				}
				format, err := transport.ParseFormat(c.String("format"))
				if err != nil {
					return fmt.Errorf("--format: %w", err)
				}
				dir, err := exportDir(c, e, l)
				if err != nil {
					return err
				}
				t, err := topUpsFor(c, e, l)
				if err != nil {
					return err
				}
				x, err := t.WithExportDir(dir).Export(c.Context, amt, c.String("operator"))
				if err != nil {
					return err
				}
				paths, err := writeExport(c, x, dir, c.Bool("terminal"), format)
				if err != nil {
					return err
				}
				// The event names files that exist; the keeper announces an
				// export whose writer died before this (docs/cold-storage.md).
				if _, err := t.Announce(c.Context, x.ID, paths); err != nil {
					return fmt.Errorf("top-up %d: its files are written but cold.topup_exported is not emitted (the keeper emits it): %w", x.ID, err)
				}
				return nil
			}),
		},
		{
			Name:  "list",
			Usage: "the top-ups, newest first",
			Flags: []cli.Flag{assetFlag, coldJSONFlag, &cli.IntFlag{Name: "limit", Value: 100, Usage: "at most this many (1 to 1000)"}},
			Action: withLedger(func(c *cli.Context, e *env, l *ledger.Ledger) error {
				t, err := topUpsFor(c, e, l)
				if err != nil {
					return err
				}
				if n := c.Int("limit"); n < 1 || n > 1000 {
					return fmt.Errorf("--limit %d: use 1 to 1000", n)
				}
				xs, err := t.List(c.Context, c.Int("limit"))
				if err != nil {
					return err
				}
				if c.Bool("json") {
					out := make([]exportJSON, len(xs))
					for i, x := range xs {
						out[i] = toJSON(x)
					}
					return printJSON(c, out)
				}
				if len(xs) == 0 {
					fmt.Fprintln(c.App.Writer, "no top-ups")
					return nil
				}
				tw := tabwriter.NewWriter(c.App.Writer, 0, 2, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSTATE\tAMOUNT BTC\tFEE SAT\tEXPIRES\tTXID")
				for _, x := range xs {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\n", x.ID, x.State, amount.FormatBTC(x.Amount), x.Fee, x.ExpiresAt.UTC().Format(time.RFC3339), x.TxID)
				}
				return tw.Flush()
			}),
		},
		{
			Name:      "show",
			Usage:     "one top-up",
			ArgsUsage: "ID",
			Flags:     []cli.Flag{assetFlag, coldJSONFlag},
			Action: withTopUp(func(c *cli.Context, _ *env, _ *ledger.Ledger, t *cold.TopUps, id int64) error {
				x, err := t.Get(c.Context, id)
				if err != nil {
					return err
				}
				if c.Bool("json") {
					return printJSON(c, toJSON(x))
				}
				printExport(c, x)
				return nil
			}),
		},
		{
			Name:      "cancel",
			Usage:     "give up an exported top-up before its import: its cold coins are released (the signed PSBT, if any, must then never be used)",
			ArgsUsage: "ID",
			Flags:     []cli.Flag{assetFlag, operatorFlag},
			Action: withTopUp(func(c *cli.Context, _ *env, _ *ledger.Ledger, t *cold.TopUps, id int64) error {
				x, err := t.Cancel(c.Context, id, c.String("operator"))
				if err != nil {
					return err
				}
				fmt.Fprintf(c.App.Writer, "top-up %d cancelled by %s; its coins are free again\n", x.ID, x.CancelledBy)
				return nil
			}),
		},
		{
			Name:      "export",
			Usage:     "write an exported top-up's files again (files already there with the same bytes are kept); emits no event",
			ArgsUsage: "ID",
			Flags: []cli.Flag{assetFlag, coldDirFlag,
				&cli.BoolFlag{Name: "terminal", Usage: "also show the QR frames in this terminal"},
				&cli.StringFlag{Name: "format", Value: "ur", Usage: "QR encoding shown with --terminal: ur or bbqr"}},
			Action: withTopUp(func(c *cli.Context, e *env, l *ledger.Ledger, t *cold.TopUps, id int64) error {
				format, err := transport.ParseFormat(c.String("format"))
				if err != nil {
					return fmt.Errorf("--format: %w", err)
				}
				dir, err := exportDir(c, e, l)
				if err != nil {
					return err
				}
				x, err := t.Get(c.Context, id)
				if err != nil {
					return err
				}
				if x.State != cold.StateReserved {
					return fmt.Errorf("top-up %d is %s: only an export waiting for its signature is worth signing (cryptoassets cold topup exports a new one)", id, x.State)
				}
				// Files written again are not announced again.
				_, err = writeExport(c, x, dir, c.Bool("terminal"), format)
				return err
			}),
		},
		{
			Name:  "address",
			Usage: "the next cold receive address, without taking it: for a deposit to cold storage made by hand",
			Flags: []cli.Flag{assetFlag},
			Action: withLedger(func(c *cli.Context, e *env, l *ledger.Ledger) error {
				cw, err := service.Cold(c.Context, e.cfg, l)
				if err != nil {
					return err
				}
				if cw == nil {
					return fmt.Errorf("assets.%s.cold_wallet_descriptor is not set: there is no cold wallet", l.Asset())
				}
				a, err := cw.Peek(c.Context, 0)
				if err != nil {
					return err
				}
				fmt.Fprintf(c.App.Writer, "%s\t%s\n", a.Address, a.Path)
				return nil
			}),
		},
	}
}

// writeExport writes x's files into dir and tells the operator what to
// carry to the signer; it returns the paths written.
func writeExport(c *cli.Context, x cold.Export, dir string, terminal bool, format transport.Format) ([]string, error) {
	paths, err := cold.WriteFiles(dir, x)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("%w (top-up %d is exported; cryptoassets cold export --dir NEWDIR %d writes its files again)", err, x.ID, x.ID)
		}
		return nil, fmt.Errorf("top-up %d is exported but its files were not written (cryptoassets cold export --dir DIR %d writes them; the keeper writes them into its cold_export_dir and announces it): %w", x.ID, x.ID, err)
	}
	printExport(c, x)
	fmt.Fprintln(c.App.Writer, "files:")
	for _, p := range paths {
		fmt.Fprintf(c.App.Writer, "  %s\n", p)
	}
	fmt.Fprintf(c.App.Writer, "sign on the air-gapped machine: cryptoassets-signer sign --out signed.psbt %s\n  or from its QR frames: cryptoassets-signer sign --qr-dir signed-frames --qr %s\n", paths[0], paths[4])
	if terminal {
		frames, err := cold.Terminal(x, format)
		if err != nil {
			return nil, err
		}
		for i, f := range frames {
			fmt.Fprintf(c.App.Writer, "frame %d of %d (%s)\n%s\n", i+1, len(frames), format, f)
		}
	}
	return paths, nil
}

func printExport(c *cli.Context, x cold.Export) {
	w := c.App.Writer
	fmt.Fprintf(w, "top-up %d: %s\n", x.ID, x.State)
	fmt.Fprintf(w, "  txid        %s\n", x.TxID)
	fmt.Fprintf(w, "  to hot      %s BTC  %s (hot change index %d)\n", amount.FormatBTC(x.Amount), x.HotAddress, x.HotIndex)
	fmt.Fprintf(w, "  fee         %d sat (%s sat/vB, %d vB)\n", x.Fee, strconv.FormatFloat(float64(x.FeeRate)/1000, 'f', -1, 64), x.VSize)
	if x.ChangeAmount > 0 {
		fmt.Fprintf(w, "  cold change %s BTC\n", amount.FormatBTC(x.ChangeAmount))
	}
	fmt.Fprintf(w, "  inputs      %d\n", len(x.PSBT.UnsignedTx.TxIn))
	fmt.Fprintf(w, "  expires     %s\n", x.ExpiresAt.UTC().Format(time.RFC3339))
	if x.CancelledBy != "" {
		fmt.Fprintf(w, "  cancelled by %s\n", x.CancelledBy)
	}
}

type exportJSON struct {
	ID          int64     `json:"id"`
	State       string    `json:"state"`
	TxID        string    `json:"txid"`
	AmountSat   string    `json:"amount_sat"`
	FeeSat      string    `json:"fee_sat"`
	FeeRate     string    `json:"fee_rate_sat_per_vb"`
	VSize       int64     `json:"vsize"`
	HotAddress  string    `json:"address"`
	HotIndex    uint32    `json:"hot_change_index"`
	ChangeSat   string    `json:"change_sat"`
	Inputs      int       `json:"inputs"`
	ExpiresAt   time.Time `json:"expires_at"`
	CancelledBy string    `json:"cancelled_by,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	PSBTBase64  string    `json:"psbt_base64"`
}

func toJSON(x cold.Export) exportJSON {
	b64, _ := x.PSBT.B64Encode()
	return exportJSON{ID: x.ID, State: x.State, TxID: x.TxID.String(), AmountSat: strconv.FormatInt(x.Amount, 10),
		FeeSat: strconv.FormatInt(x.Fee, 10), FeeRate: strconv.FormatFloat(float64(x.FeeRate)/1000, 'f', -1, 64), VSize: x.VSize,
		HotAddress: x.HotAddress, HotIndex: x.HotIndex, ChangeSat: strconv.FormatInt(x.ChangeAmount, 10), Inputs: len(x.PSBT.UnsignedTx.TxIn),
		ExpiresAt: x.ExpiresAt.UTC(), CancelledBy: x.CancelledBy, CreatedAt: x.CreatedAt.UTC(), PSBTBase64: strings.TrimSpace(b64)}
}
