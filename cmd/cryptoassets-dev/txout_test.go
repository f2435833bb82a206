package main

import (
	"strings"
	"testing"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
)

// txout asks the node for an output: a payment from the faucet is found
// with its value, address and depth, in the mempool and then mined; a
// spent or unknown output and bad arguments are refused.
func TestDevTxoutShowsTheNodesOutput(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	node := testenv.NewNode(t, devenv.BtcdOptions{})
	conf := writeDevConfig(t, node, 1)
	const addr = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
	out, err := dev(t, conf, "pay", addr, "0.25")
	if err != nil {
		t.Fatal(err, out)
	}
	txid := strings.Fields(out[strings.Index(out, "in transaction ")+len("in transaction "):])[0]
	var vout string
	for _, v := range []string{"0", "1"} {
		if got, err := dev(t, conf, "txout", txid, v); err == nil && strings.Contains(got, "0.25000000 BTC to "+addr) {
			vout = v
		}
	}
	if vout == "" {
		t.Fatalf("no output of %s pays 0.25 BTC to %s", txid, addr)
	}
	if got, err := dev(t, conf, "txout", txid, vout); err != nil || !strings.Contains(got, ", 0 confirmations") {
		t.Fatalf("in the mempool: %v %s", err, got)
	}
	if out, err := dev(t, conf, "mine", "2"); err != nil {
		t.Fatal(err, out)
	}
	if got, err := dev(t, conf, "txout", txid, vout); err != nil || !strings.Contains(got, "the node has "+txid+":"+vout+": 0.25000000 BTC to "+addr+", 2 confirmations") {
		t.Fatalf("mined: %v %s", err, got)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"txout", txid}, "usage"},
		{[]string{"txout", "abc", "0"}, "want 64 hex digits"},
		{[]string{"txout", txid, "-1"}, "want an output index"},
		{[]string{"txout", txid, "7"}, "the node has no unspent output"},
		{[]string{"txout", strings.Repeat("ab", 32), "0"}, "the node has no unspent output"},
	} {
		if got, err := dev(t, conf, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%v: %v %s, want an error with %q", c.args, err, got, c.want)
		}
	}
}
