package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cryptoassets/cryptoassets/online/batcher"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/withdrawals"
	"github.com/cryptoassets/cryptoassets/shared/amount"
)

func batchesCommand() *cli.Command {
	return &cli.Command{
		Name:  "batches",
		Usage: "hot-wallet transactions paying withdrawals: list, show",
		Subcommands: []*cli.Command{
			{
				Name: "list", Usage: "the newest batches first, confirmations counted at the follower's last block",
				Flags: []cli.Flag{assetFlag,
					&cli.StringFlag{Name: "state", Usage: strings.Join(batcher.States, ", ") + " (default every batch)"},
					&cli.Int64Flag{Name: "before", Usage: "list batches with an id below this one (paging)"},
					&cli.IntFlag{Name: "limit", Value: 50, Usage: "at most this many (1 to 1000)"},
					&cli.BoolFlag{Name: "json", Usage: "print a JSON array instead of a table"}},
				Action: withLedger(func(c *cli.Context, e *env, l *ledger.Ledger) error {
					if n := c.Int("limit"); n < 1 || n > 1000 {
						return fmt.Errorf("--limit %d: use 1 to 1000", n)
					}
					f := batcher.ListFilter{State: c.String("state"), Before: c.Int64("before"), Limit: c.Int("limit")}
					bs, err := batcher.NewReader(e.runner, l.Asset()).List(c.Context, f)
					if err != nil {
						return err
					}
					if c.Bool("json") {
						out := make([]batchJSON, 0, len(bs))
						for _, b := range bs {
							out = append(out, summaryOut(b))
						}
						return printJSON(c, out)
					}
					return printBatches(c, bs, f.Limit)
				}),
			},
			{
				Name: "show", Usage: "one batch: its transaction, the coins it spends, the withdrawals it pays and its broadcast record",
				ArgsUsage: "ID", Flags: []cli.Flag{assetFlag, &cli.BoolFlag{Name: "json", Usage: "print JSON"}},
				Action: withLedger(func(c *cli.Context, e *env, l *ledger.Ledger) error {
					// --json may follow the ID too (flags stop at the first argument).
					args, asJSON := []string{}, c.Bool("json")
					for _, a := range c.Args().Slice() {
						if a == "--json" || a == "-json" {
							asJSON = true
						} else {
							args = append(args, a)
						}
					}
					if len(args) != 1 {
						return errors.New("name one batch ID (see `cryptoassets batches list`)")
					}
					id, err := strconv.ParseInt(args[0], 10, 64)
					if err != nil || id <= 0 {
						return fmt.Errorf("batch ID %q: want a positive whole number (see `cryptoassets batches list`)", args[0])
					}
					b, err := batcher.NewReader(e.runner, l.Asset()).Get(c.Context, id)
					if err != nil {
						return err
					}
					if asJSON {
						return printJSON(c, batchOut(b))
					}
					return printBatch(c, b)
				}),
			},
		},
	}
}

