package deposits

import (
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
)

// Blocks scanned per second with 1,000 and with 1,000,000 watched addresses,
// beside the raw fetch of the same blocks over RPC in the same run. Each
// block carries about 1,000 outputs to addresses the service does not watch
// plus a few to watched ones.
//
//	go test ./online/deposits -run '^$' -bench Follower -benchtime 40x -timeout 30m
func BenchmarkFollower(b *testing.B) {
	for _, watched := range []int{1_000, 1_000_000} {
		b.Run(fmt.Sprintf("watched-%d", watched), func(b *testing.B) { benchFollower(b, watched) })
	}
}

const benchBlocks = 10

func benchFollower(b *testing.B, watched int) {
	e := newEnvB(b)
	ctx := e.ctx
	// The watched addresses: a few real ones, the rest random scripts.
	real := e.account("shop", 5)
	var rows [][]any
	for i := 0; i < watched-len(real); i++ {
		script := make([]byte, 22)
		script[0], script[1] = 0x00, 0x14
		_, _ = rand.Read(script[2:])
		rows = append(rows, []any{int16(1), int16(0), int32(1_000_000 + i), fmt.Sprintf("bench%d", i), script, int64(5)})
	}
	if _, err := e.runner.Pool().CopyFrom(ctx, pgx.Identifier{"btc", "addresses"},
		[]string{"wallet_id", "branch", "idx", "address", "script", "account_id"}, pgx.CopyFromRows(rows)); err != nil {
		b.Fatal(err)
	}
	// Blocks full of outputs to strangers, each with one deposit to us.
	start, _, _ := e.chain.Tip(ctx)
	for blk := 0; blk < benchBlocks; blk++ {
		for tx := 0; tx < 4; tx++ {
			pays := []devenv.Payment{{Address: real[blk%len(real)], Amount: 10_000}}
			for o := 0; o < 250; o++ {
				k, _ := testKey{seed: "stranger"}.Derive(uint32(blk), uint32(tx*1000+o))
				pays = append(pays, devenv.Payment{Address: k.Address, Amount: 1_000})
			}
			if _, err := e.faucet.Pay(ctx, pays...); err != nil {
				b.Fatal(err)
			}
		}
		e.mineB(b, 1)
	}
	f := e.follower(1)
	f.cfg.StartHeight = start
	if err := f.watch.refresh(ctx, e.runner.Pool(), f.schema); err != nil {
		b.Fatal(err)
	}
	if f.watch.size() != watched {
		b.Fatalf("watching %d scripts, want %d", f.watch.size(), watched)
	}

	// Raw fetch of the same blocks, for the ratio.
	rawStart := time.Now()
	for h := start + 1; h <= start+benchBlocks; h++ {
		hash, err := e.chain.BlockHash(ctx, h)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.chain.Block(ctx, hash); err != nil {
			b.Fatal(err)
		}
	}
	rawPerBlock := time.Since(rawStart) / benchBlocks

	b.ResetTimer()
	var scanned int
	var elapsed time.Duration
	for scanned < b.N {
		// Rewind: forget the blocks and deposits, as a fresh database would.
		b.StopTimer()
		if _, err := e.runner.Pool().Exec(ctx, fmt.Sprintf(`ALTER TABLE btc.ledger_entries DISABLE TRIGGER ledger_entries_append_only;
			ALTER TABLE btc.ledger_transactions DISABLE TRIGGER ledger_transactions_append_only;
			DELETE FROM btc.ledger_entries; DELETE FROM btc.ledger_transactions; DELETE FROM btc.deposits;
			ALTER TABLE btc.ledger_entries ENABLE TRIGGER ledger_entries_append_only;
			ALTER TABLE btc.ledger_transactions ENABLE TRIGGER ledger_transactions_append_only;
			ALTER TABLE btc.balances DISABLE TRIGGER balances_only_by_ledger;
			UPDATE btc.balances SET available = 0, pending = 0;
			ALTER TABLE btc.balances ENABLE TRIGGER balances_only_by_ledger;
			DELETE FROM btc.chain_blocks WHERE height > %d;`, start)); err != nil {
			b.Fatal(err)
		}
		startHash, _ := e.chain.BlockHash(ctx, start)
		if _, err := e.runner.Pool().Exec(ctx, `INSERT INTO btc.chain_blocks (height, hash, parent_hash) VALUES ($1, $2, $2) ON CONFLICT DO NOTHING`, start, startHash[:]); err != nil {
			b.Fatal(err)
		}
		if _, err := e.runner.Pool().Exec(ctx, `UPDATE btc.chain_cursor SET height = $1, hash = $2`, start, startHash[:]); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := time.Now()
		for i := 0; i < benchBlocks && scanned < b.N; i++ {
			if _, err := f.Step(ctx); err != nil {
				b.Fatal(err)
			}
			scanned++
		}
		elapsed += time.Since(t0)
	}
	b.StopTimer()
	perBlock := elapsed / time.Duration(scanned)
	b.ReportMetric(float64(perBlock.Microseconds()), "µs/block")
	b.ReportMetric(float64(rawPerBlock.Microseconds()), "raw-fetch-µs/block")
	b.ReportMetric(float64(perBlock)/float64(rawPerBlock), "ratio-to-raw-fetch")
	b.ReportMetric(float64(time.Second)/float64(perBlock), "blocks/s")
	if err := e.ledger.Check(ctx); err != nil {
		b.Fatal(err)
	}
}
