package coins

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/store"
)

// One block's coin changes applied inside one transaction, with 100,000
// coins in the table: a block of 4,000 inputs (10 spending our coins) and
// 10 outputs paying us, written set-based (ConnectBlockTx: one statement per
// kind) beside the same changes written one statement per input and output
// in the same run.
//
//	go test ./online/coins -run '^$' -bench ConnectBlock -benchtime 20x
func BenchmarkConnectBlock(b *testing.B) {
	const coinsInTable, inputs, ours = 100_000, 4_000, 10
	d := newDB(b)
	blockOne := chainhash.Hash{1}
	var rows [][]any
	var existing []wire.OutPoint
	for i := 0; i < coinsInTable; i++ {
		var h chainhash.Hash
		_, _ = rand.Read(h[:])
		existing = append(existing, wire.OutPoint{Hash: h})
		rows = append(rows, []any{h[:], int32(0), int16(1), int64(1), int64(10_000 + i), hotScript, blockOne[:], int32(1)})
	}
	if _, err := d.runner.Pool().CopyFrom(d.ctx, pgx.Identifier{"btc", "coins"},
		[]string{"txid", "vout", "wallet_id", "address_id", "amount", "script", "block_hash", "block_height"}, pgx.CopyFromRows(rows)); err != nil {
		b.Fatal(err)
	}
	d.exec(`ANALYZE btc.coins`)
	next := 0
	block := func(height int32) (chainhash.Hash, Matched) {
		var m Matched
		var spender chainhash.Hash
		_, _ = rand.Read(spender[:])
		for i := 0; i < inputs; i++ {
			op := wire.OutPoint{Index: uint32(i)}
			if i < ours {
				op = existing[next]
				next++
			} else {
				_, _ = rand.Read(op.Hash[:])
			}
			m.Spends = append(m.Spends, Spend{OutPoint: op, By: spender})
		}
		for i := 0; i < ours; i++ {
			m.Outputs = append(m.Outputs, out(wire.OutPoint{Hash: spender, Index: uint32(i)}, 2, 5_000))
		}
		return chainhash.Hash{byte(height), byte(height >> 8), 0xbe}, m
	}
	perRow := func(tx *store.Tx, hash chainhash.Hash, height int32, m Matched) error {
		for _, o := range m.Outputs {
			if _, err := tx.Exec(`INSERT INTO btc.coins (txid, vout, wallet_id, address_id, amount, script, block_hash, block_height)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (txid, vout) DO UPDATE SET block_hash = excluded.block_hash, block_height = excluded.block_height`,
				o.OutPoint.Hash[:], int32(o.OutPoint.Index), o.WalletID, o.AddressID, o.Amount, o.Script, hash[:], height); err != nil {
				return err
			}
		}
		for _, s := range m.Spends {
			if _, err := tx.Exec(`UPDATE btc.coins SET spent_by = $3, spent_block = $4, spent_height = $5 WHERE txid = $1 AND vout = $2`,
				s.OutPoint.Hash[:], int32(s.OutPoint.Index), s.By[:], hash[:], height); err != nil {
				return err
			}
		}
		return nil
	}
	measure := func(apply func(tx *store.Tx, hash chainhash.Hash, height int32, m Matched) error) time.Duration {
		var total time.Duration
		for i := 0; i < b.N; i++ {
			hash, m := block(int32(next))
			t0 := time.Now()
			d.tx(func(tx *store.Tx) error { return apply(tx, hash, 2+int32(i), m) })
			total += time.Since(t0)
		}
		return total / time.Duration(b.N)
	}
	b.ResetTimer()
	setBased := measure(func(tx *store.Tx, hash chainhash.Hash, height int32, m Matched) error {
		return ConnectBlockTx(tx, "btc", hash, height, m)
	})
	oneByOne := measure(perRow)
	b.StopTimer()
	var spent int
	if err := d.runner.Pool().QueryRow(d.ctx, `SELECT count(*) FROM btc.coins WHERE spent_by IS NOT NULL`).Scan(&spent); err != nil {
		b.Fatal(err)
	}
	if spent != 2*ours*b.N {
		b.Fatalf("%d coins spent, want %d", spent, 2*ours*b.N)
	}
	b.ReportMetric(float64(setBased.Microseconds()), "µs/block")
	b.ReportMetric(float64(oneByOne.Microseconds()), "per-row-µs/block")
	b.ReportMetric(float64(oneByOne)/float64(setBased), "per-row/set-based")
}