func printJSON(c *cli.Context, v any) error {
	enc := json.NewEncoder(c.App.Writer)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printBatches(c *cli.Context, bs []batcher.Summary, limit int) error {
	if len(bs) == 0 {
		fmt.Fprintln(c.App.Writer, "no batches")
		return nil
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tSTATE\tTXID\tWITHDRAWALS\tPAID BTC\tFEE SAT\tSAT/VB\tCONF\tHEIGHT\tREPLACES\tCREATED")
	for _, b := range bs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%d\t%s\t%d\t%s\t%s\t%s\n", b.ID, b.Kind, b.State, b.TxID, b.Withdrawals, amount.FormatBTC(b.Paid), b.Fee,
			satPerVB(b.FeeRate), b.Confirmations, optInt(b.BlockHeight), optBatch(b.Replaces), b.CreatedAt.UTC().Format(stamp))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(bs) == limit {
		fmt.Fprintf(c.App.Writer, "next page: --before %d\n", bs[len(bs)-1].ID)
	}
	return nil
}

func printBatch(c *cli.Context, b batcher.Batch) error {
	w := c.App.Writer
	kind := ""
	if b.Kind != batcher.BatchWithdrawals {
		kind = "  " + b.Kind
	}
	fmt.Fprintf(w, "batch %d  %s  txid %s%s\n", b.ID, b.State, b.TxID, kind)
	pays := fmt.Sprintf("%d withdrawals, %s BTC", b.Withdrawals, amount.FormatBTC(b.Paid))
	switch b.Kind {
	case batcher.BatchSweep:
		pays = amount.FormatBTC(b.Paid) + " BTC to the cold wallet"
	case batcher.BatchTopup:
		pays = amount.FormatBTC(b.Paid) + " BTC from the cold wallet to the hot wallet"
	}
	fmt.Fprintf(w, "  pays %s; fee %d sat at %s sat/vB (%d vbytes); locktime %d\n",
		pays, b.Fee, satPerVB(b.FeeRate), b.VSize, b.LockTime)
	if b.ChangeVout != nil {
		fmt.Fprintf(w, "  change %s BTC at output %d\n", amount.FormatBTC(*b.ChangeAmount), *b.ChangeVout)
	} else {
		fmt.Fprintln(w, "  no change output")
	}
	if b.BlockHeight != nil {
		fmt.Fprintf(w, "  mined in block %d (%s), %d confirmations\n", *b.BlockHeight, b.BlockHash, b.Confirmations)
	} else {
		fmt.Fprintln(w, "  not in a block of the best chain")
	}
	if b.Replaces != nil {
		fmt.Fprintf(w, "  replaces batch %d (spends at least one of its inputs, so at most one of them can confirm)\n", *b.Replaces)
	}
	for _, r := range b.ReplacedBy {
		fmt.Fprintf(w, "  replaced by batch %d\n", r)
	}
	if r := b.Broadcast; r != nil {
		state := "OPEN: run `cryptoassets broadcasts resolve`"
		switch {
		case r.ClosedAt != nil:
			state = fmt.Sprintf("closed %s, %s", r.ClosedAt.UTC().Format(stamp), r.Outcome)
		case r.BrokenAt != nil:
			state = fmt.Sprintf("BROKEN since %s (%s): see `cryptoassets broadcasts find %d`", r.BrokenAt.UTC().Format(stamp), r.BrokenReason, r.ID)
		}
		fmt.Fprintf(w, "  broadcast %d, opened %s, %d attempts: %s\n", r.ID, r.OpenedAt.UTC().Format(stamp), r.Attempts, state)
		if r.Error != "" {
			fmt.Fprintf(w, "  the node said: %s\n", r.Error)
		}
	} else {
		fmt.Fprintln(w, "  not signed and opened for broadcast yet")
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nVOUT\tWITHDRAWAL\tSTATE\tACCOUNT\tADDRESS\tAMOUNT BTC")
	for _, p := range b.Payments {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\n", p.Vout, p.WithdrawalID, p.State, p.Account, p.Address, amount.FormatBTC(p.Amount))
	}
	fmt.Fprintln(tw, "\nINPUT\tAMOUNT BTC\tSPENT BY")
	for _, in := range b.Inputs {
		by := "-"
		if in.SpentBy != nil {
			by = in.SpentBy.String()
			if *in.SpentBy == b.TxID {
				by = "this batch"
			}
		}
		fmt.Fprintf(tw, "%s:%d\t%s\t%s\n", in.TxID, in.Vout, amount.FormatBTC(in.Amount), by)
	}
	return tw.Flush()
}

// satPerVB writes a rate in sat per 1000 vbytes as sat/vB.
func satPerVB(perKvB int64) string { return strconv.FormatFloat(float64(perKvB)/1000, 'f', -1, 64) }

func optInt(v *int32) string {
	if v == nil {
		return "-"
	}
	return strconv.Itoa(int(*v))
}

func optBatch(v *int64) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatInt(*v, 10)
}

// batchJSON is a batch as `batches list|show --json` prints it: amounts as
// strings of satoshis, as the API and the events write them.
type batchJSON struct {
	ID               int64     `json:"id"`
	Kind             string    `json:"kind"`
	State            string    `json:"state"`
	TxID             string    `json:"txid"`
	FeeSat           string    `json:"fee_sat"`
	FeeRateSatPerKvB int64     `json:"fee_rate_sat_per_kvb"`
	VSize            int32     `json:"vsize"`
	Withdrawals      int       `json:"withdrawals"`
	PaidSat          string    `json:"paid_sat"`
	BlockHeight      *int32    `json:"block_height"`
	Confirmations    int32     `json:"confirmations"`
	Replaces         *int64    `json:"replaces"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`

	// show only
	LockTime   *uint32             `json:"locktime,omitempty"`
	ChangeVout *int32              `json:"change_vout,omitempty"`
	ChangeSat  *string             `json:"change_sat,omitempty"`
	BlockHash  *string             `json:"block_hash,omitempty"`
	ReplacedBy []int64             `json:"replaced_by,omitempty"`
	Payments   []batchPaymentJSON  `json:"payments,omitempty"`
	Inputs     []batchInputJSON    `json:"inputs,omitempty"`
	Broadcast  *batchBroadcastJSON `json:"broadcast,omitempty"`
}

type batchPaymentJSON struct {
	WithdrawalID int64  `json:"withdrawal_id"`
	Vout         uint32 `json:"vout"`
	Account      string `json:"account"`
	Address      string `json:"address"`
	AmountSat    string `json:"amount_sat"`
	State        string `json:"state"`
}

type batchInputJSON struct {
	TxID      string  `json:"txid"`
	Vout      uint32  `json:"vout"`
	AmountSat string  `json:"amount_sat"`
	SpentBy   *string `json:"spent_by"`
}

type batchBroadcastJSON struct {
	ID           int64      `json:"id"`
	OpenedAt     time.Time  `json:"opened_at"`
	ClosedAt     *time.Time `json:"closed_at"`
	Outcome      *string    `json:"outcome"`
	Error        string     `json:"error,omitempty"`
	Attempts     int        `json:"attempts"`
	BrokenAt     *time.Time `json:"broken_at"`
	BrokenReason string     `json:"broken_reason,omitempty"`
}

func summaryOut(b batcher.Summary) batchJSON {
	return batchJSON{ID: b.ID, Kind: b.Kind, State: b.State, TxID: b.TxID.String(), FeeSat: strconv.FormatInt(b.Fee, 10), FeeRateSatPerKvB: b.FeeRate,
		VSize: b.VSize, Withdrawals: b.Withdrawals, PaidSat: strconv.FormatInt(b.Paid, 10), BlockHeight: b.BlockHeight,
		Confirmations: b.Confirmations, Replaces: b.Replaces, CreatedAt: b.CreatedAt, UpdatedAt: b.UpdatedAt}
}

func batchOut(b batcher.Batch) batchJSON {
	out := summaryOut(b.Summary)
	out.LockTime, out.ChangeVout, out.ReplacedBy = &b.LockTime, b.ChangeVout, b.ReplacedBy
	if b.ChangeAmount != nil {
		s := strconv.FormatInt(*b.ChangeAmount, 10)
		out.ChangeSat = &s
	}
	if b.BlockHash != nil {
		s := b.BlockHash.String()
		out.BlockHash = &s
	}
	for _, p := range b.Payments {
		out.Payments = append(out.Payments, batchPaymentJSON{WithdrawalID: p.WithdrawalID, Vout: p.Vout, Account: p.Account, Address: p.Address,
			AmountSat: strconv.FormatInt(p.Amount, 10), State: p.State})
	}
	for _, in := range b.Inputs {
		j := batchInputJSON{TxID: in.TxID.String(), Vout: in.Vout, AmountSat: strconv.FormatInt(in.Amount, 10)}
		if in.SpentBy != nil {
			s := in.SpentBy.String()
			j.SpentBy = &s
		}
		out.Inputs = append(out.Inputs, j)
	}
	if r := b.Broadcast; r != nil {
		j := &batchBroadcastJSON{ID: r.ID, OpenedAt: r.OpenedAt, ClosedAt: r.ClosedAt, Error: r.Error, Attempts: r.Attempts,
			BrokenAt: r.BrokenAt, BrokenReason: r.BrokenReason}
		if r.Outcome != "" {
			j.Outcome = &r.Outcome
		}
		out.Broadcast = j
	}
	return out
}

// describePayment is the line `withdrawals show` adds for a batched
// withdrawal: the output that pays it and how deep it is.
func describePayment(w withdrawals.Withdrawal, p *withdrawals.Payment) string {
	if p == nil || w.BatchID == nil || *w.BatchID != p.BatchID {
		return "" // not batched, or re-batched between the two reads
	}
	s := fmt.Sprintf("\n  paid by output %s:%d (batch %d, see `cryptoassets batches show %d`)", p.TxID, p.Vout, p.BatchID, p.BatchID)
	if p.BlockHeight != nil {
		s += fmt.Sprintf(", mined at height %d, %d confirmations", *p.BlockHeight, p.Confirmations)
	} else {
		s += ", not in a block yet"
	}
	return s
}
