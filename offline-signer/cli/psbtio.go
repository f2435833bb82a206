package cli

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/urfave/cli/v2"

	"github.com/cryptoassets/cryptoassets/shared/psbt"
	"github.com/cryptoassets/cryptoassets/shared/psbt/qrimage"
	"github.com/cryptoassets/cryptoassets/shared/psbt/transport"
)

var inputFlags = []cli.Flag{
	&cli.StringSliceFlag{Name: "qr", Usage: "read the PSBT from QR images (PNG, JPEG or animated GIF frames), in any order; repeat the flag or list several"},
}

var outputFlags = []cli.Flag{
	&cli.StringFlag{Name: "out", Usage: "write the signed PSBT to this file (base64; binary if it ends in .psbt)"},
	&cli.StringFlag{Name: "qr-dir", Usage: "write the signed PSBT as numbered PNG QR frames into this directory"},
	&cli.StringFlag{Name: "gif", Usage: "write the signed PSBT as an animated GIF of QR frames"},
	&cli.BoolFlag{Name: "terminal", Usage: "print the QR frames on the terminal, one after another"},
	&cli.StringFlag{Name: "format", Value: "ur", Usage: "QR format: ur (Sparrow, Keystone, SeedSigner) or bbqr (Coldcard Q)"},
	&cli.StringFlag{Name: "density", Value: "medium", Usage: "QR density: low, medium or high"},
	&cli.StringFlag{Name: "tx-out", Usage: "also write the finalized network transaction to this file, as hex (for coordinators that take a transaction, not a finalized PSBT)"},
	&cli.StringFlag{Name: "tx-qr-dir", Usage: "also write the finalized network transaction as PNG QR frames into this directory (--format ur: one QR of the hex; bbqr: BBQr type T)"},
}

// readPSBT reads the PSBT named by the argument (a file) or by --qr images.
func readPSBT(c *cli.Context) (*btcpsbt.Packet, error) {
	images := c.StringSlice("qr")
	switch {
	case len(images) > 0 && c.NArg() > 0:
		return nil, errors.New("give a PSBT file or --qr images, not both")
	case len(images) > 0:
		raw, err := transport.ReadImages(images, func(path string, have, need int) {
			fmt.Fprintf(c.App.ErrWriter, "scanned %s: %d of %d parts\n", filepath.Base(path), have, need)
		})
		if err != nil {
			return nil, err
		}
		return psbt.Decode(raw, psbt.DefaultMaxSize)
	case c.NArg() == 1:
		f, err := os.Open(c.Args().First())
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return psbt.DecodeReader(f, psbt.DefaultMaxSize)
	}
	return nil, errors.New("name a PSBT file, or give --qr IMAGE (one or more)")
}

// writePSBT writes the PSBT everywhere the flags ask; at least one is needed.
func writePSBT(c *cli.Context, p *btcpsbt.Packet) error {
	raw, err := psbt.EncodeBinary(p)
	if err != nil {
		return err
	}
	wrote := false
	if out := c.String("out"); out != "" {
		data := raw
		if !strings.HasSuffix(out, ".psbt") {
			b64, err := psbt.EncodeBase64(p)
			if err != nil {
				return err
			}
			data = []byte(b64 + "\n")
		}
		f, err := os.OpenFile(out, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("writing %s: %w (existing files are never overwritten)", out, err)
		}
		if _, err := f.Write(data); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Fprintf(c.App.Writer, "signed PSBT written to %s\n", out)
		wrote = true
	}
	if c.String("qr-dir") == "" && c.String("gif") == "" && !c.Bool("terminal") {
		if !wrote && c.String("tx-out") == "" && c.String("tx-qr-dir") == "" {
			return errors.New("say where the signed PSBT goes: --out FILE, --qr-dir DIR, --gif FILE, --terminal, --tx-out FILE or --tx-qr-dir DIR")
		}
		return nil
	}
	format, err := transport.ParseFormat(c.String("format"))
	if err != nil {
		return err
	}
	density, err := transport.ParseDensity(c.String("density"))
	if err != nil {
		return err
	}
	frames, err := transport.Frames(raw, format, density)
	if err != nil {
		return err
	}
	if dir := c.String("qr-dir"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		paths, err := qrimage.WritePNGs(frames, dir, "signed", qrimage.DefaultOptions())
		if err != nil {
			return err
		}
		fmt.Fprintf(c.App.Writer, "%d %s QR frames written to %s\n", len(paths), format, dir)
	}
	if path := c.String("gif"); path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		if err := qrimage.WriteGIF(f, frames, 400*time.Millisecond, qrimage.DefaultOptions()); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Fprintf(c.App.Writer, "animated GIF of %d %s frames written to %s\n", len(frames), format, path)
	}
	if c.Bool("terminal") {
		return printTerminalQR(c, frames)
	}
	return nil
}

// writeTx writes the network transaction extracted from a complete PSBT
// where --tx-out and --tx-qr-dir ask.
func writeTx(c *cli.Context, p *btcpsbt.Packet, complete bool) error {
	file, dir := c.String("tx-out"), c.String("tx-qr-dir")
	if file == "" && dir == "" {
		return nil
	}
	if !complete {
		return errors.New("--tx-out/--tx-qr-dir: the transaction is not complete (other signatures are needed), so there is no network transaction to write; the signed PSBT was written")
	}
	tx, err := btcpsbt.Extract(p)
	if err != nil {
		return fmt.Errorf("extracting the network transaction: %w", err)
	}
	var buf bytes.Buffer
	if err := tx.Serialize(&buf); err != nil {
		return err
	}
	if file != "" {
		f, err := os.OpenFile(file, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("writing %s: %w (existing files are never overwritten)", file, err)
		}
		if _, err := fmt.Fprintln(f, hex.EncodeToString(buf.Bytes())); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Fprintf(c.App.Writer, "network transaction %s written to %s (hex)\n", tx.TxHash(), file)
	}
	if dir != "" {
		format, err := transport.ParseFormat(c.String("format"))
		if err != nil {
			return err
		}
		density, err := transport.ParseDensity(c.String("density"))
		if err != nil {
			return err
		}
		frames, err := transport.TxFrames(buf.Bytes(), format, density)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		paths, err := qrimage.WritePNGs(frames, dir, "tx", qrimage.DefaultOptions())
		if err != nil {
			return err
		}
		fmt.Fprintf(c.App.Writer, "network transaction %s written to %s as %d QR frame(s)\n", tx.TxHash(), dir, len(paths))
	}
	return nil
}

func printTerminalQR(c *cli.Context, frames []string) error {
	for i, f := range frames {
		art, err := qrimage.Terminal(f)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.App.Writer, "frame %d of %d\n%s\n", i+1, len(frames), art)
	}
	return nil
}
