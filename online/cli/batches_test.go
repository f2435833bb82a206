package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
)

// batches list and show print what the batches tables hold (a confirmed
// batch and the rejected one it replaced), as tables or JSON, and refuse
// bad arguments naming the choices; withdrawals show names the output that
// pays a batched withdrawal. The batcher's own tests build real batches
// against a node; these rows only feed the printing.
// broadcasts find and bump each take exactly one broadcast record ID,
// refuse another argument naming `broadcasts list`, and look the record
// up before they act: bump reaches the batch of record 2 and refuses it,
// confirmed.
func TestBroadcastsFindAndBumpTakeOneRecordID(t *testing.T) {
	e := newCLIEnv(t, "", "alice")
	seedBatches(e)
	var cases []outputCase
	for _, cmd := range [][]string{{"broadcasts", "find"}, {"broadcasts", "bump", "--fee-rate", "20"}} {
		cases = append(cases,
			outputCase{args: cmd, wantErr: "name one broadcast ID (see `cryptoassets broadcasts list`)"},
			outputCase{args: append(cmd[:len(cmd):len(cmd)], "1", "2"), wantErr: "name one broadcast ID"},
			outputCase{args: append(cmd[:len(cmd):len(cmd)], "x"), wantErr: `broadcast ID "x": want a positive whole number`},
			outputCase{args: append(cmd[:len(cmd):len(cmd)], "0"), wantErr: `broadcast ID "0": want a positive whole number`},
			outputCase{args: append(cmd[:len(cmd):len(cmd)], "9"), wantErr: "no such broadcast: 9"},
		)
	}
	cases = append(cases,
		// Record 2 found, its confirmed batch is no longer bumpable.
		outputCase{args: []string{"broadcasts", "bump", "--fee-rate", "20", "2"}, wantErr: "batch 2 is not the newest version of a broadcast batch in no block"},
	)
	e.check(cases)
}

