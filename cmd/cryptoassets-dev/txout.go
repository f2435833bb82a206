package main

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/urfave/cli/v2"

	"github.com/cryptoassets/cryptoassets/shared/amount"
)

// txoutCommand asks the node itself (gettxout) whether an output exists
// and is unspent: the chain's proof that a withdrawal was paid, read
// without the service's tables.
func txoutCommand() *cli.Command {
	return &cli.Command{
		Name:      "txout",
		Usage:     "ask the node for an unspent output (gettxout, mempool included): its value, address and confirmations",
		ArgsUsage: "TXID VOUT",
		Flags:     []cli.Flag{assetFlag},
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return fmt.Errorf("usage: %s TXID VOUT", c.Command.HelpName)
			}
			txid, err := chainhash.NewHashFromStr(c.Args().Get(0))
			if err != nil || len(c.Args().Get(0)) != 64 {
				return fmt.Errorf("TXID %q: want 64 hex digits", c.Args().Get(0))
			}
			vout, err := strconv.ParseUint(c.Args().Get(1), 10, 32)
			if err != nil {
				return fmt.Errorf("VOUT %q: want an output index", c.Args().Get(1))
			}
			_, client, err := regtestNode(c)
			if err != nil {
				return err
			}
			raw, err := client.CallRaw(c.Context, "gettxout", txid.String(), vout, true)
			if err != nil {
				return err
			}
			if len(raw) == 0 || string(raw) == "null" {
				return fmt.Errorf("the node has no unspent output %s:%d (never created, or spent since)", txid, vout)
			}
			var out struct {
				Confirmations int64       `json:"confirmations"`
				Value         json.Number `json:"value"`
				ScriptPubKey  struct {
					Address   string   `json:"address"`   // Bitcoin Core
					Addresses []string `json:"addresses"` // btcd
				} `json:"scriptPubKey"`
			}
			if err := json.Unmarshal(raw, &out); err != nil {
				return fmt.Errorf("gettxout answered %s: %w", raw, err)
			}
			addr := out.ScriptPubKey.Address
			if addr == "" && len(out.ScriptPubKey.Addresses) > 0 {
				addr = out.ScriptPubKey.Addresses[0]
			}
			btc, err := out.Value.Float64() // a JSON number of BTC, possibly in exponent form
			if err != nil {
				return fmt.Errorf("gettxout value %s: %w", out.Value, err)
			}
			sat := int64(math.Round(btc * 1e8))
			fmt.Fprintf(c.App.Writer, "the node has %s:%d: %s BTC to %s, %d confirmations\n", txid, vout, amount.FormatBTC(sat), addr, out.Confirmations)
			return nil
		},
	}
}
