package status_test

import (
	"testing"
	"time"

	"github.com/cryptoassets/cryptoassets/internal/storetest"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/status"
)

// One status read (what every scrape of /metrics does) over 100,000
// deposits, 100,000 coins (half spent) and 20,000 withdrawals. Beside it,
// the baseline: one count of the deposits table.
func BenchmarkRead100kDeposits(b *testing.B) {
	ctx := testenv.Ctx(b, 10*time.Minute)
	runner := storetest.Runner(b, 4, "btc")
	pool := runner.Pool()
	for _, q := range []string{
		`INSERT INTO btc.wallets (id, name, descriptor, script_type) VALUES (1, 'hot', 'h', 'p2wpkh')`,
		`INSERT INTO btc.accounts (kind, name, slots) VALUES ('customer', 'c', 1)`,
		`INSERT INTO btc.addresses (wallet_id, branch, idx, address, script, account_id)
			SELECT 1, 0, i, 'a' || i, '\x0014'::bytea || int4send(i), (SELECT id FROM btc.accounts WHERE name = 'c') FROM generate_series(0, 99999) i`,
		`INSERT INTO btc.coins (txid, vout, wallet_id, address_id, amount, script, block_hash, block_height, spent_by)
			SELECT sha256(int4send(-a.idx - 1)), 0, 1, a.id, 10000, a.script, sha256('b'), 1,
				CASE WHEN a.idx % 2 = 0 THEN sha256(int4send(a.idx)) END
			FROM btc.addresses a`,
		`INSERT INTO btc.deposits (txid, vout, address_id, account_id, amount, state, block_hash, block_height, confirmations)
			SELECT c.txid, 0, c.address_id, a.account_id, c.amount, 'credited', sha256('b'), 1, 1 FROM btc.coins c JOIN btc.addresses a ON a.id = c.address_id`,
		`INSERT INTO btc.withdrawals (account_id, address, script, amount, state)
			SELECT (SELECT id FROM btc.accounts WHERE name = 'c'), 'w' || i, '\x0014'::bytea || int4send(i), 1000 + i,
				CASE WHEN i % 10 = 0 THEN 'awaiting_approval' ELSE 'requested' END FROM generate_series(1, 20000) i`,
		`ANALYZE`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
	r, err := status.New(status.Config{Pool: pool, Assets: []status.AssetConfig{{Name: "btc", Network: "regtest"}}})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("read", func(b *testing.B) {
		for b.Loop() {
			rep, err := r.Read(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if rep.Assets[0].Deposits["credited"].Count != 100_000 {
				b.Fatalf("deposits %+v", rep.Assets[0].Deposits)
			}
		}
	})
	b.Run("baseline-count-deposits", func(b *testing.B) {
		for b.Loop() {
			var n int64
			if err := pool.QueryRow(ctx, `SELECT count(*) FROM btc.deposits`).Scan(&n); err != nil {
				b.Fatal(err)
			}
		}
	})
}
