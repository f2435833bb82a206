package broadcast

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/cryptoassets/cryptoassets/internal/crashpoint"
	"strings"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/chain/rpc"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// stored reads the bytes and state of txid's record.
func (b *Broadcaster) stored(ctx context.Context, txid chainhash.Hash) (Record, *wire.MsgTx, error) {
	var raw []byte
	r, err := scanWith(b.runner.Pool().QueryRow(ctx, `SELECT `+recordColumns+`, raw_tx FROM `+b.schema+`.broadcasts WHERE txid = $1`, txid[:]), &raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return Record{}, nil, fmt.Errorf("no broadcast of %s is recorded", txid)
	}
	if err != nil {
		return Record{}, nil, err
	}
	var tx wire.MsgTx
	if err := tx.Deserialize(bytes.NewReader(raw)); err != nil {
		return r, nil, fmt.Errorf("broadcast %d (%s): stored bytes unreadable: %w", r.ID, txid, err)
	}
	return r, &tx, nil
}

// scanWith scans a record followed by extra columns.
func scanWith(row pgx.Row, extra ...any) (Record, error) {
	var r Record
	var txid []byte
	dest := append([]any{&r.ID, &txid, &r.Kind, &r.OpenedAt, &r.ClosedAt, &r.Outcome, &r.Error, &r.Attempts,
		&r.BrokenAt, &r.BrokenReason, &r.ResolvedBy}, extra...)
	err := row.Scan(dest...)
	copy(r.TxID[:], txid)
	return r, err
}

// Send sends the stored bytes of txid's open record and closes it with the
// node's answer (running the kind's Closed hook in that transaction). When
// the answer is lost the record stays open and ErrUnresolved is returned;
// Resolve settles it. A closed record is returned as it is, nothing sent.
func (b *Broadcaster) Send(ctx context.Context, txid chainhash.Hash) (Record, error) {
	r, tx, err := b.stored(ctx, txid)
	if err != nil {
		return Record{}, err
	}
	if r.ClosedAt != nil {
		return r, nil
	}
	if _, err := b.hooksFor(r.Kind); err != nil {
		return r, err
	}
	return b.send(ctx, r, tx)
}

// CrashSent is the crash point (internal/crashpoint) between the node's
// answer and the close.
const CrashSent = "broadcast.sent"

func (b *Broadcaster) send(ctx context.Context, r Record, tx *wire.MsgTx) (Record, error) {
	_, err := b.node.Broadcast(ctx, tx)
	crashpoint.Hit(CrashSent)
	outcome, msg := classify(err)
	if outcome == "" {
		b.log.Warn("broadcast outcome unknown", "id", r.ID, "txid", r.TxID, "err", err)
		return b.Get(ctx, r.TxID)
	}
	if _, _, err := b.closeRecord(ctx, r.ID, outcome, msg, ""); err != nil {
		return Record{}, err
	}
	b.log.Info("broadcast closed", "id", r.ID, "txid", r.TxID, "kind", r.Kind, "outcome", outcome)
	return b.Get(ctx, r.TxID)
}

// Resend sends the stored bytes of a closed record again, as after a reorg
// dropped the block that held it. It never makes a new record: the record
// counts one more attempt and keeps its outcome; the node's answer is
// logged and returned as an error only when it refused the transaction or
// the answer was lost (already known is fine). An abandoned record is never
// sent again.
func (b *Broadcaster) Resend(ctx context.Context, txid chainhash.Hash) error {
	r, tx, err := b.stored(ctx, txid)
	if err != nil {
		return err
	}
	switch {
	case r.ClosedAt == nil:
		return fmt.Errorf("broadcast %d (%s) is open: the resolver settles it (`cryptoassets broadcasts resolve`)", r.ID, txid)
	case r.Outcome == Abandoned:
		return fmt.Errorf("broadcast %d (%s) was abandoned by %s: it is never sent again", r.ID, txid, r.ResolvedBy)
	}
	if err := b.countAttempt(ctx, r.ID); err != nil {
		return err
	}
	_, err = b.node.Broadcast(ctx, tx)
	outcome, msg := classify(err)
	switch outcome {
	case Accepted, AlreadyKnown:
		b.log.Info("broadcast sent again", "id", r.ID, "txid", txid, "answer", outcome, "attempts", r.Attempts+1)
		return nil
	case Rejected:
		b.log.Warn("broadcast sent again and refused", "id", r.ID, "txid", txid, "error", msg)
		return fmt.Errorf("broadcast %d (%s) sent again: the node refused it: %s", r.ID, txid, msg)
	}
	b.log.Warn("broadcast sent again, answer lost", "id", r.ID, "txid", txid, "err", err)
	return fmt.Errorf("broadcast %d (%s) sent again: %w", r.ID, txid, err)
}

func (b *Broadcaster) countAttempt(ctx context.Context, id int64) error {
	return b.runner.InTx(ctx, "broadcast-attempt", func(t *store.Tx) error {
		_, err := t.Exec(`UPDATE `+b.schema+`.broadcasts SET attempts = attempts + 1 WHERE id = $1`, id)
		return err
	})
}

// classify maps the node's answer to an outcome; "" means unknown (the
// request or its reply was lost).
func classify(err error) (string, string) {
	if err == nil {
		return Accepted, ""
	}
	var re *rpc.Error
	if !errors.As(err, &re) {
		return "", err.Error()
	}
	msg := strings.ToLower(re.Message)
	switch {
	case re.Code == rpc.CodeVerifyAlreadyIn, strings.Contains(msg, "already have"), strings.Contains(msg, "already in block chain"), strings.Contains(msg, "already exists"):
		return AlreadyKnown, re.Message
	case re.Code == rpc.CodeVerifyRejected, re.Code == rpc.CodeVerifyError, re.Code == -22:
		return Rejected, re.Message
	}
	return "", re.Message
}
