package broadcast

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// openRecord is an open record with its transaction, as Resolve sees it.
type openRecord struct {
	rec     Record
	tx      *wire.MsgTx
	overdue bool            // open longer than brokenAfter
	spent   []wire.OutPoint // inputs the node shows spent or missing
	where   string          // where the node has it; "" nowhere
	reason  string          // why its inputs show it can never confirm
}

// Resolve settles every open record. One the node knows (in its mempool,
// by an output among the chain's coins, or in a block since it was opened)
// is closed as accepted, broken or not. One whose inputs the node shows
// spent while it is nowhere was spent by a transaction we did not sign: it
// is marked broken and never sent again. Any other is sent again with the
// same bytes, and marked broken too once it has been open longer than the
// configured age. None of this needs the node's transaction index. It
// returns the records it looked at; records it could not settle are named
// in the error and the others are still settled.
func (b *Broadcaster) Resolve(ctx context.Context) ([]Record, error) {
	opens, err := b.openRecords(ctx)
	if err != nil {
		return nil, err
	}
	var errs []error
	var pending []*openRecord
	for _, o := range opens {
		if _, err := b.hooksFor(o.rec.Kind); err != nil {
			errs = append(errs, fmt.Errorf("broadcast %d: %w", o.rec.ID, err))
			continue
		}
		if o.spent, err = b.spentInputs(ctx, o.tx); err != nil {
			return nil, err
		}
		if o.where, err = b.quickFind(ctx, o.tx); err != nil {
			return nil, err
		}
		pending = append(pending, o)
	}
	if err := b.scanFor(ctx, pending); err != nil {
		return nil, err
	}
	var out []Record
	for _, o := range pending {
		if err := b.settle(ctx, o); err != nil {
			errs = append(errs, fmt.Errorf("broadcast %d (%s): %w", o.rec.ID, o.rec.TxID, err))
		}
		r, err := b.Get(ctx, o.rec.TxID)
		if err != nil && !errors.Is(err, ErrUnresolved) {
			return out, err
		}
		out = append(out, r)
	}
	return out, errors.Join(errs...)
}

func (b *Broadcaster) openRecords(ctx context.Context) ([]*openRecord, error) {
	rows, err := b.runner.Pool().Query(ctx, `SELECT `+recordColumns+`, raw_tx, opened_at < now() - make_interval(secs => $1)
		FROM `+b.schema+`.broadcasts WHERE closed_at IS NULL ORDER BY id`, b.brokenAfter.Seconds())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var opens []*openRecord
	for rows.Next() {
		var raw []byte
		o := &openRecord{tx: new(wire.MsgTx)}
		if o.rec, err = scanWith(rows, &raw, &o.overdue); err != nil {
			return nil, err
		}
		if err := o.tx.Deserialize(bytes.NewReader(raw)); err != nil {
			return nil, fmt.Errorf("broadcast %d (%s): stored bytes unreadable: %w", o.rec.ID, o.rec.TxID, err)
		}
		opens = append(opens, o)
	}
	return opens, rows.Err()
}

// scanFor reads the recent blocks once for every pending record not found
// yet, and for the spenders of their spent inputs.
func (b *Broadcaster) scanFor(ctx context.Context, pending []*openRecord) error {
	want := map[chainhash.Hash]bool{}
	watch := map[wire.OutPoint]bool{}
	var oldest time.Time
	for _, o := range pending {
		if o.where != "" {
			continue
		}
		want[o.rec.TxID] = true
		if o.rec.BrokenAt == nil {
			// Spenders name the reason a record becomes broken; once it
			// is, they are not looked for again.
			for _, op := range o.spent {
				watch[op] = true
			}
		}
		if oldest.IsZero() || o.rec.OpenedAt.Before(oldest) {
			oldest = o.rec.OpenedAt
		}
	}
	if len(want) == 0 {
		return nil
	}
	r, err := b.scanRange(ctx, oldest)
	if err != nil {
		return err
	}
	b.scanMu.Lock()
	for id := range b.absent {
		if !want[id] {
			delete(b.absent, id)
		}
	}
	for h := range b.chainAt {
		if h < r.From || h > r.To {
			delete(b.chainAt, h)
		}
	}
	found, spenders, err := b.scanBlocksCached(ctx, r, want, watch, b.absent)
	b.scanMu.Unlock()
	if err != nil {
		return err
	}
	for _, o := range pending {
		if h, ok := found[o.rec.TxID]; ok && o.where == "" {
			o.where = fmt.Sprintf("in block %d", h)
		}
	}
	return b.explainSpent(ctx, pending, spenders, r)
}

// explainSpent turns each record's spent inputs into its broken reason.
func (b *Broadcaster) explainSpent(ctx context.Context, pending []*openRecord, spenders map[wire.OutPoint]spend, r blockRange) error {
	for _, o := range pending {
		if o.where != "" || len(o.spent) == 0 {
			continue
		}
		if o.rec.BrokenAt != nil {
			o.reason = o.rec.BrokenReason // already broken: not sent again
			continue
		}
		var parts []string
		for _, op := range o.spent {
			s, err := b.coinSpender(ctx, op)
			if err != nil {
				return err
			}
			if s == nil {
				if bs, ok := spenders[op]; ok {
					s = &bs
				}
			}
			switch {
			case s == nil:
				parts = append(parts, fmt.Sprintf("input %s is spent by a transaction found neither among our coins nor in %s (or the output does not exist)", op, r))
			case s.height < 0:
				parts = append(parts, fmt.Sprintf("input %s is spent in the mempool by %s", op, s.txid))
			default:
				parts = append(parts, fmt.Sprintf("input %s is spent in block %d by %s", op, s.height, s.txid))
			}
		}
		o.reason = strings.Join(parts, "; ") + ", a transaction this record is not: it can never confirm"
	}
	return nil
}

// settle acts on one open record once it has been looked for.
func (b *Broadcaster) settle(ctx context.Context, o *openRecord) error {
	switch {
	case o.where != "":
		// Found is found: a broken record the node has is closed too.
		_, closed, err := b.closeRecord(ctx, o.rec.ID, Accepted, "found "+o.where+" when resolving", "")
		if closed {
			b.log.Info("broadcast resolved", "id", o.rec.ID, "txid", o.rec.TxID, "kind", o.rec.Kind, "found", o.where)
		}
		return err
	case o.reason != "":
		// Spent by another transaction: sending it again cannot help.
		_, err := b.markBroken(ctx, o.rec.ID, o.reason)
		return err
	}
	if o.overdue {
		reason := fmt.Sprintf("open for more than %s and not on the node: it keeps being sent with the same bytes", b.brokenAfter)
		if _, err := b.markBroken(ctx, o.rec.ID, reason); err != nil {
			return err
		}
	}
	if err := b.countAttempt(ctx, o.rec.ID); err != nil {
		return err
	}
	if _, err := b.send(ctx, o.rec, o.tx); err != nil && !errors.Is(err, ErrUnresolved) {
		return err
	}
	return nil
}

// Run resolves at once and then every interval until ctx ends (serve's
// resolver). Errors are logged, never fatal.
func (b *Broadcaster) Run(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = 30 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if rs, err := b.Resolve(ctx); err != nil && ctx.Err() == nil {
			b.log.Error("resolving broadcasts", "err", err)
		} else if len(rs) > 0 {
			b.log.Info("open broadcasts looked at", "count", len(rs))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
