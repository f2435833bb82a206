package devenv

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func tempDir(t *testing.T) string {
	t.Helper()
	// Not t.TempDir: its 0700 parent would keep the postgres user out.
	dir, err := os.MkdirTemp("", "devenv-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestPostgresStartIsIdempotent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := filepath.Join(tempDir(t), "pg")
	pg, err := StartPostgres(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Stop(context.Background()) })
	again, err := StartPostgres(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if again.Port != pg.Port {
		t.Fatalf("second start moved the server from port %d to %d", pg.Port, again.Port)
	}
	conn, err := pgx.Connect(ctx, pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	var level string
	if err := conn.QueryRow(ctx, "SHOW default_transaction_isolation").Scan(&level); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if err := pg.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := StopPostgres(ctx, dir); err != nil {
		t.Fatalf("stopping a stopped cluster: %v", err)
	}
	if _, err := pgx.Connect(ctx, pg.DSN()); err == nil {
		t.Fatal("server still answers after stop")
	}
	// A stopped cluster starts again with its data.
	pg2, err := StartPostgres(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := pg2.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestBtcdStartsWithSegwitActive(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := tempDir(t)
	node, err := StartBtcd(ctx, dir, BtcdOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = node.Stop(context.Background()) })
	var info struct {
		Chain  string `json:"chain"`
		Blocks int    `json:"blocks"`
		Bip9   map[string]struct {
			Status string `json:"status"`
		} `json:"bip9_softforks"`
	}
	if err := node.Client.Call(ctx, &info, "getblockchaininfo"); err != nil {
		t.Fatal(err)
	}
	if info.Chain != "regtest" || info.Blocks != SegwitHeight || info.Bip9["segwit"].Status != "active" {
		t.Fatalf("getblockchaininfo: %+v", info)
	}
	again, err := StartBtcd(ctx, dir, BtcdOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if again.PID != node.PID || again.RPCPort != node.RPCPort {
		t.Fatalf("second start did not reuse the running node: %d vs %d", again.PID, node.PID)
	}
	// The coinbase outputs pay the faucet.
	hashes, err := node.Generate(ctx, 1)
	if err != nil || len(hashes) != 1 {
		t.Fatalf("generate: %v %v", hashes, err)
	}
	var block struct {
		Tx []struct {
			Vout []struct {
				ScriptPubKey struct {
					Address string `json:"address"`
				} `json:"scriptPubKey"`
			} `json:"vout"`
		} `json:"rawtx"`
	}
	raw, err := node.Client.CallRaw(ctx, "getblock", hashes[0], 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &block); err != nil {
		t.Fatal(err)
	}
	if len(block.Tx) == 0 || block.Tx[0].Vout[0].ScriptPubKey.Address != FaucetAddress().EncodeAddress() {
		t.Fatalf("coinbase does not pay the faucet: %s", raw)
	}
	if err := node.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := StopBtcd(ctx, dir); err != nil {
		t.Fatalf("stopping a stopped node: %v", err)
	}
	if err := node.Client.Call(ctx, nil, "getblockcount"); err == nil {
		t.Fatal("node still answers after stop")
	}
}
