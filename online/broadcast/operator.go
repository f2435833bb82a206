package broadcast

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// An operator settles a broken record by hand (runbook, "Broken
// broadcasts"): --mark-sent when the node shows the transaction, --abandon
// when it is nowhere. Each checks the node first and refuses, changing
// nothing, when what it saw does not fit.

// ErrRefused wraps every refusal of an operator's resolution.
var ErrRefused = errors.New("refused")

// openForOperator returns record id and its transaction, refusing a closed
// record and a kind whose hooks this process lacks.
func (b *Broadcaster) openForOperator(ctx context.Context, id int64, operator string) (Record, *wire.MsgTx, error) {
	if strings.TrimSpace(operator) == "" {
		return Record{}, nil, fmt.Errorf("%w: name the operator resolving it (--operator NAME)", ErrRefused)
	}
	r, err := b.ByID(ctx, id)
	if err != nil {
		return Record{}, nil, err
	}
	if r.ClosedAt != nil {
		by := ""
		if r.ResolvedBy != "" {
			by = " by " + r.ResolvedBy
		}
		return r, nil, fmt.Errorf("%w: broadcast %d is already closed (%s%s at %s): nothing to resolve", ErrRefused, id, r.Outcome, by, r.ClosedAt.UTC().Format("2006-01-02 15:04:05"))
	}
	if _, err := b.hooksFor(r.Kind); err != nil {
		return r, nil, fmt.Errorf("%w: broadcast %d: %w", ErrRefused, id, err)
	}
	_, tx, err := b.stored(ctx, r.TxID)
	return r, tx, err
}

// MarkSent closes open record id as accepted because the node shows its
// transaction: txid must be the record's, and the node must have it (in its
// mempool, by an output among its coins, or in a block since it was opened).
func (b *Broadcaster) MarkSent(ctx context.Context, id int64, txid chainhash.Hash, operator string) (Record, error) {
	r, tx, err := b.openForOperator(ctx, id, operator)
	if err != nil {
		return r, err
	}
	if txid != r.TxID {
		return r, fmt.Errorf("%w: %s is not the transaction of broadcast %d (%s): mark-sent names the record's own txid", ErrRefused, txid, id, r.TxID)
	}
	where, scanned, err := b.locate(ctx, tx, r.OpenedAt)
	if err != nil {
		return r, err
	}
	if where == "" {
		return r, fmt.Errorf("%w: the node does not show %s: not in its mempool (nor its transaction index), no output among the chain's coins, not in %s; see `cryptoassets broadcasts find %d`",
			ErrRefused, txid, scanned, id)
	}
	closed, ok, err := b.closeRecord(ctx, id, Accepted, fmt.Sprintf("marked sent by %s: found %s", operator, where), operator)
	if err != nil {
		return r, err
	}
	if !ok {
		return closed, fmt.Errorf("%w: broadcast %d was closed meanwhile (%s)", ErrRefused, id, closed.Outcome)
	}
	b.log.Warn("broadcast marked sent by an operator", "id", id, "txid", txid, "operator", operator, "found", where)
	return closed, nil
}

// Abandon gives open record id up: its transaction must be nowhere on the
// node nor in a block since it was opened (otherwise it might still
// confirm). The record closes as abandoned and the kind's Abandoned hook
// runs in the same transaction; the record is never sent again.
func (b *Broadcaster) Abandon(ctx context.Context, id int64, operator string) (Record, error) {
	r, tx, err := b.openForOperator(ctx, id, operator)
	if err != nil {
		return r, err
	}
	where, _, err := b.locate(ctx, tx, r.OpenedAt)
	if err != nil {
		return r, err
	}
	if where != "" {
		return r, fmt.Errorf("%w: the node has %s (%s): it may confirm, so it cannot be abandoned; close it with --mark-sent %s", ErrRefused, r.TxID, where, r.TxID)
	}
	closed, ok, err := b.closeRecord(ctx, id, Abandoned, "abandoned by "+operator, operator)
	if err != nil {
		return r, err
	}
	if !ok {
		return closed, fmt.Errorf("%w: broadcast %d was closed meanwhile (%s)", ErrRefused, id, closed.Outcome)
	}
	b.log.Warn("broadcast abandoned by an operator", "id", id, "txid", r.TxID, "operator", operator)
	return closed, nil
}

