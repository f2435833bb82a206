package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/cryptoassets/cryptoassets/online/broadcast"
	"github.com/cryptoassets/cryptoassets/online/cold"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/shared/psbt"
	"github.com/cryptoassets/cryptoassets/shared/psbt/transport"
)

// coldImportCommand is the one way a signed top-up comes back from the
// air-gapped signer.
func coldImportCommand() *cli.Command {
	return &cli.Command{
		Name: "import",
		Usage: "take back a top-up signed on the air-gapped signer (file or --qr frames): only an exported, still open top-up, " +
			"every input verified, then broadcast",
		ArgsUsage: "[FILE]",
		Flags:     []cli.Flag{assetFlag, &cli.StringSliceFlag{Name: "qr", Usage: "QR image files (PNG, JPEG, GIF) the signer wrote, any order"}},
		Action: withLedger(func(c *cli.Context, e *env, l *ledger.Ledger) error {
			signed, err := readSigned(c)
			if err != nil {
				return err
			}
			a := e.cfg.Assets[l.Asset()]
			im, err := cold.NewImporter(l, a.Params(), e.log)
			if err != nil {
				return err
			}
			b, err := broadcasterFor(e, l)
			if err != nil {
				return err
			}
			got, err := im.Import(c.Context, b, signed)
			if got.BatchID == 0 {
				return err
			}
			fmt.Fprintf(c.App.Writer, "top-up %d imported: %s pays %d sat to the hot wallet, fee %d sat\n", got.BatchID, got.TxID, got.Amount, got.Fee)
			if errors.Is(err, broadcast.ErrUnresolved) {
				return fmt.Errorf("broadcast %s: %w", got.TxID, err)
			}
			if err != nil {
				return err
			}
			r := got.Broadcast
			fmt.Fprintf(c.App.Writer, "broadcast %s: %s\n", r.TxID, r.Outcome)
			if r.Outcome == broadcast.Rejected {
				return fmt.Errorf("the node rejected top-up %d's transaction: %s; see `cryptoassets broadcasts find %d`", got.BatchID, r.Error, r.ID)
			}
			return nil
		}),
	}
}

// readSigned returns the signed PSBT's bytes as given: a file, or the
// frames of QR images joined.
func readSigned(c *cli.Context) ([]byte, error) {
	if imgs := c.StringSlice("qr"); len(imgs) > 0 {
		if c.NArg() > 0 {
			return nil, errors.New("give either the signed PSBT file or --qr IMAGE..., not both")
		}
		var parts int
		raw, err := transport.ReadImages(imgs, func(_ string, have, _ int) { parts = have })
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(c.App.Writer, "read the signed PSBT from %d QR images (%d parts)\n", len(imgs), parts)
		return raw, nil
	}
	if c.NArg() != 1 {
		return nil, errors.New("name the signed PSBT file, or give --qr IMAGE (one or more)")
	}
	f, err := os.Open(c.Args().First())
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// One byte past the bound, so the importer tells "too large" apart.
	raw, err := io.ReadAll(io.LimitReader(f, psbt.DefaultMaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", c.Args().First(), err)
	}
	return raw, nil
}
