package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/wire"
	"github.com/urfave/cli/v2"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/chain/rpc"
	servicecli "github.com/cryptoassets/cryptoassets/online/cli"
	"github.com/cryptoassets/cryptoassets/online/config"
	"github.com/cryptoassets/cryptoassets/shared/amount"
)

var assetFlag = &cli.StringFlag{Name: "asset", Aliases: []string{"a"}, Usage: "asset whose node to use; defaults to the only configured asset"}

// regtestNode reads the configuration and connects to the node of the
// chosen asset, refusing any asset that is not on regtest: the faucet's key
// is public.
func regtestNode(c *cli.Context) (*config.Asset, *rpc.Client, error) {
	cfg, err := config.LoadFromOS(c.String("config"))
	if err != nil {
		return nil, nil, err
	}
	name := c.String("asset")
	if name == "" {
		names := cfg.AssetNames()
		if len(names) != 1 {
			return nil, nil, fmt.Errorf("several assets are configured (%s): choose one with --asset", strings.Join(names, ", "))
		}
		name = names[0]
	}
	a, ok := cfg.Assets[name]
	if !ok {
		return nil, nil, fmt.Errorf("asset %q is not configured (configured: %s)", name, strings.Join(cfg.AssetNames(), ", "))
	}
	if a.Network != "regtest" {
		return nil, nil, fmt.Errorf("asset %s is on %s: the dev program works on regtest only", name, a.Network)
	}
	client, err := rpc.New(rpc.Config{URL: a.RPCURL, User: a.RPCUser, Password: a.RPCPassword, CookieFile: a.RPCCookieFile})
	if err != nil {
		return nil, nil, err
	}
	return a, client, nil
}

// parseAmount reads "0.015" (BTC) or "1500000sat" (satoshis), as cryptoassets does.
func parseAmount(s string) (int64, error) {
	if v, ok := strings.CutSuffix(s, "sat"); ok {
		return amount.ParseSat(v)
	}
	return amount.ParseBTC(s)
}

func payCommand() *cli.Command {
	return &cli.Command{
		Name:      "pay",
		Usage:     "pay a regtest address from the faucet (a customer's wallet paying a deposit address); mine to confirm it",
		ArgsUsage: "ADDRESS AMOUNT   (AMOUNT in BTC like 0.5, or satoshis like 50000000sat)",
		Flags:     []cli.Flag{assetFlag},
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return fmt.Errorf("usage: %s ADDRESS AMOUNT", c.Command.HelpName)
			}
			a, client, err := regtestNode(c)
			if err != nil {
				return err
			}
			addr, err := btcutil.DecodeAddress(c.Args().Get(0), a.Params())
			if err != nil || !addr.IsForNet(a.Params()) {
				return fmt.Errorf("%q is not a %s address", c.Args().Get(0), a.Network)
			}
			sat, err := parseAmount(c.Args().Get(1))
			if err != nil {
				return err
			}
			if sat <= 0 {
				return fmt.Errorf("amount must be positive")
			}
			tx, err := devenv.NewFaucet(chain.NewRPCNode(client)).Pay(c.Context, devenv.Payment{Address: addr.EncodeAddress(), Amount: sat})
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "paid %s BTC to %s in transaction %s (in the mempool: `cryptoassets-dev mine N` confirms it)\n",
				amount.FormatBTC(sat), addr.EncodeAddress(), tx.TxHash())
			return nil
		},
	}
}

func mineCommand() *cli.Command {
	return &cli.Command{
		Name:      "mine",
		Usage:     "mine N blocks on the regtest node (to the faucet)",
		ArgsUsage: "N",
		Flags:     []cli.Flag{assetFlag},
		Action: func(c *cli.Context) error {
			n := 1
			if c.NArg() > 1 {
				return fmt.Errorf("usage: %s [N]", c.Command.HelpName)
			}
			if c.NArg() == 1 {
				v, err := strconv.Atoi(c.Args().First())
				if err != nil || v < 1 || v > 1000 {
					return fmt.Errorf("N must be a number of blocks from 1 to 1000, not %q", c.Args().First())
				}
				n = v
			}
			_, client, err := regtestNode(c)
			if err != nil {
				return err
			}
			var hashes []string
			if err := client.Call(c.Context, &hashes, "generate", n); err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "mined %d block(s), the last %s\n", len(hashes), hashes[len(hashes)-1])
			return nil
		},
	}
}

// devFaucet is the regtest faucet in the form the demo takes.
type devFaucet struct{ f *devenv.Faucet }

func (d devFaucet) Pay(ctx context.Context, address string, sat int64) (*wire.MsgTx, error) {
	return d.f.Pay(ctx, devenv.Payment{Address: address, Amount: sat})
}

func newDevFaucet(n chain.Node) servicecli.Faucet { return devFaucet{devenv.NewFaucet(n)} }
