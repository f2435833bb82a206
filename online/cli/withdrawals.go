package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/service"
	"github.com/cryptoassets/cryptoassets/online/store"
	"github.com/cryptoassets/cryptoassets/online/withdrawals"
	"github.com/cryptoassets/cryptoassets/shared/amount"
)

// withdrawalService is the withdrawal service of the ledger's asset, with
// the asset's network, fee, limits and approvals from the configuration.
func withdrawalService(e *env, l *ledger.Ledger) (*withdrawals.Service, error) {
	return service.Withdrawals(e.cfg, l)
}

func withWithdrawals(fn func(c *cli.Context, s *withdrawals.Service) error) cli.ActionFunc {
	return withLedger(func(c *cli.Context, e *env, l *ledger.Ledger) error {
		s, err := withdrawalService(e, l)
		if err != nil {
			return err
		}
		return fn(c, s)
	})
}

func describeWithdrawal(w withdrawals.Withdrawal) string {
	s := fmt.Sprintf("withdrawal %d  %s  %s BTC (%d sat) from %s to %s, fee %d sat, created %s",
		w.ID, w.State, amount.FormatBTC(w.Amount), w.Amount, w.Account, w.Address, w.Fee, w.CreatedAt.UTC().Format(time.RFC3339))
	if w.Internal {
		s += fmt.Sprintf("\n  paid internally to account %s (no chain transaction)", w.InternalTo)
	}
	if w.BatchID != nil {
		s += fmt.Sprintf("\n  batch %d", *w.BatchID)
	}
	return s
}

func withdrawCommand() *cli.Command {
	return &cli.Command{
		Name: "withdraw", Usage: "request a withdrawal from a customer account to an address (debited now; paid on chain by the batcher)",
		ArgsUsage: "ACCOUNT ADDRESS AMOUNT   (AMOUNT in BTC like 0.015, or satoshis like 1500000sat)",
		Flags: []cli.Flag{assetFlag,
			&cli.StringFlag{Name: "idempotency-key", Usage: "a unique string for this operation: run again with the same key and the same request, it prints the first withdrawal and debits nothing; the same key with another request is refused"}},
		Action: withWithdrawals(func(c *cli.Context, s *withdrawals.Service) error {
			if err := needArgs(c, 3, "ACCOUNT ADDRESS AMOUNT"); err != nil {
				return err
			}
			sat, err := parseCLIAmount(c.Args().Get(2))
			if err != nil {
				return err
			}
			req := withdrawals.Request{Account: c.Args().Get(0), Address: c.Args().Get(1), Amount: sat}
			if c.IsSet("idempotency-key") {
				if err := checkIdempotencyKey(c.String("idempotency-key")); err != nil {
					return err
				}
				req.TokenID, req.IdempotencyKey = cliTokenID, c.String("idempotency-key")
				w, replayed, err := withdrawOnce(c.Context, s, req)
				if err != nil {
					return errors.Join(err, s.TripOnBreach(c.Context, err))
				}
				out := describeWithdrawal(w)
				if replayed {
					out += "\n  (already requested under this idempotency key; nothing debited now)"
				}
				fmt.Fprintln(c.App.Writer, out)
				return nil
			}
			w, err := s.Request(c.Context, req)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.App.Writer, describeWithdrawal(w))
			return nil
		}),
	}
}

func withdrawalArg(c *cli.Context) (int64, error) {
	if err := needArgs(c, 1, "ID"); err != nil {
		return 0, err
	}
	id, err := strconv.ParseInt(c.Args().First(), 10, 64)
	if err != nil || id < 1 {
		return 0, fmt.Errorf("withdrawal id %q: want a positive integer", c.Args().First())
	}
	return id, nil
}

func withdrawalsCommand() *cli.Command {
	return &cli.Command{
		Name:  "withdrawals",
		Usage: "withdrawal requests: list, show, cancel, approve, reject; the circuit breaker: breaker, resume",
		Subcommands: append([]*cli.Command{
			{
				Name: "list", Usage: "list withdrawals in id order", Flags: []cli.Flag{assetFlag,
					&cli.Int64Flag{Name: "after", Usage: "list withdrawals after this id (paging)"},
					&cli.IntFlag{Name: "limit", Value: 100, Usage: "at most this many (1 to 1000)"}},
				Action: withWithdrawals(func(c *cli.Context, s *withdrawals.Service) error {
					ws, err := s.List(c.Context, c.Int64("after"), c.Int("limit"))
					if err != nil {
						return err
					}
					for _, w := range ws {
						fmt.Fprintln(c.App.Writer, describeWithdrawal(w))
					}
					if len(ws) == 0 {
						fmt.Fprintln(c.App.Writer, "no withdrawals")
					}
					return nil
				}),
			},
			{
				Name: "show", Usage: "show one withdrawal", ArgsUsage: "ID", Flags: []cli.Flag{assetFlag},
				Action: withWithdrawals(func(c *cli.Context, s *withdrawals.Service) error {
					id, err := withdrawalArg(c)
					if err != nil {
						return err
					}
					w, err := s.Get(c.Context, id)
					if err != nil {
						return err
					}
					p, err := s.Payment(c.Context, id)
					if err != nil {
						return err
					}
					fmt.Fprintln(c.App.Writer, describeWithdrawal(w)+describePayment(w, p))
					return nil
				}),
			},
			{
				Name: "cancel", Usage: "cancel a withdrawal that is not batched yet; the amount and fee go back to the account", ArgsUsage: "ID", Flags: []cli.Flag{assetFlag},
				Action: withWithdrawals(func(c *cli.Context, s *withdrawals.Service) error {
					id, err := withdrawalArg(c)
					if err != nil {
						return err
					}
					w, err := s.Cancel(c.Context, id)
					if err != nil {
						return err
					}
					fmt.Fprintln(c.App.Writer, describeWithdrawal(w))
					return nil
				}),
			},
		}, approvalCommands()...),
	}
}

// isWithdrawalRefusal says whether err is a rule refusing the request
// itself, stored under the key like transfer's refusals.
func isWithdrawalRefusal(err error) bool {
	for _, e := range []error{withdrawals.ErrInvalidAddress, withdrawals.ErrWrongNetwork, withdrawals.ErrUnsupportedAddress,
		withdrawals.ErrDust, withdrawals.ErrOwnAddress} {
		if errors.Is(err, e) {
			return true
		}
	}
	return isRefusal(err)
}

// withdrawOnce requests the withdrawal under the CLI key, as runOnce says:
// a replay returns the first withdrawal (or refusal) and debits nothing.
func withdrawOnce(ctx context.Context, s *withdrawals.Service, req withdrawals.Request) (withdrawals.Withdrawal, bool, error) {
	request := struct {
		Command, Asset, Account, Address string
		Amount                           int64
	}{"withdraw", s.Asset(), req.Account, req.Address, req.Amount}
	return runOnce(ctx, s.Runner(), "cli-withdraw", req.IdempotencyKey, request,
		func(tx *store.Tx) (withdrawals.Withdrawal, error) { return s.RequestTx(tx, req) }, isWithdrawalRefusal)
}
