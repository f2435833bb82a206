package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/urfave/cli/v2"

	"github.com/cryptoassets/cryptoassets/online/service"
	"github.com/cryptoassets/cryptoassets/online/status"
	"github.com/cryptoassets/cryptoassets/shared/amount"
)

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "one screen per asset: node tip and follower height, deposits and withdrawals by state, broadcasts, hot and cold coins, the circuit breaker, which instance runs which worker, webhooks",
		Description: "Reads the database in one read-only snapshot and asks each node for its tip; changes nothing.\n" +
			"Each election's lease (follower, payments, audit per asset; the deliverer) names the serve instance running its workers,\n" +
			"its epoch and when the lease expires on the database's clock; an expired lease means no instance runs those workers now.\n" +
			"The audit's last result is known only to serve: see its /metrics (docs/monitoring.md).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "asset", Aliases: []string{"a"}, Usage: "only this asset (default every configured asset)"},
			&cli.BoolFlag{Name: "json", Usage: "print the report as JSON, for scripts"},
		},
		Action: func(c *cli.Context) error {
			e, err := loadEnv(c, true)
			if err != nil {
				return err
			}
			defer e.close()
			name := c.String("asset")
			if name != "" {
				if _, ok := e.cfg.Assets[name]; !ok {
					return fmt.Errorf("--asset %q is not configured (configured: %s)", name, strings.Join(e.cfg.AssetNames(), ", "))
				}
			}
			nodes := map[string]status.Node{}
			for _, n := range e.cfg.AssetNames() {
				node, err := service.Node(e.cfg.Assets[n])
				if err != nil {
					nodes[n] = failedNode{err}
					continue
				}
				nodes[n] = node
			}
			r, err := service.Status(e.cfg, e.runner, nodes, nil, nil)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(c.Context, 30*time.Second)
			defer cancel()
			var rep *status.Report
			if name != "" {
				rep, err = r.ReadAsset(ctx, name)
			} else {
				rep, err = r.Read(ctx)
			}
			if err != nil {
				return err
			}
			if c.Bool("json") {
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			return printStatus(c.App.Writer, rep)
		},
	}
}

// failedNode stands for a node whose client could not be built.
type failedNode struct{ err error }

func (n failedNode) Tip(context.Context) (int32, chainhash.Hash, error) {
	return 0, chainhash.Hash{}, n.err
}

