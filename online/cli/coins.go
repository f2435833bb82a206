package cli

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/btcsuite/btcd/wire"
	"github.com/urfave/cli/v2"

	"github.com/cryptoassets/cryptoassets/online/coins"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/shared/amount"
)

func coinsCommand() *cli.Command {
	return &cli.Command{
		Name:  "coins",
		Usage: "the wallets' coins: outputs paying our addresses, and what spent them",
		Subcommands: []*cli.Command{
			{
				Name: "list", Usage: "list coins in outpoint order, confirmations counted at the follower's last block",
				Flags: []cli.Flag{assetFlag,
					&cli.StringFlag{Name: "wallet", Usage: "hot or cold (default both)"},
					&cli.StringFlag{Name: "state", Usage: strings.Join(coins.States, ", ") + " (default every coin)"},
					&cli.StringFlag{Name: "after", Usage: "list coins after this outpoint TXID:VOUT (paging)"},
					&cli.IntFlag{Name: "limit", Value: 100, Usage: "at most this many (1 to 1000)"},
					&cli.BoolFlag{Name: "json", Usage: "print a JSON array instead of a table"}},
				Action: withLedger(func(c *cli.Context, e *env, l *ledger.Ledger) error {
					f := coins.Filter{Wallet: c.String("wallet"), State: c.String("state"), Limit: c.Int("limit")}
					if c.Int("limit") < 1 {
						return fmt.Errorf("--limit %d: use 1 to 1000", c.Int("limit"))
					}
					if a := c.String("after"); a != "" {
						op, err := wire.NewOutPointFromString(a)
						if err != nil {
							return fmt.Errorf("--after %q: want TXID:VOUT (%v)", a, err)
						}
						f.After = op
					}
					cs, err := coins.List(c.Context, e.runner.Pool(), l.Asset(), f)
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return printCoinsJSON(c, cs)
					}
					return printCoins(c, cs, f.Limit)
				}),
			},
			{
				Name: "balance", Usage: "each wallet's coins summed: confirmed, unconfirmed, reserved by a batch, being spent",
				Flags: []cli.Flag{assetFlag},
				Action: withLedger(func(c *cli.Context, e *env, l *ledger.Ledger) error {
					bs, err := coins.Balances(c.Context, e.runner.Pool(), l.Asset())
					if err != nil {
						return err
					}
					tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "WALLET\tCONFIRMED BTC\tUNCONFIRMED BTC\tRESERVED BTC\tSPENDING BTC\tUNSPENT COINS")
					for _, b := range bs {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", b.Wallet, amount.FormatBTC(b.Confirmed), amount.FormatBTC(b.Unconfirmed),
							amount.FormatBTC(b.Reserved), amount.FormatBTC(b.Spending), b.Coins)
					}
					return tw.Flush()
				}),
			},
		},
	}
}

func printCoins(c *cli.Context, cs []coins.Coin, limit int) error {
	if len(cs) == 0 {
		fmt.Fprintln(c.App.Writer, "no coins")
		return nil
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OUTPOINT\tWALLET\tADDRESS\tAMOUNT BTC\tSTATE\tCONF\tHEIGHT\tSPENT BY\tRESERVED BY")
	for _, k := range cs {
		h, by, res := "-", "-", "-"
		if k.BlockHeight != nil {
			h = strconv.Itoa(int(*k.BlockHeight))
		}
		if k.SpentBy != nil {
			by = k.SpentBy.String()
			if k.SpentHeight != nil {
				by += " @" + strconv.Itoa(int(*k.SpentHeight))
			}
		}
		if k.ReservedBy != nil {
			res = "batch " + strconv.FormatInt(*k.ReservedBy, 10)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", k.OutPoint, k.Wallet, k.Address, amount.FormatBTC(k.Amount), k.State, k.Confirmations, h, by, res)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(cs) == limit {
		fmt.Fprintf(c.App.Writer, "next page: --after %s\n", cs[len(cs)-1].OutPoint)
	}
	return nil
}

// coinJSON is a coin as `coins list --json` prints it: amounts as strings
// of satoshis, as the API and the events write them.
type coinJSON struct {
	TxID          string  `json:"txid"`
	Vout          uint32  `json:"vout"`
	Wallet        string  `json:"wallet"`
	Address       string  `json:"address"`
	AmountSat     string  `json:"amount_sat"`
	State         string  `json:"state"`
	Coinbase      bool    `json:"coinbase"`
	BlockHeight   *int32  `json:"block_height"`
	Confirmations int32   `json:"confirmations"`
	SpentBy       *string `json:"spent_by"`
	SpentHeight   *int32  `json:"spent_height"`
	ReservedBy    *int64  `json:"reserved_by"`
}

func printCoinsJSON(c *cli.Context, cs []coins.Coin) error {
	out := make([]coinJSON, 0, len(cs))
	for _, k := range cs {
		j := coinJSON{TxID: k.OutPoint.Hash.String(), Vout: k.OutPoint.Index, Wallet: k.Wallet, Address: k.Address,
			AmountSat: strconv.FormatInt(k.Amount, 10), State: k.State, Coinbase: k.Coinbase, BlockHeight: k.BlockHeight,
			Confirmations: k.Confirmations, SpentHeight: k.SpentHeight, ReservedBy: k.ReservedBy}
		if k.SpentBy != nil {
			s := k.SpentBy.String()
			j.SpentBy = &s
		}
		out = append(out, j)
	}
	return printJSON(c, out)
}
