package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cryptoassets/cryptoassets/online/audit"
	"github.com/cryptoassets/cryptoassets/online/service"
	"github.com/cryptoassets/cryptoassets/shared/amount"
)

// errAuditFailed makes `cryptoassets audit` exit 1 after printing its
// mismatches (or an unsettled result), so a cron job can alert on it.
var errAuditFailed = errors.New("audit failed")

func auditCommand() *cli.Command {
	return &cli.Command{
		Name:  "audit",
		Usage: "check the ledger and our coins against the node, and print the reserves",
		Description: "Every coin our tables call unspent is asked of the node (gettxout); every block from the wallet's birth\n" +
			"(or --from-height) is scanned for outputs paying our addresses that our coins lack; each internal account\n" +
			"is compared with the deposits, withdrawals, batches and coins it stands for. Exits 1 on a mismatch, or when\n" +
			"the follower is not at the node's tip (run it again). See docs/runbook.md, \"Reading the audit\".",
		Flags: []cli.Flag{assetFlag,
			&cli.BoolFlag{Name: "json", Usage: "print the result as JSON"},
			&cli.Int64Flag{Name: "from-height", Value: -1, Usage: "scan blocks from this height (default: the wallet's birth, the follower's first block)"},
		},
		Action: func(c *cli.Context) error {
			if h := c.Int64("from-height"); h < -1 || h > 1<<31-1 {
				return fmt.Errorf("--from-height %d: use a block height (0 or more)", h)
			}
			e, err := loadEnv(c, true)
			if err != nil {
				return err
			}
			defer e.close()
			name, err := assetNamed(c, e)
			if err != nil {
				return err
			}
			a, err := service.Auditor(e.cfg, e.runner, name, e.log)
			if err != nil {
				return fmt.Errorf("assets.%s: %w", name, err)
			}
			opt := audit.Options{FromHeight: int32(c.Int64("from-height"))}
			if !c.Bool("json") {
				start := time.Now()
				opt.Progress = func(h, to int32) {
					if time.Since(start) > 2*time.Second {
						fmt.Fprintf(c.App.ErrWriter, "scanned to block %d of %d\n", h, to)
					}
				}
			}
			r, err := a.Audit(c.Context, opt)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				if err := enc.Encode(auditJSON(r)); err != nil {
					return err
				}
			} else if err := printAudit(c, r); err != nil {
				return err
			}
			switch {
			case !r.OK():
				return fmt.Errorf("%w: %d mismatches", errAuditFailed, len(r.Mismatches))
			case !r.Settled:
				return fmt.Errorf("%w: not settled (%s): run it again once the follower has caught up", errAuditFailed, r.Unsettled)
			}
			return nil
		},
	}
}