func printStatus(w io.Writer, rep *status.Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for i, a := range rep.Assets {
		if i > 0 {
			fmt.Fprintln(tw)
		}
		fmt.Fprintf(tw, "%s (%s)\tat %s\n", a.Name, a.Network, rep.At.Format("2006-01-02 15:04:05Z"))
		if a.Node.Reachable {
			fmt.Fprintf(tw, "  node tip\t%d %s\n", *a.Node.Height, a.Node.Hash)
		} else {
			fmt.Fprintf(tw, "  node tip\tUNREACHABLE: %s\n", a.Node.Error)
		}
		switch {
		case a.Follower.Height == nil:
			fmt.Fprintf(tw, "  follower\tnot started (serve starts it)\n")
		case a.LagBlocks != nil:
			fmt.Fprintf(tw, "  follower\t%d, %d blocks behind the node (cursor moved %s)\n", *a.Follower.Height, *a.LagBlocks, a.Follower.UpdatedAt.UTC().Format("2006-01-02 15:04:05Z"))
		default:
			fmt.Fprintf(tw, "  follower\t%d (cursor moved %s)\n", *a.Follower.Height, a.Follower.UpdatedAt.UTC().Format("2006-01-02 15:04:05Z"))
		}
		fmt.Fprintf(tw, "  deposits\t%s\n", states(a.Deposits, status.DepositStates))
		fmt.Fprintf(tw, "  withdrawals\t%s\n", states(a.Withdrawals, status.WithdrawalStates))
		bc := fmt.Sprintf("%d open, %d broken", a.Broadcasts.Open, a.Broadcasts.Broken)
		if a.Broadcasts.OldestOpenAt != nil {
			bc += ", oldest opened " + a.Broadcasts.OldestOpenAt.UTC().Format("2006-01-02 15:04:05Z")
		}
		if a.Broadcasts.Broken > 0 {
			bc += fmt.Sprintf(" (see `cryptoassets broadcasts list --broken --asset %s`)", a.Name)
		}
		fmt.Fprintf(tw, "  broadcasts\t%s\n", bc)
		fmt.Fprintf(tw, "  hot wallet\t%s\n", wallet(a.Hot))
		fmt.Fprintf(tw, "  cold wallet\t%s\n", wallet(a.Cold))
		if a.Breaker.Tripped {
			fmt.Fprintf(tw, "  circuit breaker\tTRIPPED %s: %s (after review: cryptoassets withdrawals resume --asset %s --operator NAME)\n",
				a.Breaker.TrippedAt.UTC().Format("2006-01-02 15:04:05Z"), a.Breaker.Reason, a.Name)
		} else {
			fmt.Fprintf(tw, "  circuit breaker\tclosed: withdrawals flow\n")
		}
		au := "not known here: serve's last audit is on its /metrics (cryptoassets_audit_mismatches); `cryptoassets audit` runs one"
		if a.Audit.Known {
			au = fmt.Sprintf("%d mismatches at %s (settled %v, reserve ratio %s)", a.Audit.Mismatches, a.Audit.At.Format("2006-01-02 15:04:05Z"), a.Audit.Settled, a.Audit.ReserveRatio)
		}
		fmt.Fprintf(tw, "  audit\t%s\n", au)
		if ev := a.Audit.LastMismatchEvent; ev != nil {
			fmt.Fprintf(tw, "  last audit.mismatch\t%s, %d mismatches\n", ev.At.UTC().Format("2006-01-02 15:04:05Z"), ev.Count)
		}
		for _, e := range a.Elections {
			fmt.Fprintf(tw, "  workers %s\t%s\n", e.Name, describeElection(e))
		}
	}
	fmt.Fprintln(tw)
	fmt.Fprintf(tw, "events\tpublished up to %d, %d unpublished\n", rep.Events.PublishedUpTo, rep.Events.Unpublished)
	if len(rep.Webhooks) == 0 {
		fmt.Fprintf(tw, "webhooks\tnone configured\n")
	}
	for _, h := range rep.Webhooks {
		line := fmt.Sprintf("delivered up to %d, backlog %d", h.DeliveredUpTo, h.Backlog)
		if h.Failures > 0 {
			line += fmt.Sprintf(", %d failures in a row, last: %s", h.Failures, h.LastError)
		}
		fmt.Fprintf(tw, "webhook %s\t%s\n", h.URL, line)
	}
	for _, e := range rep.Elections {
		fmt.Fprintf(tw, "workers %s\t%s\n", e.Name, describeElection(e))
	}
	if len(rep.Workers) == 0 {
		fmt.Fprintf(tw, "this process\truns no worker (the elections above say which serve instance runs each)\n")
	}
	for _, wk := range rep.Workers {
		fmt.Fprintf(tw, "worker %s %s\t%s on %s since %s\n", wk.Name, wk.Asset, wk.Role, wk.Instance, wk.Since.Format("2006-01-02 15:04:05Z"))
	}
	return tw.Flush()
}

// describeElection says who holds an election and until when, on the
// database's clock.
func describeElection(e status.Election) string {
	workers := ""
	if len(e.Workers) > 0 {
		workers = " [" + strings.Join(e.Workers, ", ") + "]"
	}
	switch e.State {
	case status.ElectionNeverElected:
		return "NEVER ELECTED: no serve process has campaigned; start one (cryptoassets serve)" + workers
	case status.ElectionHeld:
		return fmt.Sprintf("held by %s, epoch %d, lease expires in %s%s", e.Holder, e.Epoch, secondsText(*e.ExpiresInSeconds), workers)
	}
	return fmt.Sprintf("EXPIRED %s ago, NO LEADER: last held by %s, epoch %d; start or restart a serve process%s",
		secondsText(-*e.ExpiresInSeconds), e.Holder, e.Epoch, workers)
}

func secondsText(s float64) string {
	return (time.Duration(s*1e3) * time.Millisecond).String()
}

func states(sc status.StateCounts, order []string) string {
	var parts []string
	for _, st := range sc.Names(order) {
		c := sc[st]
		if c.Count == 0 {
			parts = append(parts, st+" 0")
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %d (%s BTC)", st, c.Count, amount.FormatBTC(c.Sat)))
	}
	return strings.Join(parts, ", ")
}

func wallet(w status.Wallet) string {
	s := fmt.Sprintf("%s BTC in %d coins", amount.FormatBTC(w.Sat), w.Coins)
	var parts []string
	if w.UnconfirmedSat > 0 {
		parts = append(parts, amount.FormatBTC(w.UnconfirmedSat)+" unconfirmed")
	}
	if w.ReservedSat > 0 {
		parts = append(parts, amount.FormatBTC(w.ReservedSat)+" reserved by batches")
	}
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	var bounds []string
	if w.FloorSat != nil {
		bounds = append(bounds, "floor "+amount.FormatBTC(*w.FloorSat))
	}
	if w.CeilingSat != nil {
		bounds = append(bounds, "ceiling "+amount.FormatBTC(*w.CeilingSat))
	}
	if len(bounds) > 0 {
		s += "; " + strings.Join(bounds, ", ") + ": " + strings.ReplaceAll(w.Band, "_", " ")
	}
	return s
}
