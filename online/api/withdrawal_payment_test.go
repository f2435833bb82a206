package api

import (
	"context"
	"fmt"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
)

// An integrator sees where the money went: GET one and the list carry the
// batch's txid and each withdrawal's vout once batched, and the
// confirmations once its block is on the best chain. The batch is written
// with the rows reserve.go writes (the batcher's own tests build real
// ones against a node; here only the API's reading is under test).
func TestWithdrawalJSONCarriesTxidVoutAndConfirmations(t *testing.T) {
	f := newWithdrawalFixture(t)
	ctx := context.Background()
	var ids []string
	for i := range 3 {
		st, out, _ := f.do(t, call{method: "POST", path: "/v1/btc/withdrawals", body: `{"account":"alice","address":"` + outsideAddress + `","amount_sat":10000}`,
			headers: map[string]string{"Idempotency-Key": fmt.Sprint("pay-", i)}})
		if st != 201 || out["txid"] != nil || out["vout"] != nil || out["confirmations"] != float64(0) {
			t.Fatalf("request %d: %d %v", i, st, out)
		}
		ids = append(ids, fmt.Sprint(out["id"]))
	}
	get := func(id string) map[string]any {
		t.Helper()
		st, out, _ := f.do(t, call{method: "GET", path: "/v1/btc/withdrawals/" + id})
		if st != 200 {
			t.Fatalf("GET %s: %d %v", id, st, out)
		}
		return out
	}
	if w := get(ids[0]); w["txid"] != nil || w["vout"] != nil || w["block_height"] != nil {
		t.Fatalf("requested: %v", w)
	}

	txidBytes := make([]byte, 32)
	txidBytes[0], txidBytes[31] = 0xab, 0x01
	txid := chainhash.Hash(txidBytes).String()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := f.runner.Pool().Exec(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	// Withdrawals 1 and 2 batched at outputs 1 and 0; 3 stays requested.
	tx, err := f.runner.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO btc.batches (id, state, txid, psbt, fee, fee_rate, vsize, locktime) VALUES (7, 'broadcast', $1, '\x00', 500, 2000, 250, 100)`, []any{txidBytes}},
		{`INSERT INTO btc.batch_withdrawals (batch_id, withdrawal_id, vout) VALUES (7, $1, 1), (7, $2, 0)`, []any{ids[0], ids[1]}},
		{`UPDATE btc.withdrawals SET state = 'broadcast', batch_id = 7, vout = CASE id WHEN $1 THEN 1 ELSE 0 END WHERE id IN ($1, $2)`, []any{ids[0], ids[1]}},
	} {
		if _, err := tx.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatal(q.sql, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for i, want := range []any{float64(1), float64(0), nil} {
		w := get(ids[i])
		wantTxid := any(txid)
		if want == nil {
			wantTxid = nil
		}
		if w["txid"] != wantTxid || w["vout"] != want || w["confirmations"] != float64(0) || w["block_height"] != nil {
			t.Fatalf("withdrawal %s batched, not mined: %v", ids[i], w)
		}
	}

	// Mined at height 120, the follower at 122: three confirmations.
	exec(`UPDATE btc.batches SET block_hash = $1, block_height = 120 WHERE id = 7`, txidBytes)
	exec(`UPDATE btc.chain_cursor SET height = 122, hash = $1`, txidBytes)
	st, page, _ := f.do(t, call{method: "GET", path: "/v1/btc/withdrawals"})
	ws, _ := page["withdrawals"].([]any)
	if st != 200 || len(ws) != 3 {
		t.Fatalf("list: %d %v", st, page)
	}
	for i, want := range []struct {
		vout, height any
		confs        float64
	}{{float64(1), float64(120), 3}, {float64(0), float64(120), 3}, {nil, nil, 0}} {
		w := ws[i].(map[string]any)
		if w["vout"] != want.vout || w["block_height"] != want.height || w["confirmations"] != want.confs || (want.vout != nil) != (w["txid"] == txid) {
			t.Fatalf("listed withdrawal %d: %v, want %+v", i, w, want)
		}
	}
	if w := get(ids[1]); w["confirmations"] != float64(3) || w["txid"] != txid {
		t.Fatalf("GET after mining: %v", w)
	}
}