// InputState is where one input of a recorded transaction went.
type InputState struct {
	OutPoint wire.OutPoint
	Unspent  bool
	// SpentBy is the spender when one was found (our coins table, the
	// scanned blocks, the mempool); Height is its block, -1 the mempool.
	SpentBy *chainhash.Hash
	Height  int32
	// ByThis: the spender is the record's own transaction.
	ByThis bool
}

func (s InputState) String() string {
	switch {
	case s.Unspent:
		return "unspent"
	case s.SpentBy == nil:
		return "spent, by a transaction not found among our coins, in the mempool or in the blocks read (or the output does not exist)"
	}
	who := "another transaction"
	if s.ByThis {
		who = "this broadcast's transaction"
	}
	if s.Height < 0 {
		return fmt.Sprintf("spent in the mempool by %s (%s)", s.SpentBy, who)
	}
	return fmt.Sprintf("spent in block %d by %s (%s)", s.Height, s.SpentBy, who)
}

// Report is what the node shows of a record's transaction.
type Report struct {
	Record  Record
	Where   string     // where the node has the transaction; "" nowhere
	Scanned blockRange // the blocks read
	Inputs  []InputState
}

// maxMempoolScan bounds the mempool transactions Find fetches looking for a
// spender.
const maxMempoolScan = 5000

// Find reports, for record id's inputs, whether each is unspent, spent in
// the mempool, or spent in a block and by which transaction (the node's
// gettxout, our coins table, the blocks since the record was opened and the
// mempool), and where the node has the transaction itself: whether the
// payment went out, without a hunt through the chain.
func (b *Broadcaster) Find(ctx context.Context, id int64) (Report, error) {
	r, err := b.ByID(ctx, id)
	if err != nil {
		return Report{}, err
	}
	_, tx, err := b.stored(ctx, r.TxID)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Record: r}
	spent, err := b.spentInputs(ctx, tx)
	if err != nil {
		return rep, err
	}
	isSpent := map[wire.OutPoint]bool{}
	for _, op := range spent {
		isSpent[op] = true
	}
	if rep.Where, err = b.quickFind(ctx, tx); err != nil {
		return rep, err
	}
	if rep.Scanned, err = b.scanRange(ctx, r.OpenedAt); err != nil {
		return rep, err
	}
	found, spenders, err := b.scanBlocks(ctx, rep.Scanned, map[chainhash.Hash]bool{r.TxID: true}, isSpent)
	if err != nil {
		return rep, err
	}
	if h, ok := found[r.TxID]; ok && rep.Where == "" {
		rep.Where = fmt.Sprintf("in block %d", h)
	}
	// btcd's gettxout does not count mempool spends: look there for every
	// input.
	watch := map[wire.OutPoint]bool{}
	for _, in := range tx.TxIn {
		watch[in.PreviousOutPoint] = true
	}
	inMempool, err := b.mempoolSpenders(ctx, watch)
	if err != nil {
		return rep, err
	}
	for _, in := range tx.TxIn {
		op := in.PreviousOutPoint
		st := InputState{OutPoint: op, Height: -1}
		s, err := b.coinSpender(ctx, op)
		if err != nil {
			return rep, err
		}
		if bs, ok := spenders[op]; ok {
			s = &bs
		} else if id, ok := inMempool[op]; ok {
			s = &spend{txid: id, height: -1}
		}
		switch {
		case s != nil:
			st.SpentBy, st.Height, st.ByThis = &s.txid, s.height, s.txid == r.TxID
		case !isSpent[op]:
			st.Unspent = true
		}
		rep.Inputs = append(rep.Inputs, st)
	}
	return rep, nil
}

// mempoolSpenders finds the mempool transactions spending watched
// outpoints (none when the mempool is larger than maxMempoolScan).
func (b *Broadcaster) mempoolSpenders(ctx context.Context, watch map[wire.OutPoint]bool) (map[wire.OutPoint]chainhash.Hash, error) {
	out := map[wire.OutPoint]chainhash.Hash{}
	ids, err := b.node.MempoolTxids(ctx)
	if err != nil || len(ids) > maxMempoolScan {
		return out, err
	}
	for _, id := range ids {
		t, err := b.node.Transaction(ctx, id)
		if err != nil {
			continue // left the mempool meanwhile
		}
		for _, in := range t.TxIn {
			if watch[in.PreviousOutPoint] {
				out[in.PreviousOutPoint] = id
			}
		}
	}
	return out, nil
}
