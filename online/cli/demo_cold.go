package cli

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cryptoassets/cryptoassets/online/addresses"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/chain/rpc"
	"github.com/cryptoassets/cryptoassets/online/cold"
	"github.com/cryptoassets/cryptoassets/online/config"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/service"
	"github.com/cryptoassets/cryptoassets/online/store"
	"github.com/cryptoassets/cryptoassets/shared/psbt"
)

// demoColdCommands are the demo's cold-wallet steps: fund the cold wallet
// and export a top-up for the signer, as `cryptoassets cold topup` does
// (`cryptoassets cold import` then takes back what it signed). Regtest only.
func demoColdCommands(newFaucet func(chain.Node) Faucet) []*cli.Command {
	return []*cli.Command{
		{
			Name:  "topup",
			Usage: "pay the cold wallet from the regtest faucet, mine and follow it, and export a cold-to-hot top-up",
			Flags: []cli.Flag{assetFlag,
				&cli.StringFlag{Name: "cold-descriptor", Usage: "the signer's account key (cryptoassets-signer xpub); default: the asset's cold_wallet_descriptor"},
				&cli.StringFlag{Name: "out", Required: true, Usage: "file for the unsigned PSBT (base64)"},
				&cli.StringFlag{Name: "dir", Usage: "also write the export's files (binary, base64, UR and BBQr QR frames) into this directory"}},
			Action: withLedger(func(c *cli.Context, e *env, l *ledger.Ledger) error {
				a, name, err := regtestAsset(c, e)
				if err != nil {
					return err
				}
				ctx, cancel := context.WithTimeout(c.Context, 2*time.Minute)
				defer cancel()
				if d := c.String("cold-descriptor"); d != "" {
					a.ColdWalletDescriptor = d
				}
				node, err := service.Node(a)
				if err != nil {
					return err
				}
				tu, err := service.TopUps(ctx, e.cfg, l, node, e.log)
				if err != nil {
					return err
				}
				cw, err := service.Cold(ctx, e.cfg, l)
				if err != nil {
					return err
				}
				faucet := newFaucet(node)
				for i := 0; i < 2; i++ {
					var to addresses.Change
					if err := e.runner.InTx(ctx, "demo-cold-address", func(tx *store.Tx) error {
						var err error
						to, err = cw.NextTx(tx, 0)
						return err
					}); err != nil {
						return err
					}
					if _, err := faucet.Pay(ctx, to.Address, 150_000_000); err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "cold wallet funded: 1.5 BTC to %s (cold receive address %d)\n", to.Address, to.Index)
				}
				// Spendable once the follower has them deep enough.
				r, err := rpcFor(a)
				if err != nil {
					return err
				}
				if err := r.Call(ctx, nil, "generate", a.CoinConfirmations); err != nil {
					return err
				}
				f, err := service.Follower(e.cfg, e.runner, name, e.log)
				if err != nil {
					return err
				}
				if err := f.SyncToTip(ctx); err != nil {
					return err
				}
				fmt.Fprintf(c.App.Writer, "%d block(s) mined and followed: the cold coins are spendable\n", a.CoinConfirmations)
				x, err := tu.Export(ctx, 200_000_000, "demo")
				if err != nil {
					return err
				}
				b64, err := psbt.EncodeBase64(x.PSBT)
				if err != nil {
					return err
				}
				if err := os.WriteFile(c.String("out"), []byte(b64+"\n"), 0o644); err != nil {
					return err
				}
				if d := c.String("dir"); d != "" {
					if _, err := cold.WriteFiles(d, x); err != nil {
						return err
					}
				}
				fmt.Fprintf(c.App.Writer, "top-up %d exported to %s: 2 BTC to the hot wallet (%s), fee %d sat, change to the cold wallet; expires %s\n",
					x.ID, c.String("out"), x.HotAddress, x.Fee, x.ExpiresAt.UTC().Format(time.RFC3339))
				return nil
			}),
		},
	}
}

// regtestAsset resolves --asset and refuses anything not on regtest.
func regtestAsset(c *cli.Context, e *env) (*config.Asset, string, error) {
	name, err := assetNamed(c, e)
	if err != nil {
		return nil, "", err
	}
	a := e.cfg.Assets[name]
	if a.Network != "regtest" {
		return nil, "", fmt.Errorf("the demo runs on regtest only; asset %s is on %s", name, a.Network)
	}
	return a, name, nil
}

func rpcFor(a *config.Asset) (*rpc.Client, error) { return service.RPC(a) }
