package cli

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cryptoassets/cryptoassets/online/withdrawals"
)

var operatorFlag = &cli.StringFlag{Name: "operator", Required: true, Usage: "who decides (recorded with the decision)"}

// approvalCommands are the operator's withdrawals subcommands: the circuit
// breaker and approvals (docs/withdrawals.md, "Limits and approvals").
func approvalCommands() []*cli.Command {
	decide := func(approve bool) cli.ActionFunc {
		return withWithdrawals(func(c *cli.Context, s *withdrawals.Service) error {
			id, err := withdrawalArg(c)
			if err != nil {
				return err
			}
			by := withdrawals.Decider{Operator: c.String("operator")}
			var d withdrawals.Decision
			if approve {
				d, err = s.Approve(c.Context, id, by)
			} else {
				d, err = s.Reject(c.Context, id, by)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "%s\n  approvals: %d of %d\n", describeWithdrawal(d.Withdrawal), d.Approvals, d.Required)
			return nil
		})
	}
	return []*cli.Command{
		{
			Name: "approve", Usage: "approve a withdrawal awaiting approval (with approvals = 2, a second operator must approve too)",
			ArgsUsage: "ID", Flags: []cli.Flag{assetFlag, operatorFlag}, Action: decide(true),
		},
		{
			Name: "reject", Usage: "reject a withdrawal awaiting approval; the amount and fee go back to the account",
			ArgsUsage: "ID", Flags: []cli.Flag{assetFlag, operatorFlag}, Action: decide(false),
		},
		{
			Name: "breaker", Usage: "show whether the circuit breaker has paused withdrawals", Flags: []cli.Flag{assetFlag},
			Action: withWithdrawals(func(c *cli.Context, s *withdrawals.Service) error {
				b, err := s.BreakerState(c.Context)
				if err != nil {
					return err
				}
				if !b.Paused {
					fmt.Fprintln(c.App.Writer, "withdrawals are running")
					return nil
				}
				fmt.Fprintf(c.App.Writer, "withdrawals paused since %s: %s\n  resume: cryptoassets withdrawals resume --asset %s --operator NAME\n",
					b.TrippedAt.UTC().Format(time.RFC3339), b.Reason, s.Asset())
				return nil
			}),
		},
		{
			Name: "resume", Usage: "resume withdrawals after the circuit breaker tripped (recorded with the operator's name)",
			Flags: []cli.Flag{assetFlag, operatorFlag},
			Action: withWithdrawals(func(c *cli.Context, s *withdrawals.Service) error {
				b, err := s.Resume(c.Context, c.String("operator"))
				if err != nil {
					return err
				}
				fmt.Fprintf(c.App.Writer, "withdrawals resumed by %s (paused since %s: %s)\n", c.String("operator"), b.TrippedAt.UTC().Format(time.RFC3339), b.Reason)
				return nil
			}),
		},
	}
}