func printAudit(c *cli.Context, r *audit.Result) error {
	w := c.App.Writer
	fmt.Fprintf(w, "asset %s: node at %d, follower at %d; %d coins asked of the node", r.Asset, r.NodeHeight, r.FollowerHeight, r.CoinsChecked)
	if r.BlocksScanned > 0 {
		fmt.Fprintf(w, "; blocks %d to %d scanned", r.ScanFrom, r.ScanTo)
	}
	fmt.Fprintln(w)
	if !r.Settled {
		fmt.Fprintf(w, "NOT SETTLED: %s\n", r.Unsettled)
	}
	if len(r.Mismatches) == 0 {
		fmt.Fprintln(w, "no mismatches")
	} else {
		fmt.Fprintf(w, "%d MISMATCHES:\n", len(r.Mismatches))
		for _, m := range r.Mismatches {
			fmt.Fprintf(w, "  %s\n    %s\n", m.Subject(), m.Detail)
		}
		if r.Omitted > 0 {
			fmt.Fprintf(w, "  and %d more coins (the first %d of each kind are listed)\n", r.Omitted, audit.ListLimit)
		}
	}
	for _, f := range r.InFlight {
		fmt.Fprintf(w, "in flight: %s batch %d %s (%s) paying %s BTC, fee %s BTC\n", f.Kind, f.Batch, f.Txid, f.State, amount.FormatBTC(f.PaidSat), amount.FormatBTC(f.FeeSat))
	}
	for _, op := range r.SpendingInPool {
		fmt.Fprintf(w, "in flight: coin %s spent in the node's mempool by a transaction of ours\n", op)
	}
	res := r.Reserves
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\nOWED\tBTC\t\tHELD\tBTC\t")
	rows := [][4]string{
		{"customers available", amount.FormatBTC(res.CustomersAvailable), "hot coins", amount.FormatBTC(res.HotCoins)},
		{"customers pending", amount.FormatBTC(res.CustomersPending), "cold coins", amount.FormatBTC(res.ColdCoins)},
		{"withdrawals pending", amount.FormatBTC(res.WithdrawalsPending), "in flight", amount.FormatBTC(res.InFlight)},
		{"total", amount.FormatBTC(res.Liabilities), "total", amount.FormatBTC(res.Held)},
	}
	for _, row := range rows {
		fmt.Fprintf(tw, "%s\t%s\t\t%s\t%s\t\n", row[0], row[1], row[2], row[3])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	ratio := res.Ratio
	if ratio == "" {
		ratio = "n/a (nothing owed)"
	}
	fmt.Fprintf(w, "reserve ratio (held / owed): %s; surplus coins no customer is owed: %s BTC hot, %s BTC cold\n", ratio,
		amount.FormatBTC(r.SurplusSat), amount.FormatBTC(r.ColdSurplusSat))
	share := res.ColdShare
	if share == "" {
		share = "n/a"
	}
	fmt.Fprintf(w, "reserves: hot %s BTC, cold %s BTC (cold share %s), ratio %s\n", amount.FormatBTC(res.HotCoins), amount.FormatBTC(res.ColdCoins), share, ratio)
	return nil
}

type auditResultJSON struct {
	Asset          string               `json:"asset"`
	At             time.Time            `json:"at"`
	OK             bool                 `json:"ok"`
	Settled        bool                 `json:"settled"`
	Unsettled      string               `json:"unsettled,omitempty"`
	NodeHeight     int32                `json:"node_height"`
	FollowerHeight int32                `json:"follower_height"`
	CoinsChecked   int                  `json:"coins_checked"`
	ScanFrom       int32                `json:"scan_from"`
	ScanTo         int32                `json:"scan_to"`
	BlocksScanned  int                  `json:"blocks_scanned"`
	Mismatches     []audit.MismatchJSON `json:"mismatches"`
	Omitted        int                  `json:"omitted"`
	InFlight       []inFlightJSON       `json:"in_flight"`
	SpendingInPool []string             `json:"spending_in_mempool"`
	SurplusSat     string               `json:"surplus_sat"`
	ColdSurplusSat string               `json:"cold_surplus_sat"`
	Reserves       map[string]string    `json:"reserves"`
}

type inFlightJSON struct {
	Batch   int64  `json:"batch_id"`
	Kind    string `json:"kind"`
	Txid    string `json:"txid"`
	State   string `json:"state"`
	PaidSat string `json:"paid_sat"`
	FeeSat  string `json:"fee_sat"`
}

func auditJSON(r *audit.Result) auditResultJSON {
	sat := func(v int64) string { return strconv.FormatInt(v, 10) }
	j := auditResultJSON{Asset: r.Asset, At: r.At, OK: r.OK(), Settled: r.Settled, Unsettled: r.Unsettled, NodeHeight: r.NodeHeight,
		FollowerHeight: r.FollowerHeight, CoinsChecked: r.CoinsChecked, ScanFrom: r.ScanFrom, ScanTo: r.ScanTo, BlocksScanned: r.BlocksScanned,
		Mismatches: audit.MismatchesJSON(r.Mismatches), Omitted: r.Omitted, InFlight: []inFlightJSON{}, SpendingInPool: []string{}, SurplusSat: sat(r.SurplusSat),
		ColdSurplusSat: sat(r.ColdSurplusSat)}
	for _, f := range r.InFlight {
		j.InFlight = append(j.InFlight, inFlightJSON{Batch: f.Batch, Kind: f.Kind, Txid: f.Txid.String(), State: f.State, PaidSat: sat(f.PaidSat), FeeSat: sat(f.FeeSat)})
	}
	for _, op := range r.SpendingInPool {
		j.SpendingInPool = append(j.SpendingInPool, op.String())
	}
	res := r.Reserves
	j.Reserves = map[string]string{
		"customers_available_sat": sat(res.CustomersAvailable), "customers_pending_sat": sat(res.CustomersPending),
		"withdrawals_pending_sat": sat(res.WithdrawalsPending), "liabilities_sat": sat(res.Liabilities),
		"hot_coins_sat": sat(res.HotCoins), "cold_coins_sat": sat(res.ColdCoins), "in_flight_sat": sat(res.InFlight),
		"held_sat": sat(res.Held), "ratio": res.Ratio, "cold_share": res.ColdShare,
		"cold_ledger_sat": sat(r.Ledger["cold_wallet"]), "hot_ledger_sat": sat(r.Ledger["hot_wallet"]),
	}
	return j
}
