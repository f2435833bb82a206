package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/broadcast"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// The operator's broadcast commands against a real node: list filters,
// find, and resolve ID with its refusals (each leaving the record as it
// was) and its --abandon.
func TestBroadcastsCommands(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	t.Setenv("USER", "")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	node := testenv.NewNode(t, devenv.BtcdOptions{})
	dsn := testenv.NewDatabase(t)
	conf := filepath.Join(t.TempDir(), "c.toml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("[database]\nurl = %q\n[assets.btc]\nnetwork = \"regtest\"\nrpc_url = %q\nrpc_user = %q\nrpc_password = %q\n",
		dsn, node.RPCURL(), devenv.RPCUser, devenv.RPCPassword)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, conf, "migrate"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	pool, err := store.Open(ctx, dsn, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	runner := store.NewRunner(pool, store.RunnerConfig{}, nil)
	rn := chain.NewRPCNode(node.Client)
	b, err := broadcast.New(runner, "btc", rn, nil)
	if err != nil {
		t.Fatal(err)
	}
	faucet := devenv.NewFaucet(rn)
	build := func() *wire.MsgTx {
		tx, err := faucet.Build(ctx, []devenv.Payment{{Address: devenv.FaucetAddress().EncodeAddress(), Amount: 10_000}}, 10_000)
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}
	open := func(tx *wire.MsgTx) broadcast.Record {
		var r broadcast.Record
		if err := runner.InTx(ctx, "test-open", func(st *store.Tx) error {
			var err error
			r, _, err = b.OpenTx(st, broadcast.KindColdTopup, tx)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return r
	}
	row := func(id int64) string {
		var s string
		if err := pool.QueryRow(ctx, `SELECT row_to_json(b)::text FROM btc.broadcasts b WHERE id = $1`, id).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	closed, err := b.Submit(ctx, broadcast.KindColdTopup, build())
	if err != nil {
		t.Fatal(err)
	}
	nowhere := open(build()) // never sent
	// A third whose coin another transaction spent first: broken, not sent.
	spentTx := build()
	var value int64
	for _, o := range spentTx.TxOut {
		value += o.Value
	}
	if _, err := faucet.Replace(ctx, spentTx, value+10_000, []devenv.Payment{{Address: devenv.FaucetAddress().EncodeAddress(), Amount: 50_000}}, 20_000); err != nil {
		t.Fatal(err)
	}
	if _, err := node.Generate(ctx, 1); err != nil {
		t.Fatal(err)
	}
	spent := open(spentTx)

	if out, err := run(t, conf, "broadcasts", "resolve"); err != nil || !strings.Contains(out, "BROKEN") {
		t.Fatalf("resolve: %v\n%s", err, out)
	}
	out, err := run(t, conf, "broadcasts", "list", "--broken")
	if err != nil || !strings.Contains(out, spent.TxID.String()) || strings.Contains(out, nowhere.TxID.String()) || !strings.Contains(out, "spent in block") {
		t.Fatalf("list --broken: %v\n%s", err, out)
	}
	// resolve sent the never-sent one (its coin was unspent): it is closed now.
	out, err = run(t, conf, "broadcasts", "list", "--open")
	if err != nil || !strings.Contains(out, spent.TxID.String()) || strings.Contains(out, nowhere.TxID.String()) || strings.Contains(out, closed.TxID.String()) {
		t.Fatalf("list --open: %v\n%s", err, out)
	}
	out, err = run(t, conf, "broadcasts", "find", strconv.FormatInt(spent.ID, 10))
	if err != nil || !strings.Contains(out, "the node does not have the transaction") || !strings.Contains(out, "(another transaction)") {
		t.Fatalf("find: %v\n%s", err, out)
	}

	id := strconv.FormatInt(spent.ID, 10)
	refusals := []struct {
		args []string
		want string
	}{
		{[]string{id}, "say how it is resolved: --mark-sent TXID or --abandon"},
		{[]string{id, "--mark-sent", spent.TxID.String(), "--abandon", "--operator", "carol"}, "exclusive"},
		{[]string{"--abandon", "--operator", "carol"}, "name its ID"},
		{[]string{"x1", "--abandon", "--operator", "carol"}, `broadcast ID "x1"`},
		{[]string{id, "--mark-sent", "abc", "--operator", "carol"}, "64-hex-digit txid"},
		{[]string{id, "--mark-sent", closed.TxID.String(), "--operator", "carol"}, "is not the transaction of broadcast"},
		{[]string{id, "--mark-sent", spent.TxID.String(), "--operator", "carol"}, "the node does not show"},
		{[]string{id, "--abandon"}, "name the operator"},                                                             // $USER is empty here
		{[]string{"--abandon", "--operator", "carol", strconv.FormatInt(closed.ID, 10)}, "already closed (accepted"}, // flags first works too
		{[]string{id, "--abandon", "--operator", "carol", "7"}, `unexpected "7"`},
		{[]string{id, "--abandoned"}, "after the ID: flag provided but not defined: -abandoned"},
	}
	for _, tc := range refusals {
		before := row(spent.ID)
		out, err := run(t, conf, append([]string{"broadcasts", "resolve"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("resolve %v: want a refusal containing %q, got %v\n%s", tc.args, tc.want, err, out)
		}
		if after := row(spent.ID); after != before {
			t.Fatalf("resolve %v changed the record:\n%s\n%s", tc.args, before, after)
		}
	}
	out, err = run(t, conf, "broadcasts", "resolve", id, "--abandon", "--operator", "carol")
	if err != nil || !strings.Contains(out, "abandoned") || !strings.Contains(out, "carol") {
		t.Fatalf("abandon: %v\n%s", err, out)
	}
	if out, err := run(t, conf, "broadcasts", "list", "--open"); err != nil || strings.Contains(out, spent.TxID.String()) {
		t.Fatalf("list --open after abandon: %v\n%s", err, out)
	}
}
