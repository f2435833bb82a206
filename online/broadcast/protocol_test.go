package broadcast

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// open records tx as kind in a transaction of its own and sends nothing.
func (f *fixture) open(t *testing.T, kind string, tx *wire.MsgTx) Record {
	t.Helper()
	var r Record
	err := f.b.runner.InTx(f.ctx, "test-open", func(st *store.Tx) error {
		var err error
		r, _, err = f.b.OpenTx(st, kind, tx)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// row is record id as the database holds it, to compare before and after.
func (f *fixture) row(t *testing.T, id int64) string {
	t.Helper()
	var s string
	if err := f.b.runner.Pool().QueryRow(f.ctx, `SELECT coalesce((SELECT row_to_json(b)::text FROM btc.broadcasts b WHERE id = $1), 'none')`, id).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func (f *fixture) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := f.b.runner.Pool().QueryRow(f.ctx, query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// hookLog makes a table the tests' hooks write to, so a test sees whether
// a hook's write committed with the record's change.
func (f *fixture) hookLog(t *testing.T) {
	t.Helper()
	if _, err := f.b.runner.Pool().Exec(f.ctx, `CREATE TABLE btc.hook_log (id bigint, what text, outcome text)`); err != nil {
		t.Fatal(err)
	}
}

func logHook(what string, fail *atomic.Bool) func(*store.Tx, Record) error {
	return func(t *store.Tx, r Record) error {
		// Only inside the transaction that closes the record does the hook
		// see it closed.
		var seen *string
		if err := t.QueryRow(`SELECT outcome FROM btc.broadcasts WHERE id = $1`, r.ID).Scan(&seen); err != nil {
			return err
		}
		if seen == nil || *seen != r.Outcome {
			return fmt.Errorf("the %s hook sees outcome %v, was handed %q: it is not in the close's transaction", what, seen, r.Outcome)
		}
		if _, err := t.Exec(`INSERT INTO btc.hook_log VALUES ($1, $2, $3)`, r.ID, what, r.Outcome); err != nil {
			return err
		}
		if fail != nil && fail.Load() {
			return errors.New("the hook says no")
		}
		return nil
	}
}

var errCallerRollsBack = errors.New("the caller rolls back")

func TestOpenTxRollsBackWithTheCallersTransaction(t *testing.T) {
	f := newFixture(t)
	tx := f.tx(t)
	err := f.b.runner.InTx(f.ctx, "caller", func(st *store.Tx) error {
		r, created, err := f.b.OpenTx(st, KindColdTopup, tx)
		if err != nil || !created || r.TxID != tx.TxHash() || r.ClosedAt != nil {
			return fmt.Errorf("open: %+v %v %v", r, created, err)
		}
		return errCallerRollsBack
	})
	if !errors.Is(err, errCallerRollsBack) {
		t.Fatal(err)
	}
	if n := f.count(t, `SELECT count(*) FROM btc.broadcasts`); n != 0 {
		t.Fatalf("%d records left by a rolled-back caller", n)
	}
	if _, err := f.b.Send(f.ctx, tx.TxHash()); err == nil || !strings.Contains(err.Error(), "no broadcast") || f.node.sent.Load() != 0 {
		t.Fatalf("send of a rolled-back record: %v, sent %d", err, f.node.sent.Load())
	}

	opened := f.open(t, KindColdTopup, tx)
	r, err := f.b.Send(f.ctx, tx.TxHash())
	if err != nil || r.Outcome != Accepted || r.ID != opened.ID || f.node.sent.Load() != 1 {
		t.Fatalf("send after commit: %+v %v, sent %d", r, err, f.node.sent.Load())
	}
	if again, err := f.b.Send(f.ctx, tx.TxHash()); err != nil || again.ID != r.ID || f.node.sent.Load() != 1 {
		t.Fatalf("send of a closed record must send nothing: %+v %v, sent %d", again, err, f.node.sent.Load())
	}
	err = f.b.runner.InTx(f.ctx, "again", func(st *store.Tx) error {
		r2, created, err := f.b.OpenTx(st, KindColdTopup, tx)
		if err != nil || created || r2.ID != r.ID {
			return fmt.Errorf("second open: %+v %v %v", r2, created, err)
		}
		if _, _, err := f.b.OpenTx(st, KindWithdrawal, tx); err == nil || !strings.Contains(err.Error(), "already recorded as a cold_topup") {
			return fmt.Errorf("the same transaction under another kind: %v", err)
		}
		if _, _, err := f.b.OpenTx(st, "airdrop", f.tx(t)); err == nil || !strings.Contains(err.Error(), `unknown broadcast kind "airdrop"`) {
			return fmt.Errorf("unknown kind: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestClosedHookRunsInTheCloseTransaction(t *testing.T) {
	f := newFixture(t)
	f.hookLog(t)
	var fail atomic.Bool
	fail.Store(true)
	f.b.Handle(KindColdTopup, Hooks{Closed: logHook("closed", &fail)})
	tx := f.tx(t)
	if _, err := f.b.Submit(f.ctx, KindColdTopup, tx); err == nil || !strings.Contains(err.Error(), "the hook says no") {
		t.Fatalf("a failing hook must fail the close: %v", err)
	}
	if r, err := f.b.Get(f.ctx, tx.TxHash()); !errors.Is(err, ErrUnresolved) || r.ClosedAt != nil {
		t.Fatalf("a failing hook must leave the record open: %+v %v", r, err)
	}
	if n := f.count(t, `SELECT count(*) FROM btc.hook_log`); n != 0 {
		t.Fatalf("the failed hook's write committed (%d rows)", n)
	}
	fail.Store(false)
	rs, err := f.b.Resolve(f.ctx)
	if err != nil || len(rs) != 1 || rs[0].Outcome != Accepted {
		t.Fatalf("resolve: %+v %v", rs, err)
	}
	if n := f.count(t, `SELECT count(*) FROM btc.hook_log WHERE what = 'closed' AND outcome = 'accepted' AND id = $1`, rs[0].ID); n != 1 {
		t.Fatalf("the closed hook ran %d times with the accepted record", n)
	}
}

// A hot withdrawal's record never changes state in a process that lacks its
// batcher's hooks: its batch would be left behind.
func TestWithdrawalRecordWaitsForItsHandler(t *testing.T) {
	f := newFixture(t)
	tx := f.tx(t)
	r := f.open(t, KindWithdrawal, tx)
	before := f.row(t, r.ID)
	if _, err := f.b.Send(f.ctx, r.TxID); !errors.Is(err, ErrNoHandler) {
		t.Fatalf("send: %v", err)
	}
	if _, err := f.b.Resolve(f.ctx); !errors.Is(err, ErrNoHandler) {
		t.Fatalf("resolve: %v", err)
	}
	if _, err := f.b.Abandon(f.ctx, r.ID, "alice"); !errors.Is(err, ErrNoHandler) {
		t.Fatalf("abandon: %v", err)
	}
	if after := f.row(t, r.ID); after != before || f.node.sent.Load() != 0 {
		t.Fatalf("changed without its handler (sent %d):\n%s\n%s", f.node.sent.Load(), before, after)
	}
	f.b.Handle(KindWithdrawal, Hooks{})
	if got, err := f.b.Send(f.ctx, r.TxID); err != nil || got.Outcome != Accepted {
		t.Fatalf("send with its handler: %+v %v", got, err)
	}
}

func TestResendSendsTheSameBytesOfAClosedRecord(t *testing.T) {
	f := newFixture(t)
	tx := f.tx(t)
	r, err := f.b.Submit(f.ctx, KindColdTopup, tx)
	if err != nil || r.Outcome != Accepted {
		t.Fatalf("submit: %+v %v", r, err)
	}
	f.node.mu.Lock()
	first := string(f.node.last)
	f.node.mu.Unlock()
	if _, err := f.btcd.Generate(f.ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := f.b.Resend(f.ctx, tx.TxHash()); err != nil {
		t.Fatalf("resend of a confirmed transaction (already known is fine): %v", err)
	}
	f.node.mu.Lock()
	again := string(f.node.last)
	f.node.mu.Unlock()
	if again != first || f.node.sent.Load() != 2 {
		t.Fatalf("resend sent other bytes (%v) or not once (%d)", again != first, f.node.sent.Load())
	}
	got, err := f.b.Get(f.ctx, tx.TxHash())
	if err != nil || got.Attempts != 2 || got.Outcome != Accepted || f.count(t, `SELECT count(*) FROM btc.broadcasts`) != 1 {
		t.Fatalf("after resend: %+v %v (one record, two attempts, outcome kept)", got, err)
	}

	open := f.open(t, KindColdTopup, f.tx(t))
	if err := f.b.Resend(f.ctx, open.TxID); err == nil || !strings.Contains(err.Error(), "is open") {
		t.Fatalf("resend of an open record: %v", err)
	}
	if err := f.b.Resend(f.ctx, chainhash.Hash{1}); err == nil || !strings.Contains(err.Error(), "no broadcast") {
		t.Fatalf("resend of an unknown txid: %v", err)
	}
	if f.node.sent.Load() != 2 {
		t.Fatalf("a refused resend reached the node (%d sends)", f.node.sent.Load())
	}
}

func (f *fixture) brokenEvents(t *testing.T, id int64) []map[string]any {
	t.Helper()
	rows, err := f.b.runner.Pool().Query(f.ctx, `SELECT payload FROM public.events WHERE type = $1 AND (payload->>'id')::bigint = $2`, EventBroken, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []map[string]any
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func TestBrokenByAgeOnceThenFoundIsAccepted(t *testing.T) {
	f := newFixture(t)
	tx := f.tx(t)
	f.node.refused.Store(true)
	r, err := f.b.Submit(f.ctx, KindColdTopup, tx)
	if !errors.Is(err, ErrUnresolved) {
		t.Fatal(err)
	}
	if _, err := f.b.runner.Pool().Exec(f.ctx, `UPDATE btc.broadcasts SET opened_at = now() - interval '61 minutes' WHERE id = $1`, r.ID); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		rs, err := f.b.Resolve(f.ctx)
		if err != nil || len(rs) != 1 || rs[0].BrokenAt == nil || rs[0].ClosedAt != nil ||
			!strings.Contains(rs[0].BrokenReason, "open for more than 1h0m0s") {
			t.Fatalf("resolve: %+v %v", rs, err)
		}
	}
	evs := f.brokenEvents(t, r.ID)
	if len(evs) != 1 {
		t.Fatalf("%d %s events, want exactly 1", len(evs), EventBroken)
	}
	if e := evs[0]; e["txid"] != tx.TxHash().String() || e["kind"] != KindColdTopup || !strings.Contains(fmt.Sprint(e["reason"]), "open for more than") || e["opened_at"] == nil {
		t.Fatalf("event payload %v", e)
	}
	if bs, err := f.b.List(f.ctx, Filter{Broken: true}); err != nil || len(bs) != 1 || bs[0].ID != r.ID {
		t.Fatalf("list --broken: %+v %v", bs, err)
	}
	f.node.refused.Store(false)
	rs, err := f.b.Resolve(f.ctx)
	if err != nil || len(rs) != 1 || rs[0].Outcome != Accepted || rs[0].BrokenAt == nil {
		t.Fatalf("a broken record the node then accepts is closed accepted: %+v %v", rs, err)
	}
	if bs, _ := f.b.List(f.ctx, Filter{Broken: true}); len(bs) != 0 {
		t.Fatalf("a closed record is still listed broken: %+v", bs)
	}
}

// recordCoin stores op as a hot-wallet coin spent by spender, as the
// follower does when it sees the spend.
func (f *fixture) recordCoin(t *testing.T, op wire.OutPoint, amount int64, spender chainhash.Hash) {
	t.Helper()
	script, _ := txscript.PayToAddrScript(devenv.FaucetAddress())
	pool := f.b.runner.Pool()
	if _, err := pool.Exec(f.ctx, `INSERT INTO btc.wallets (id, name, descriptor, script_type) VALUES (1, 'hot', 'test', 'p2wpkh') ON CONFLICT DO NOTHING`); err != nil {
		t.Fatal(err)
	}
	var addr int64
	if err := pool.QueryRow(f.ctx, `INSERT INTO btc.addresses (wallet_id, branch, idx, address, script) VALUES (1, 0, 0, $1, $2) RETURNING id`,
		devenv.FaucetAddress().EncodeAddress(), script).Scan(&addr); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(f.ctx, `INSERT INTO btc.coins (txid, vout, wallet_id, address_id, amount, script, spent_by) VALUES ($1, $2, 1, $3, $4, $5, $6)`,
		op.Hash[:], int32(op.Index), addr, amount, script, spender[:]); err != nil {
		t.Fatal(err)
	}
}

// The other spender is known either from our coins table (the follower saw
// it in the mempool: btcd's gettxout does not count mempool spends) or from
// the chain (gettxout shows the input spent, the block scan names the
// spender).
func TestBrokenByAnInputSpentElsewhereIsNeverSentAgain(t *testing.T) {
	for _, tc := range []struct {
		name              string
		coinRow, confirms bool
	}{
		{"spent in the mempool, known to our coins", true, false},
		{"spent in a block, not in our coins", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			var brokenHooks atomic.Int32
			f.b.Handle(KindWithdrawal, Hooks{Broken: func(*store.Tx, Record) error { brokenHooks.Add(1); return nil }})
			ours := f.tx(t)
			var value int64
			for _, o := range ours.TxOut {
				value += o.Value
			}
			value += 10_000
			// Another transaction spends the same coin first.
			other, err := f.faucet.Replace(f.ctx, ours, value, []devenv.Payment{{Address: devenv.FaucetAddress().EncodeAddress(), Amount: 50_000}}, 20_000)
			if err != nil {
				t.Fatal(err)
			}
			op := ours.TxIn[0].PreviousOutPoint
			if tc.coinRow {
				f.recordCoin(t, op, value, other.TxHash())
			}
			if tc.confirms {
				if _, err := f.btcd.Generate(f.ctx, 1); err != nil {
					t.Fatal(err)
				}
			}
			r := f.open(t, KindWithdrawal, ours)
			for range 2 {
				rs, err := f.b.Resolve(f.ctx)
				if err != nil || len(rs) != 1 || rs[0].BrokenAt == nil || rs[0].ClosedAt != nil {
					t.Fatalf("resolve: %+v %v", rs, err)
				}
				if reason := rs[0].BrokenReason; !strings.Contains(reason, op.String()) || !strings.Contains(reason, other.TxHash().String()) {
					t.Fatalf("the reason names neither the input %s nor its spender %s: %q", op, other.TxHash(), reason)
				}
			}
			if f.node.sent.Load() != 0 {
				t.Fatalf("a record whose input is spent elsewhere was sent %d times", f.node.sent.Load())
			}
			if evs := f.brokenEvents(t, r.ID); len(evs) != 1 || brokenHooks.Load() != 1 {
				t.Fatalf("%d events, %d broken hooks: want one each", len(evs), brokenHooks.Load())
			}
			if !tc.confirms {
				if _, err := f.btcd.Generate(f.ctx, 1); err != nil {
					t.Fatal(err)
				}
				if rs, err := f.b.Resolve(f.ctx); err != nil || rs[0].ClosedAt != nil || f.node.sent.Load() != 0 {
					t.Fatalf("after the other transaction confirmed: %+v %v, sent %d", rs, err, f.node.sent.Load())
				}
			}
			rep, err := f.b.Find(f.ctx, r.ID)
			if err != nil || rep.Where != "" || len(rep.Inputs) != 1 {
				t.Fatalf("find: %+v %v", rep, err)
			}
			in := rep.Inputs[0]
			tip, _, _ := f.node.Tip(f.ctx)
			if in.Unspent || in.SpentBy == nil || *in.SpentBy != other.TxHash() || in.Height != tip || in.ByThis {
				t.Fatalf("find: input %s is %s, want spent in block %d by %s", in.OutPoint, in, tip, other.TxHash())
			}
		})
	}
}

func TestFindShowsWhereEachInputWent(t *testing.T) {
	f := newFixture(t)
	never := f.open(t, KindColdTopup, f.tx(t))
	rep, err := f.b.Find(f.ctx, never.ID)
	if err != nil || rep.Where != "" || len(rep.Inputs) != 1 || !rep.Inputs[0].Unspent || rep.Inputs[0].String() != "unspent" {
		t.Fatalf("a transaction never sent: %+v %v", rep, err)
	}
	tx := f.tx(t)
	f.node.lostReply.Store(true)
	sent, _ := f.b.Submit(f.ctx, KindColdTopup, tx)
	rep, err = f.b.Find(f.ctx, sent.ID)
	in := rep.Inputs[0]
	if err != nil || rep.Where != "on the node" || in.Unspent || in.SpentBy == nil || *in.SpentBy != tx.TxHash() || in.Height != -1 || !in.ByThis {
		t.Fatalf("a transaction in the mempool: %+v (%s) %v", rep, in, err)
	}
	if _, err := f.b.Find(f.ctx, 999); !errors.Is(err, ErrNoRecord) {
		t.Fatalf("unknown id: %v", err)
	}
}

// operatorFixture has three records: onNode (open, the node has it: its
// reply was lost), nowhere (open, never reached the node) and closed.
type operatorFixture struct {
	*fixture
	onNode, nowhere, closed Record
}

func newOperatorFixture(t *testing.T) *operatorFixture {
	f := newFixture(t)
	f.hookLog(t)
	o := &operatorFixture{fixture: f}
	var err error
	f.node.lostReply.Store(true)
	o.onNode, _ = f.b.Submit(f.ctx, KindColdTopup, f.tx(t))
	f.node.lostReply.Store(false)
	f.node.refused.Store(true)
	o.nowhere, _ = f.b.Submit(f.ctx, KindColdTopup, f.tx(t))
	f.node.refused.Store(false)
	if o.closed, err = f.b.Submit(f.ctx, KindColdTopup, f.tx(t)); err != nil || o.closed.Outcome != Accepted {
		t.Fatal(o.closed, err)
	}
	if o.onNode.ClosedAt != nil || o.nowhere.ClosedAt != nil {
		t.Fatal("set-up: records closed")
	}
	return o
}

func TestMarkSent(t *testing.T) {
	o := newOperatorFixture(t)
	o.b.Handle(KindColdTopup, Hooks{Closed: logHook("closed", nil)})
	refusals := []struct {
		name     string
		id       int64
		txid     chainhash.Hash
		operator string
		want     string
	}{
		{"another txid", o.onNode.ID, o.nowhere.TxID, "alice", "is not the transaction of broadcast"},
		{"not on the node", o.nowhere.ID, o.nowhere.TxID, "alice", "the node does not show " + o.nowhere.TxID.String() + ": not in its mempool"},
		{"already closed", o.closed.ID, o.closed.TxID, "alice", "is already closed (accepted"},
		{"unknown id", 999, o.closed.TxID, "alice", "no such broadcast: 999"},
		{"no operator", o.onNode.ID, o.onNode.TxID, " ", "name the operator"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			before := o.row(t, tc.id)
			_, err := o.b.MarkSent(o.ctx, tc.id, tc.txid, tc.operator)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want a refusal containing %q, got %v", tc.want, err)
			}
			if after := o.row(t, tc.id); after != before {
				t.Fatalf("a refusal changed the record:\n%s\n%s", before, after)
			}
		})
	}
	if n := o.count(t, `SELECT count(*) FROM btc.hook_log`); n != 0 {
		t.Fatalf("refusals ran %d hooks", n)
	}
	r, err := o.b.MarkSent(o.ctx, o.onNode.ID, o.onNode.TxID, "alice")
	if err != nil || r.Outcome != Accepted || r.ResolvedBy != "alice" || r.ClosedAt == nil || !strings.Contains(r.Error, "marked sent by alice: found on the node") {
		t.Fatalf("mark-sent: %+v %v", r, err)
	}
	if n := o.count(t, `SELECT count(*) FROM btc.hook_log WHERE id = $1 AND outcome = 'accepted'`, r.ID); n != 1 {
		t.Fatalf("the closed hook ran %d times", n)
	}
	if _, err := o.b.MarkSent(o.ctx, r.ID, r.TxID, "bob"); err == nil || !strings.Contains(err.Error(), "already closed (accepted by alice") {
		t.Fatalf("a second mark-sent: %v", err)
	}
}

func TestAbandon(t *testing.T) {
	o := newOperatorFixture(t)
	var fail atomic.Bool
	fail.Store(true)
	o.b.Handle(KindColdTopup, Hooks{Abandoned: logHook("abandoned", &fail)})
	refusals := []struct {
		name     string
		id       int64
		operator string
		want     string
	}{
		{"on the node", o.onNode.ID, "bob", "the node has " + o.onNode.TxID.String() + " (on the node): it may confirm"},
		{"already closed", o.closed.ID, "bob", "is already closed (accepted"},
		{"unknown id", 999, "bob", "no such broadcast: 999"},
		{"no operator", o.nowhere.ID, "", "name the operator"},
		{"the hook refuses", o.nowhere.ID, "bob", "the abandoned hook of kind cold_topup refused: the hook says no"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			before := o.row(t, tc.id)
			_, err := o.b.Abandon(o.ctx, tc.id, tc.operator)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want a refusal containing %q, got %v", tc.want, err)
			}
			if after := o.row(t, tc.id); after != before {
				t.Fatalf("a refusal changed the record:\n%s\n%s", before, after)
			}
		})
	}
	if n := o.count(t, `SELECT count(*) FROM btc.hook_log`); n != 0 {
		t.Fatalf("a refused hook's write committed (%d rows)", n)
	}
	fail.Store(false)
	sent := o.node.sent.Load()
	r, err := o.b.Abandon(o.ctx, o.nowhere.ID, "bob")
	if err != nil || r.Outcome != Abandoned || r.ResolvedBy != "bob" || r.ClosedAt == nil {
		t.Fatalf("abandon: %+v %v", r, err)
	}
	if n := o.count(t, `SELECT count(*) FROM btc.hook_log WHERE id = $1 AND what = 'abandoned' AND outcome = 'abandoned'`, r.ID); n != 1 {
		t.Fatalf("the abandoned hook ran %d times", n)
	}
	if err := o.b.Resend(o.ctx, r.TxID); err == nil || !strings.Contains(err.Error(), "abandoned by bob") {
		t.Fatalf("resend of an abandoned record: %v", err)
	}
	if _, err := o.b.Abandon(o.ctx, r.ID, "carol"); err == nil || !strings.Contains(err.Error(), "already closed (abandoned by bob") {
		t.Fatalf("a second abandon: %v", err)
	}
	if _, err := o.b.Resolve(o.ctx); err != nil {
		t.Fatal(err)
	}
	if got := o.node.sent.Load(); got != sent {
		t.Fatalf("resolve sent %d transactions; the open one was on the node already", got-sent)
	}
	if f := o.row(t, r.ID); !strings.Contains(f, `"outcome":"abandoned"`) {
		t.Fatalf("resolve touched the abandoned record: %s", f)
	}
}

func TestRunResolvesAnOpenRecord(t *testing.T) {
	f := newFixture(t)
	tx := f.tx(t)
	f.node.lostReply.Store(true)
	if _, err := f.b.Submit(f.ctx, KindColdTopup, tx); !errors.Is(err, ErrUnresolved) {
		t.Fatal(err)
	}
	f.node.lostReply.Store(false)
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan error, 1)
	go func() { done <- f.b.Run(ctx, 50*time.Millisecond) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := f.b.Get(f.ctx, tx.TxHash())
		if err == nil && r.Outcome == Accepted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Run did not resolve the record: %+v %v", r, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if f.node.sent.Load() != 1 {
		t.Fatalf("the node had it; Run sent it %d times", f.node.sent.Load())
	}
}

// A transaction the follower saw spend one of our coins in a block counts
// as found even when the node no longer shows it (its outputs spent, its
// block older than the blocks read): it cannot be abandoned, it can be
// marked sent.
func TestFollowersRecordOfABlockCountsAsFound(t *testing.T) {
	f := newFixture(t)
	tx := f.tx(t)
	r := f.open(t, KindColdTopup, tx)
	op := tx.TxIn[0].PreviousOutPoint
	f.recordCoin(t, op, 1_000_000, tx.TxHash())
	if _, err := f.b.runner.Pool().Exec(f.ctx, `UPDATE btc.coins SET spent_block = $1, spent_height = 7 WHERE txid = $2`, make([]byte, 32), op.Hash[:]); err != nil {
		t.Fatal(err)
	}
	before := f.row(t, r.ID)
	if _, err := f.b.Abandon(f.ctx, r.ID, "bob"); err == nil || !strings.Contains(err.Error(), "in block 7 (it spends our coin "+op.String()+" there)): it may confirm") {
		t.Fatalf("abandon: %v", err)
	}
	if after := f.row(t, r.ID); after != before {
		t.Fatalf("a refused abandon changed the record:\n%s\n%s", before, after)
	}
	got, err := f.b.MarkSent(f.ctx, r.ID, r.TxID, "alice")
	if err != nil || got.Outcome != Accepted || !strings.Contains(got.Error, "in block 7") || f.node.sent.Load() != 0 {
		t.Fatalf("mark-sent: %+v %v (sent %d)", got, err, f.node.sent.Load())
	}
}

// A reorg drops the block holding a closed record's transaction: Resend
// sends the same bytes (the node may already have them back in its
// mempool, which is fine), no new record is made, and the transaction
// confirms again in the new chain.
func TestResendAfterAReorgConfirmsAgain(t *testing.T) {
	f := newFixture(t)
	tx := f.tx(t)
	if r, err := f.b.Submit(f.ctx, KindColdTopup, tx); err != nil || r.Outcome != Accepted {
		t.Fatalf("submit: %+v %v", r, err)
	}
	hashes, err := f.btcd.Generate(f.ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.btcd.Client.Call(f.ctx, nil, "invalidateblock", hashes[0]); err != nil {
		t.Fatal(err)
	}
	if err := f.b.Resend(f.ctx, tx.TxHash()); err != nil {
		t.Fatalf("resend after the reorg: %v", err)
	}
	if _, err := f.btcd.Generate(f.ctx, 2); err != nil {
		t.Fatal(err)
	}
	tip, _, err := f.node.Tip(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	found, _, err := f.b.scanBlocks(f.ctx, blockRange{From: tip - 1, To: tip}, map[chainhash.Hash]bool{tx.TxHash(): true}, nil)
	if err != nil || len(found) != 1 {
		t.Fatalf("not in the new chain's blocks %d..%d: %v %v", tip-1, tip, found, err)
	}
	r, err := f.b.Get(f.ctx, tx.TxHash())
	if err != nil || r.Attempts != 2 || r.Outcome != Accepted || f.count(t, `SELECT count(*) FROM btc.broadcasts`) != 1 || f.node.sent.Load() != 2 {
		t.Fatalf("after the reorg: %+v %v, sent %d", r, err, f.node.sent.Load())
	}
	blk, err := f.node.BlockHash(f.ctx, tip-1)
	if err != nil || blk.String() == hashes[0] {
		t.Fatalf("the dropped block is still in the chain: %v", err)
	}
}