func TestBatchesListShowCommands(t *testing.T) {
	txid := seededTxid
	e := newCLIEnv(t, "", "alice")
	if out, err := e.run("batches", "list"); err != nil || !strings.Contains(out, "no batches") {
		t.Fatalf("empty: %v %s", err, out)
	}
	seedBatches(e)
	e.check([]outputCase{
		{args: []string{"batches", "list"}, want: []string{"ID", "confirmed", txid(0x22), "0.00500000", "600", "4", "2  ", "rejected", txid(0x11)}},
		{args: []string{"batches", "list", "--state", "rejected"}, want: []string{txid(0x11)}, notWant: []string{txid(0x22)}},
		{args: []string{"batches", "list", "--limit", "1"}, want: []string{txid(0x22), "next page: --before 2"}, notWant: []string{txid(0x11)}},
		{args: []string{"batches", "show", "2"}, want: []string{"batch 2  confirmed  txid " + txid(0x22), "fee 600 sat at 4 sat/vB (150 vbytes)", "change 0.00499400 BTC at output 1",
			"mined in block 109", "2 confirmations", "replaces batch 1", "closed", "accepted", "bcrt1qdest", txid(1) + ":0", "this batch"}},
		{args: []string{"batches", "show", "1"}, want: []string{"rejected", "replaced by batch 2", "the node said: insufficient fee", txid(0x22)}},
		{args: []string{"withdrawals", "show", "1"}, want: []string{"paid by output " + txid(0x22) + ":0 (batch 2", "mined at height 109, 2 confirmations"}},
		{args: []string{"batches", "list", "--state", "paid"}, wantErr: "use one of reserved, broadcasting, broadcast, confirmed, rejected, abandoned, dead"},
		{args: []string{"batches", "list", "--limit", "0"}, wantErr: "use 1 to 1000"},
		{args: []string{"batches", "show"}, wantErr: "name one batch ID"},
		{args: []string{"batches", "show", "x"}, wantErr: "want a positive whole number"},
		{args: []string{"batches", "show", "9"}, wantErr: "batch 9: no such batch"},
	})
	out, err := e.run("batches", "show", "2", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	pays, _ := got["payments"].([]any)
	bc, _ := got["broadcast"].(map[string]any)
	if got["txid"] != txid(0x22) || got["fee_sat"] != "600" || got["confirmations"] != float64(2) || got["replaces"] != float64(1) ||
		len(pays) != 1 || pays[0].(map[string]any)["vout"] != float64(0) || bc["outcome"] != "accepted" {
		t.Fatalf("json %s", out)
	}
	out, err = e.run("batches", "list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 2 || list[0]["id"] != float64(2) || list[1]["state"] != "rejected" {
		t.Fatalf("list json %v %s", err, out)
	}
}

// seededTxid is the txid of the hash whose first byte is b, as seedBatches
// writes them.
func seededTxid(b byte) string { return chainhash.Hash(seededHash(b)).String() }

// seededHash is a 32-byte hash whose first byte is b.
func seededHash(b byte) []byte { x := make([]byte, 32); x[0] = b; return x }

// seedBatches writes, as serve would have, alice's withdrawal paid by
// batch 2 (confirmed at height 109 of 110), which replaced batch 1 (its
// broadcast, record 1, rejected by the node); record 2 is batch 2's,
// accepted.
func seedBatches(e *cliEnv) {
	e.t.Helper()
	ctx, db := e.ctx, e.db()
	tx, err := db.Begin(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO btc.wallets (id, name, descriptor, script_type) VALUES (1, 'hot', 'h', 'p2wpkh')`, nil},
		{`INSERT INTO btc.addresses (id, wallet_id, branch, idx, address, script) VALUES (1, 1, 1, 0, 'bcrt1qchange', '\x0014bb')`, nil},
		{`UPDATE btc.chain_cursor SET height = 110, hash = $1`, []any{seededHash(0xcc)}},
		{`INSERT INTO btc.coins (txid, vout, wallet_id, address_id, amount, script, block_hash, block_height, spent_by, spent_block, spent_height)
			VALUES ($1, 0, 1, 1, 1000000, '\x0014bb', $3, 100, $2, $4, 109)`, []any{seededHash(1), seededHash(0x22), seededHash(0xbb), seededHash(0xcc)}},
		{`INSERT INTO btc.batches (id, state, txid, psbt, fee, fee_rate, vsize, locktime) VALUES (1, 'rejected', $1, '\x00', 300, 2000, 150, 108)`, []any{seededHash(0x11)}},
		{`INSERT INTO btc.batches (id, state, txid, psbt, fee, fee_rate, vsize, locktime, change_vout, change_amount, replaces, block_hash, block_height)
			VALUES (2, 'confirmed', $1, '\x00', 600, 4000, 150, 108, 1, 499400, 1, $2, 109)`, []any{seededHash(0x22), seededHash(0xcc)}},
		{`INSERT INTO btc.batch_inputs (batch_id, txid, vout) VALUES (1, $1, 0), (2, $1, 0)`, []any{seededHash(1)}},
		{`INSERT INTO btc.withdrawals (id, account_id, address, script, amount, state, batch_id, vout)
			SELECT 1, id, 'bcrt1qdest', '\x0014dd', 500000, 'confirmed', 2, 0 FROM btc.accounts WHERE name = 'alice'`, nil},
		{`INSERT INTO btc.batch_withdrawals (batch_id, withdrawal_id, vout) VALUES (1, 1, 0), (2, 1, 0)`, nil},
		{`INSERT INTO btc.broadcasts (txid, raw_tx, kind, closed_at, outcome, error) VALUES ($1, '\x00', 'withdrawal', now(), 'rejected', 'insufficient fee')`, []any{seededHash(0x11)}},
		{`INSERT INTO btc.broadcasts (txid, raw_tx, kind, closed_at, outcome) VALUES ($1, '\x00', 'withdrawal', now(), 'accepted')`, []any{seededHash(0x22)}},
	} {
		if _, err := tx.Exec(ctx, q.sql, q.args...); err != nil {
			e.t.Fatal(q.sql, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		e.t.Fatal(err)
	}
}
