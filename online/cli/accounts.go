package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/cryptoassets/cryptoassets/online/api"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/shared/amount"
)

var assetFlag = &cli.StringFlag{Name: "asset", Aliases: []string{"a"}, Usage: "asset (schema) to act on; defaults to the only configured asset"}

// ledgerFor resolves --asset and opens its ledger.
func ledgerFor(c *cli.Context, e *env) (*ledger.Ledger, error) {
	name, err := assetNamed(c, e)
	if err != nil {
		return nil, err
	}
	return ledger.New(e.runner, name)
}

// assetNamed resolves --asset, defaulting to the only configured asset.
func assetNamed(c *cli.Context, e *env) (string, error) {
	name := c.String("asset")
	if name == "" {
		names := e.cfg.AssetNames()
		if len(names) != 1 {
			return "", fmt.Errorf("several assets are configured (%s): choose one with --asset", strings.Join(names, ", "))
		}
		name = names[0]
	}
	if _, ok := e.cfg.Assets[name]; !ok {
		return "", fmt.Errorf("asset %q is not configured (configured: %s)", name, strings.Join(e.cfg.AssetNames(), ", "))
	}
	return name, nil
}

// withLedger loads the environment and the ledger, then runs fn.
func withLedger(fn func(c *cli.Context, e *env, l *ledger.Ledger) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		e, err := loadEnv(c, true)
		if err != nil {
			return err
		}
		defer e.close()
		l, err := ledgerFor(c, e)
		if err != nil {
			return err
		}
		return fn(c, e, l)
	}
}

// parseCLIAmount reads "0.015" (BTC) or "1500000sat" (satoshis).
func parseCLIAmount(s string) (int64, error) {
	if v, ok := strings.CutSuffix(s, "sat"); ok {
		return amount.ParseSat(v)
	}
	return amount.ParseBTC(s)
}

func needArgs(c *cli.Context, n int, usage string) error {
	if c.NArg() != n {
		return fmt.Errorf("usage: %s %s", c.Command.HelpName, usage)
	}
	return nil
}

func printAccount(c *cli.Context, a ledger.Account) {
	fmt.Fprintf(c.App.Writer, "%s (%s)\n  available %s BTC (%d sat)\n  pending   %s BTC (%d sat)\n",
		a.Name, a.Kind, amount.FormatBTC(a.Available), a.Available, amount.FormatBTC(a.Pending), a.Pending)
}

func accountCommand() *cli.Command {
	return &cli.Command{
		Name:  "account",
		Usage: "customer accounts: create, list, show balance, history",
		Subcommands: []*cli.Command{
			{
				Name: "create", Usage: "create a customer account", ArgsUsage: "NAME", Flags: []cli.Flag{assetFlag},
				Action: withLedger(func(c *cli.Context, e *env, l *ledger.Ledger) error {
					if err := needArgs(c, 1, "NAME"); err != nil {
						return err
					}
					a, err := l.CreateAccount(c.Context, c.Args().First())
					if err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "created account %s in %s\n", a.Name, l.Asset())
					return nil
				}),
			},
			{
				Name: "list", Usage: "list accounts with balances", Flags: []cli.Flag{assetFlag,
					&cli.Int64Flag{Name: "after", Usage: "list accounts after this id (paging)"},
					&cli.IntFlag{Name: "limit", Value: 100, Usage: "at most this many"}},
				Action: withLedger(func(c *cli.Context, e *env, l *ledger.Ledger) error {
					accts, err := l.ListAccounts(c.Context, c.Int64("after"), c.Int("limit"))
					if err != nil {
						return err
					}
					tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', tabwriter.AlignRight)
					fmt.Fprintln(tw, "ID\tNAME\tKIND\tAVAILABLE BTC\tPENDING BTC\t")
					for _, a := range accts {
						fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t\n", a.ID, a.Name, a.Kind, amount.FormatBTC(a.Available), amount.FormatBTC(a.Pending))
					}
					return tw.Flush()
				}),
			},
			{
				Name: "balance", Usage: "show an account's balance", ArgsUsage: "NAME", Flags: []cli.Flag{assetFlag},
				Action: withLedger(func(c *cli.Context, e *env, l *ledger.Ledger) error {
					if err := needArgs(c, 1, "NAME"); err != nil {
						return err
					}
					a, err := l.GetAccount(c.Context, c.Args().First())
					if err != nil {
						return err
					}
					printAccount(c, a)
					return nil
				}),
			},
			{
				Name: "history", Usage: "an account's ledger entries, newest first", ArgsUsage: "NAME", Flags: []cli.Flag{assetFlag,
					&cli.Int64Flag{Name: "before", Usage: "entries older than this entry id (paging)"},
					&cli.IntFlag{Name: "limit", Value: 50, Usage: "at most this many"}},
				Action: withLedger(func(c *cli.Context, e *env, l *ledger.Ledger) error {
					if err := needArgs(c, 1, "NAME"); err != nil {
						return err
					}
					entries, err := l.History(c.Context, c.Args().First(), c.Int64("before"), c.Int("limit"))
					if err != nil {
						return err
					}
					tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "ENTRY\tTIME\tKIND\tAVAILABLE\tPENDING\tWITH\tMEMO")
					for _, en := range entries {
						fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", en.ID, en.CreatedAt.UTC().Format("2006-01-02 15:04:05"), en.Kind,
							amount.FormatBTC(en.Available), amount.FormatBTC(en.Pending), strings.Join(en.Counterparties, ","), en.Memo)
					}
					return tw.Flush()
				}),
			},
		},
	}
}

