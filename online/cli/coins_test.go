package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// coins list prints the coins table filtered by wallet and state, as a
// table or as JSON, and refuses bad flags naming the choices.
func TestCoinsListCommand(t *testing.T) {
	e := newCLIEnv(t, "")
	if out, err := e.run("coins", "list"); err != nil || !strings.Contains(out, "no coins") {
		t.Fatalf("empty: %v %s", err, out)
	}
	ctx, db := e.ctx, e.db()
	txid := func(b byte) []byte { h := make([]byte, 32); h[0] = b; return h }
	for _, q := range []string{
		`INSERT INTO btc.wallets (id, name, descriptor, script_type) VALUES (1, 'hot', 'h', 'p2wpkh'), (2, 'cold', 'c', 'p2tr')`,
		`INSERT INTO btc.addresses (id, wallet_id, branch, idx, address, script) VALUES (1, 1, 0, 0, 'bcrt1qhot', '\x0014aa'), (2, 1, 1, 0, 'bcrt1qchange', '\x0014bb'), (3, 2, 0, 0, 'bcrt1pcold', '\x5120cc')`,
		`UPDATE btc.chain_cursor SET height = 110, hash = '\x` + strings.Repeat("ab", 32) + `'`,
	} {
		if _, err := db.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []struct {
		txid   []byte
		addr   int
		amount int64
		height any
		spent  []byte
	}{
		{txid(1), 1, 150_000, 101, nil},
		{txid(2), 2, 20_000, nil, nil},
		{txid(3), 3, 9_000_000, 100, nil},
		{txid(4), 1, 70_000, 105, txid(9)},
	} {
		var block any
		if r.height != nil {
			block = txid(0xbb)
		}
		if _, err := db.Exec(ctx, `INSERT INTO btc.coins (txid, vout, wallet_id, address_id, amount, script, block_hash, block_height, spent_by)
			SELECT $1, 0, wallet_id, id, $3, script, $4, $5, $6 FROM btc.addresses WHERE id = $2`, r.txid, r.addr, r.amount, block, r.height, r.spent); err != nil {
			t.Fatal(err)
		}
	}
	e.check([]outputCase{
		{args: []string{"coins", "list"}, want: []string{"OUTPOINT", "bcrt1qhot", "0.00150000", "confirmed", "10", "bcrt1pcold", "unconfirmed", "spending"}},
		{args: []string{"coins", "list", "--wallet", "hot", "--state", "unspent"}, want: []string{"bcrt1qhot", "bcrt1qchange"}, notWant: []string{"bcrt1pcold", "spending"}},
		{args: []string{"coins", "list", "--state", "spent"}, want: []string{"spending", "0.00070000"}, notWant: []string{"bcrt1qchange", "bcrt1pcold"}},
		{args: []string{"coins", "list", "--limit", "1"}, want: []string{"next page: --after "}},
		{args: []string{"coins", "balance"}, want: []string{"hot", "0.00150000", "0.00020000", "0.00070000", "cold", "0.09000000"}},
		{args: []string{"coins", "list", "--state", "bogus"}, wantErr: "use one of unspent, unconfirmed, confirmed, spending, spent, reserved"},
		{args: []string{"coins", "list", "--wallet", "warm"}, wantErr: "use hot or cold"},
		{args: []string{"coins", "list", "--after", "nonsense"}, wantErr: "want TXID:VOUT"},
		{args: []string{"coins", "list", "--limit", "0"}, wantErr: "use 1 to 1000"},
	})
	out, err := e.run("coins", "list", "--wallet", "cold", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(got) != 1 || got[0]["amount_sat"] != "9000000" || got[0]["state"] != "confirmed" || got[0]["confirmations"] != float64(11) ||
		got[0]["wallet"] != "cold" || got[0]["txid"] == "" {
		t.Fatalf("json %s", out)
	}
}
