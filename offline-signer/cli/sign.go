package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/urfave/cli/v2"

	"github.com/cryptoassets/cryptoassets/offline-signer/policy"
	"github.com/cryptoassets/cryptoassets/offline-signer/sign"
	"github.com/cryptoassets/cryptoassets/shared/amount"
	"github.com/cryptoassets/cryptoassets/shared/psbt"
)

func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "show what a PSBT would do (verified amounts, fee, destinations), without keys",
		ArgsUsage: "FILE | --qr IMAGE...",
		Flags:     append([]cli.Flag{&cli.StringFlag{Name: "network", Value: "mainnet", Usage: "network to show addresses for"}}, inputFlags...),
		Action: func(c *cli.Context) error {
			p, err := readPSBT(c)
			if err != nil {
				return err
			}
			params, err := paramsOf(c.String("network"))
			if err != nil {
				return err
			}
			s, err := psbt.Summarize(p, params)
			if err != nil {
				return err
			}
			fmt.Fprint(c.App.Writer, s.Text())
			return nil
		},
	}
}

func paramsOf(name string) (*chaincfg.Params, error) {
	switch name {
	case "mainnet":
		return &chaincfg.MainNetParams, nil
	case "testnet":
		return &chaincfg.TestNet3Params, nil
	case "signet":
		return &chaincfg.SigNetParams, nil
	case "regtest":
		return &chaincfg.RegressionNetParams, nil
	}
	return nil, fmt.Errorf("network %q: use mainnet, testnet, signet or regtest", name)
}

func signCommand() *cli.Command {
	return &cli.Command{
		Name:      "sign",
		Usage:     "verify a PSBT against the keys and the policy, show it, and sign it after you confirm",
		ArgsUsage: "FILE | --qr IMAGE...",
		Flags:     append(append([]cli.Flag{&cli.BoolFlag{Name: "yes", Usage: "do not ask for confirmation (scripts)"}}, inputFlags...), outputFlags...),
		Action: func(c *cli.Context) error {
			p, err := readPSBT(c)
			if err != nil {
				return err
			}
			pol, err := policy.Load(policyPath(c))
			if err != nil {
				return err
			}
			m, net, done, err := openMaster(c)
			if err != nil {
				return err
			}
			defer done()
			if string(net) != pol.Network {
				return fmt.Errorf("the keystore is for %s but the policy for %s: fix policy.toml", net, pol.Network)
			}
			s := &sign.Signer{Master: m, Policy: pol}
			review, err := s.Review(p)
			if err != nil {
				return fmt.Errorf("not signing: %w", err)
			}
			// The review holds the derived private keys until Sign wipes them;
			// declining, or any error before signing, wipes them here.
			defer review.Wipe()
			w := c.App.Writer
			fmt.Fprint(w, review.Summary.Text())
			fmt.Fprintf(w, "\nVerified by this signer:\n  every input is ours (re-derived from the seed)\n")
			for i, out := range review.Summary.Outputs {
				fmt.Fprintf(w, "  output #%d: %s\n", i, out.Label)
			}
			fmt.Fprintf(w, "  leaving the wallet: %s BTC to allowed destinations, fee %s BTC within policy\n\n",
				amount.FormatBTC(review.Moved), amount.FormatBTC(review.Summary.Fee))
			if !c.Bool("yes") {
				fmt.Fprint(w, "Type 'sign' to sign this transaction: ")
				answer, err := reader(c).line()
				if err != nil {
					return err
				}
				if strings.TrimSpace(answer) != "sign" {
					return errors.New("not signed: you did not confirm")
				}
			}
			complete, err := s.Sign(p, review)
			if err != nil {
				return err
			}
			switch {
			case !complete:
				fmt.Fprintln(w, "signed: other signatures are still needed")
			case len(review.Claimed) > 0:
				fmt.Fprintf(w, "signed and finalized, but NOT VERIFIED against a previous transaction: %s\n"+
					"  (amount and script as the PSBT's witness_utxo claims them; the script engine passed every input against that claim,\n"+
					"  and a taproot signature commits to it, so if it is false the network refuses the transaction)\n",
					inputList(review.Claimed))
			default:
				fmt.Fprintln(w, "signed and finalized: the transaction is complete and checked")
			}
			if err := writePSBT(c, p); err != nil {
				return err
			}
			return writeTx(c, p, complete)
		},
	}
}

func inputList(idx []int) string {
	parts := make([]string, len(idx))
	for k, i := range idx {
		parts[k] = fmt.Sprintf("input #%d", i)
	}
	return strings.Join(parts, ", ")
}
