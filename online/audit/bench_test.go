package audit

import (
	"testing"
	"time"

	"github.com/cryptoassets/cryptoassets/internal/storetest"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
)

// The ledger side of the audit (check 3: one snapshot of the ledger,
// deposits, withdrawals, batches and coins) over a hot wallet of 100,000
// coins, each a credited deposit, half of them spent by 500 booked batches.
// Beside it, the baseline: one scan summing the coins table.
func BenchmarkSnapshot100kCoins(b *testing.B) {
	ctx := testenv.Ctx(b, 10*time.Minute)
	runner := storetest.Runner(b, 4, "btc")
	pool := runner.Pool()
	for _, q := range []string{
		`INSERT INTO btc.wallets (id, name, descriptor, script_type) VALUES (1, 'hot', 'h', 'p2wpkh')`,
		`INSERT INTO btc.accounts (kind, name, slots) VALUES ('customer', 'c', 1)`,
		`INSERT INTO btc.addresses (wallet_id, branch, idx, address, script, account_id)
			SELECT 1, 0, i, 'a' || i, '\x0014'::bytea || int4send(i), (SELECT id FROM btc.accounts WHERE name = 'c') FROM generate_series(0, 99999) i`,
		`INSERT INTO btc.batches (state, txid, psbt, fee, fee_rate, vsize, locktime, ledger_tx_id)
			SELECT 'confirmed', sha256(int4send(i)), '\x00', 1000, 1000, 1000, 0, i FROM generate_series(1, 500) i`,
		`INSERT INTO btc.coins (txid, vout, wallet_id, address_id, amount, script, block_hash, block_height, spent_by, spent_block, spent_height)
			SELECT sha256(int4send(-a.idx - 1)), 0, 1, a.id, 10000, a.script, sha256('b'), 1,
				CASE WHEN a.idx % 2 = 0 THEN sha256(int4send(a.idx % 500 + 1)) END,
				CASE WHEN a.idx % 2 = 0 THEN sha256('s') END, CASE WHEN a.idx % 2 = 0 THEN 2 END
			FROM btc.addresses a`,
		`INSERT INTO btc.deposits (txid, vout, address_id, account_id, amount, state, block_hash, block_height, confirmations)
			SELECT c.txid, 0, c.address_id, a.account_id, c.amount, 'credited', sha256('b'), 1, 1 FROM btc.coins c JOIN btc.addresses a ON a.id = c.address_id`,
		`ANALYZE`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
	a, err := New(runner, "btc", nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("snapshot", func(b *testing.B) {
		for b.Loop() {
			if _, err := a.snapshot(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline-sum-coins", func(b *testing.B) {
		for b.Loop() {
			var n int64
			if err := pool.QueryRow(ctx, `SELECT sum(amount) FROM btc.coins`).Scan(&n); err != nil {
				b.Fatal(err)
			}
		}
	})
}
