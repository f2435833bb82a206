package audit

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/cryptoassets/cryptoassets/online/events"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// EventMismatch reports a settled audit's mismatches, once per distinct
// set (by subject: kind and coin or account).
const EventMismatch = "audit.mismatch"

// Serve's chain scan covers the blocks since its previous run: the first
// run after start the last firstWindow blocks, each later one from
// reorgMargin blocks below the previous run's end. A scan from the
// wallet's birth is `cryptoassets audit`.
const (
	firstWindow = 1008 // a week of blocks
	reorgMargin = 6
)

// Unsettled audits are tried again this many times, this far apart.
const (
	settleTries = 6
	settleWait  = 5 * time.Second
)

// Worker runs the audit every interval for serve.
type Worker struct {
	Auditor  *Auditor
	Interval time.Duration

	scannedTo   int32 // the end of the previous run's scan; -1 before
	fingerprint string
	settleWait  time.Duration
}

// NewWorker returns serve's audit worker for a.
func NewWorker(a *Auditor, interval time.Duration) *Worker {
	return &Worker{Auditor: a, Interval: interval, scannedTo: -1, settleWait: settleWait}
}

// Run audits every interval until ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		if err := w.Step(ctx); errors.Is(err, ErrNotStarted) {
			w.Auditor.log.Info("audit waits for the chain follower's first block")
		} else if err != nil && ctx.Err() == nil {
			w.Auditor.log.Error("audit could not run", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(w.Interval):
		}
	}
	return nil
}

// Step runs one audit (tried again while unsettled), logs it, and emits
// audit.mismatch when a settled result shows a set of mismatches not
// reported before.
func (w *Worker) Step(ctx context.Context) error {
	a := w.Auditor
	var r *Result
	for try := range settleTries {
		from := int32(-1)
		if w.scannedTo >= 0 {
			from = max(w.scannedTo-reorgMargin, 0)
		} else {
			h, _, err := a.node.Tip(ctx)
			if err != nil {
				return err
			}
			from = max(h-firstWindow, 0)
		}
		var err error
		if r, err = a.Audit(ctx, Options{FromHeight: from}); err != nil {
			return err
		}
		if r.Settled {
			break
		}
		if try < settleTries-1 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(w.settleWait):
			}
		}
	}
	if r.ScanTo >= 0 {
		w.scannedTo = r.ScanTo
	}
	if !r.Settled {
		a.log.Warn("audit not settled: the follower is not at the node's tip; mismatches are not reported", "reason", r.Unsettled)
		return nil
	}
	if r.OK() {
		if w.fingerprint != "" {
			a.log.Info("audit passes again")
		}
		w.fingerprint = ""
		a.log.Info("audit passed", "coins_checked", r.CoinsChecked, "blocks_scanned", r.BlocksScanned, "reserve_ratio", r.Reserves.Ratio)
		return nil
	}
	fp := Fingerprint(r.Mismatches)
	for _, m := range r.Mismatches {
		a.log.Error("audit mismatch", "kind", m.Kind, "subject", m.Subject(), "detail", m.Detail)
	}
	if fp == w.fingerprint {
		return nil
	}
	if err := a.emit(ctx, r); err != nil {
		return err
	}
	w.fingerprint = fp
	return nil
}

// emit writes the audit.mismatch event.
func (a *Auditor) emit(ctx context.Context, r *Result) error {
	payload := map[string]any{
		"mismatches":      MismatchesJSON(r.Mismatches),
		"count":           len(r.Mismatches),
		"node_height":     r.NodeHeight,
		"follower_height": r.FollowerHeight,
		"reserve_ratio":   r.Reserves.Ratio,
	}
	return a.runner.InTx(ctx, "audit-mismatch", func(tx *store.Tx) error {
		_, err := events.Emit(tx, a.asset, EventMismatch, payload)
		return err
	})
}

// MismatchJSON is a mismatch as the event and `audit --json` write it:
// amounts as strings of satoshis.
type MismatchJSON struct {
	Kind        string  `json:"kind"`
	Subject     string  `json:"subject"`
	Coin        *string `json:"coin"`
	Account     *string `json:"account"`
	Part        *string `json:"part,omitempty"`
	ExpectedSat *string `json:"expected_sat,omitempty"`
	ActualSat   *string `json:"actual_sat,omitempty"`
	AmountSat   *string `json:"amount_sat,omitempty"`
	Detail      string  `json:"detail"`
}

// MismatchesJSON converts mismatches for JSON.
func MismatchesJSON(ms []Mismatch) []MismatchJSON {
	out := make([]MismatchJSON, 0, len(ms))
	str := func(s string) *string { return &s }
	sat := func(v int64) *string { return str(strconv.FormatInt(v, 10)) }
	for _, m := range ms {
		j := MismatchJSON{Kind: m.Kind, Subject: m.Subject(), Detail: m.Detail}
		if m.Coin != nil {
			j.Coin = str(m.Coin.String())
			j.AmountSat = sat(m.AmountSat)
		}
		if m.Account != "" {
			j.Account, j.Part, j.ExpectedSat, j.ActualSat = str(m.Account), str(m.Part), sat(m.Expected), sat(m.Actual)
		}
		out = append(out, j)
	}
	return out
}
