package cli

import (
	"context"
	"fmt"
	"github.com/cryptoassets/cryptoassets/online/service"
	"os"
	"time"

	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/urfave/cli/v2"

	"github.com/cryptoassets/cryptoassets/online/chain/rpc"
	"github.com/cryptoassets/cryptoassets/online/config"

	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/cold"
	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
	"github.com/cryptoassets/cryptoassets/shared/psbt"
)

// demoColdCommands are the demo's cold-wallet steps: fund the cold wallet
// and write an unsigned top-up PSBT for the signer (`cryptoassets cold
// submit` then takes back what it signed). Regtest only.
func demoColdCommands(newFaucet func(chain.Node) Faucet) []*cli.Command {
	return []*cli.Command{
		{
			Name:  "topup",
			Usage: "pay the cold wallet from the regtest faucet and write an unsigned cold-to-hot PSBT",
			Flags: []cli.Flag{assetFlag,
				&cli.StringFlag{Name: "cold-descriptor", Required: true, Usage: "the signer's account key (cryptoassets-signer xpub)"},
				&cli.StringFlag{Name: "out", Required: true, Usage: "file for the unsigned PSBT (base64)"}},
			Action: func(c *cli.Context) error {
				e, err := loadEnv(c, true)
				if err != nil {
					return err
				}
				defer e.close()
				a, name, err := regtestAsset(c, e)
				if err != nil {
					return err
				}
				ctx, cancel := context.WithTimeout(c.Context, time.Minute)
				defer cancel()
				coldKey, err := hdkeys.ParseDescriptor(c.String("cold-descriptor"), a.Params())
				if err != nil {
					return err
				}
				hot, err := hdkeys.ParseDescriptor(a.HotWalletDescriptor, a.Params())
				if err != nil {
					return fmt.Errorf("assets.%s.hot_wallet_descriptor: %w", name, err)
				}
				node, err := nodeFor(a)
				if err != nil {
					return err
				}
				faucet := newFaucet(node)
				var coins []cold.Coin
				var total int64
				for i := uint32(0); i < 2; i++ {
					d, err := coldKey.Derive(0, i)
					if err != nil {
						return err
					}
					tx, err := faucet.Pay(ctx, d.Address.EncodeAddress(), 150_000_000)
					if err != nil {
						return err
					}
					coins = append(coins, cold.Coin{Prev: tx, Vout: 0, Key: d})
					total += 150_000_000
					fmt.Fprintf(c.App.Writer, "cold wallet funded: 1.5 BTC to %s (%s)\n", d.Address, d.Origin.PathString())
				}
				hotChange, err := hot.Derive(1, 0)
				if err != nil {
					return err
				}
				coldChange, err := coldKey.Derive(1, 0)
				if err != nil {
					return err
				}
				p, err := cold.Build(cold.TopUp{Coins: coins, Hot: hotChange, Change: coldChange, Send: 200_000_000, Fee: 2_000})
				if err != nil {
					return err
				}
				// Recorded before it leaves: cold submit takes back only what was exported.
				if err := recordExport(c, e, name, p); err != nil {
					return err
				}
				b64, err := psbt.EncodeBase64(p)
				if err != nil {
					return err
				}
				if err := os.WriteFile(c.String("out"), []byte(b64+"\n"), 0o644); err != nil {
					return err
				}
				fmt.Fprintf(c.App.Writer, "unsigned top-up PSBT written to %s: 2 BTC to the hot wallet (%s), change to the cold wallet\n", c.String("out"), hotChange.Address)
				return nil
			},
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

// recordExport records p as a top-up handed to the signer.
func recordExport(c *cli.Context, e *env, asset string, p *btcpsbt.Packet) error {
	x, err := cold.NewExports(e.runner, asset)
	if err != nil {
		return err
	}
	_, err = x.Record(c.Context, p)
	return err
}