func transferCommand() *cli.Command {
	return &cli.Command{
		Name: "transfer", Usage: "move money between two customer accounts, off-chain and immediately",
		ArgsUsage: "FROM TO AMOUNT   (AMOUNT in BTC like 0.015, or satoshis like 1500000sat)",
		Flags: []cli.Flag{assetFlag, &cli.StringFlag{Name: "memo", Usage: "a note kept with the transfer"},
			&cli.StringFlag{Name: "idempotency-key", Usage: "a unique string for this operation (e.g. a ticket number): run again with the same key and the same transfer, it prints the first result and moves nothing; the same key with another transfer is refused"}},
		Action: withLedger(func(c *cli.Context, e *env, l *ledger.Ledger) error {
			if err := needArgs(c, 3, "FROM TO AMOUNT"); err != nil {
				return err
			}
			sat, err := parseCLIAmount(c.Args().Get(2))
			if err != nil {
				return err
			}
			req := ledger.TransferRequest{From: c.Args().Get(0), To: c.Args().Get(1), Amount: sat, Memo: c.String("memo")}
			if c.IsSet("idempotency-key") {
				key := c.String("idempotency-key")
				if err := checkIdempotencyKey(key); err != nil {
					return err
				}
				t, replayed, err := transferOnce(c.Context, e.runner, l, key, req)
				if err != nil {
					return err
				}
				fmt.Fprintln(c.App.Writer, describeTransfer(t, replayed))
				return nil
			}
			t, err := l.Transfer(c.Context, req)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.App.Writer, describeTransfer(t, false))
			return nil
		}),
	}
}

func ledgerCommand() *cli.Command {
	return &cli.Command{
		Name:  "ledger",
		Usage: "ledger maintenance",
		Subcommands: []*cli.Command{{
			Name: "check", Usage: "verify the ledger's invariants (money conserved, caches equal entries, no negative customer)", Flags: []cli.Flag{assetFlag},
			Action: withLedger(func(c *cli.Context, e *env, l *ledger.Ledger) error {
				if err := l.Check(c.Context); err != nil {
					return err
				}
				fmt.Fprintf(c.App.Writer, "ledger %s: consistent\n", l.Asset())
				return nil
			}),
		}},
	}
}

func tokenCommand() *cli.Command {
	withTokens := func(fn func(c *cli.Context, t *api.Tokens) error) cli.ActionFunc {
		return func(c *cli.Context) error {
			e, err := loadEnv(c, true)
			if err != nil {
				return err
			}
			defer e.close()
			return fn(c, api.NewTokens(e.runner))
		}
	}
	return &cli.Command{
		Name:  "token",
		Usage: "API bearer tokens: create, list, revoke",
		Subcommands: []*cli.Command{
			{
				Name: "create", Usage: "create a token; its secret is printed once", ArgsUsage: "NAME",
				Flags: []cli.Flag{&cli.StringFlag{Name: "scope", Value: api.ScopeApplication, Usage: "application (requests and reads) or operator (also approves and rejects withdrawals)"}},
				Action: withTokens(func(c *cli.Context, t *api.Tokens) error {
					if err := needArgs(c, 1, "NAME"); err != nil {
						return err
					}
					tok, secret, err := t.CreateScoped(c.Context, c.Args().First(), c.String("scope"))
					if err != nil {
						return err
					}
					fmt.Fprintf(c.App.ErrWriter, "token %d (%s) created; store the secret now, it is not shown again:\n", tok.ID, tok.Name)
					fmt.Fprintln(c.App.Writer, secret)
					return nil
				}),
			},
			{
				Name: "list", Usage: "list tokens",
				Action: withTokens(func(c *cli.Context, t *api.Tokens) error {
					toks, err := t.List(c.Context)
					if err != nil {
						return err
					}
					tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "ID\tNAME\tSCOPE\tCREATED\tREVOKED")
					for _, k := range toks {
						revoked := "-"
						if k.RevokedAt != nil {
							revoked = k.RevokedAt.UTC().Format("2006-01-02 15:04:05")
						}
						fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Scope, k.CreatedAt.UTC().Format("2006-01-02 15:04:05"), revoked)
					}
					return tw.Flush()
				}),
			},
			{
				Name: "revoke", Usage: "revoke a token at once", ArgsUsage: "ID",
				Action: withTokens(func(c *cli.Context, t *api.Tokens) error {
					if err := needArgs(c, 1, "ID"); err != nil {
						return err
					}
					id, err := strconv.ParseInt(c.Args().First(), 10, 64)
					if err != nil {
						return errors.New("token id must be a number (see `cryptoassets token list`)")
					}
					if err := t.Revoke(c.Context, id); err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "token %d revoked\n", id)
					return nil
				}),
			},
		},
	}
}
