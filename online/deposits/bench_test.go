package deposits

import (
	"crypto/rand"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
)

// BenchmarkFollower is the follower's cost per block scanning ten blocks
// behind the node (one catch-up: ask the tip, fetch the blocks, match them
// as they arrive, record, credit, emit, move the cursor) with 1,000 and
// with 1,000,000 watched addresses, beside the raw getblockhash + getblock
// fetch of the same blocks, one after the other, in the same pass (the
// baseline). Each block carries about 1,000 outputs to addresses the
// service does not watch and four deposits to watched ones. Lower is
// better; the target is a ratio of at most 1.5 at 1,000,000 addresses, and
// the per-block cost there within 10% of 1,000's. Beside it, in the same
// pass, the follower's own way of fetching raw (the hashes of the heights
// in one batched request, then each block): ratio-to-batched-fetch is what
// the database work adds to that.
//
//	go test ./online/deposits -run '^$' -bench '^BenchmarkFollower$' -benchtime 400x -timeout 30m
func BenchmarkFollower(b *testing.B) {
	for _, watched := range []int{1_000, 1_000_000} {
		b.Run(fmt.Sprintf("watched-%d", watched), func(b *testing.B) { benchFollower(b, watched) })
	}
}

const benchBlocks = 10

// watchStrangers adds random scripts to the watch set until it holds
// watched, beside the real addresses.
func (e *env) watchStrangers(b testing.TB, watched, real int) {
	var rows [][]any
	for i := 0; i < watched-real; i++ {
		script := make([]byte, 22)
		script[0], script[1] = 0x00, 0x14
		_, _ = rand.Read(script[2:])
		rows = append(rows, []any{int16(1), int16(0), int32(1_000_000 + i), fmt.Sprintf("bench%d", i), script, int64(5)})
	}
	if _, err := e.runner.Pool().CopyFrom(e.ctx, pgx.Identifier{"btc", "addresses"},
		[]string{"wallet_id", "branch", "idx", "address", "script", "account_id"}, pgx.CopyFromRows(rows)); err != nil {
		b.Fatal(err)
	}
	// Vacuumed and analysed now, as a table in service would be, not by
	// autovacuum in the middle of the timing; and the bulk insert's pages
	// written out by a checkpoint now, not by one the timing runs into.
	for _, q := range []string{`VACUUM (ANALYZE) btc.addresses`, `CHECKPOINT`} {
		if _, err := e.runner.Pool().Exec(e.ctx, q); err != nil {
			b.Fatal(err)
		}
	}
}

// rewind forgets every block above start and what they recorded, as a
// fresh database would have it, and puts the cursor at start.
func (e *env) rewind(b testing.TB, start int32) {
	if _, err := e.runner.Pool().Exec(e.ctx, fmt.Sprintf(`ALTER TABLE btc.ledger_entries DISABLE TRIGGER ledger_entries_append_only;
		ALTER TABLE btc.ledger_transactions DISABLE TRIGGER ledger_transactions_append_only;
		DELETE FROM btc.ledger_entries; DELETE FROM btc.ledger_transactions; DELETE FROM btc.deposits; DELETE FROM btc.coins;
		ALTER TABLE btc.ledger_entries ENABLE TRIGGER ledger_entries_append_only;
		ALTER TABLE btc.ledger_transactions ENABLE TRIGGER ledger_transactions_append_only;
		ALTER TABLE btc.balances DISABLE TRIGGER balances_only_by_ledger;
		UPDATE btc.balances SET available = 0, pending = 0;
		ALTER TABLE btc.balances ENABLE TRIGGER balances_only_by_ledger;
		DELETE FROM btc.chain_blocks WHERE height > %d;`, start)); err != nil {
		b.Fatal(err)
	}
	startHash, err := e.chain.BlockHash(e.ctx, start)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := e.runner.Pool().Exec(e.ctx, `INSERT INTO btc.chain_blocks (height, hash, parent_hash) VALUES ($1, $2, $2) ON CONFLICT DO NOTHING`, start, startHash[:]); err != nil {
		b.Fatal(err)
	}
	if _, err := e.runner.Pool().Exec(e.ctx, `UPDATE btc.chain_cursor SET height = $1, hash = $2`, start, startHash[:]); err != nil {
		b.Fatal(err)
	}
}

// rawFetchBatched is the follower's own raw fetch, its fetcher alone: the
// hashes of up to a transaction's worth of heights in one batched request,
// then each block, nothing else.
func (e *env) rawFetchBatched(b testing.TB, f *Follower, from, to int32) time.Duration {
	out := make(chan fetchedOne, 1)
	t0 := time.Now()
	go f.fetch(e.ctx, from, to, out)
	n := 0
	for one := range out {
		if one.err != nil {
			b.Fatal(one.err)
		}
		n++
	}
	elapsed := time.Since(t0)
	if n != int(to-from+1) {
		b.Fatalf("%d blocks fetched, want %d", n, to-from+1)
	}
	return elapsed
}

// rawFetch is the baseline: the blocks from..to read over RPC, nothing else.
func (e *env) rawFetch(b testing.TB, from, to int32) time.Duration {
	t0 := time.Now()
	for h := from; h <= to; h++ {
		hash, err := e.chain.BlockHash(e.ctx, h)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.chain.Block(e.ctx, hash); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(t0)
}

func benchFollower(b *testing.B, watched int) {
	e := newEnvB(b)
	ctx := e.ctx
	real := e.account("shop", 5)
	e.watchStrangers(b, watched, len(real))
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
	// A pass not counted: every statement prepared, every cache warm. And
	// the setup's garbage collected now rather than while timing.
	e.rewind(b, start)
	if _, err := f.step(ctx, true); err != nil {
		b.Fatal(err)
	}
	runtime.GC()

	b.ResetTimer()
	var scanned, fetched int
	var elapsed, raw, batched time.Duration
	for scanned < b.N {
		b.StopTimer()
		e.rewind(b, start)
		// The baseline, in the same pass: the same blocks, fetched raw.
		raw += e.rawFetch(b, start+1, start+benchBlocks)
		batched += e.rawFetchBatched(b, f, start+1, start+benchBlocks)
		fetched += benchBlocks
		b.StartTimer()
		t0 := time.Now()
		if _, err := f.step(ctx, true); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(t0)
		b.StopTimer()
		if h, err := f.Height(ctx); err != nil || h != start+benchBlocks {
			b.Fatalf("scanned to %d (%v), want %d", h, err, start+benchBlocks)
		}
		scanned += benchBlocks
		b.StartTimer()
	}
	b.StopTimer()
	perBlock := float64(elapsed) / float64(scanned)
	rawPerBlock := float64(raw) / float64(fetched)
	b.ReportMetric(perBlock, "ns/block")
	b.ReportMetric(rawPerBlock, "baseline-ns/block")
	b.ReportMetric(perBlock/rawPerBlock, "ratio")
	b.ReportMetric(float64(batched)/float64(fetched), "batched-fetch-ns/block")
	b.ReportMetric(float64(elapsed)/float64(batched), "ratio-to-batched-fetch")
	if err := e.ledger.Check(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkFollowerCatchUp is a follower catching up 1,000 blocks (about
// one in twenty with a deposit, the rest the coinbase alone), from the
// cursor to the tip with SyncToTip, beside fetching the same blocks raw
// (getblockhash + getblock, one after the other) in the same run. The
// fetch of the next blocks overlaps the commit of the current ones, and one
// transaction records a group of them (up to 32) while the next is
// fetched. Lower is better; the target is a ratio of at most 1.2. Beside
// it, in the same run, the follower's own raw fetch (the hashes in batches
// of 32): ratio-to-batched-fetch is what the database work adds to that.
//
//	go test ./online/deposits -run '^$' -bench '^BenchmarkFollowerCatchUp$' -benchtime 3x -timeout 30m
func BenchmarkFollowerCatchUp(b *testing.B) {
	const blocks = 1_000
	e := newEnvB(b)
	ctx := e.ctx
	real := e.account("shop", 5)
	e.watchStrangers(b, 1_000, len(real))
	start, _, _ := e.chain.Tip(ctx)
	for mined := 0; mined < blocks; {
		if mined%20 == 0 {
			if _, err := e.faucet.Pay(ctx, devenv.Payment{Address: real[mined%len(real)], Amount: 10_000}); err != nil {
				b.Fatal(err)
			}
			e.mineB(b, 1)
			mined++
			continue
		}
		n := min(19, blocks-mined)
		e.mineB(b, n)
		mined += n
	}
	tip := start + blocks
	f := e.follower(6)
	runtime.GC()
	b.ResetTimer()
	var elapsed, raw, batched time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e.rewind(b, start)
		raw += e.rawFetch(b, start+1, tip)
		batched += e.rawFetchBatched(b, f, start+1, tip)
		b.StartTimer()
		t0 := time.Now()
		if err := f.SyncToTip(ctx); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(t0)
		b.StopTimer()
		if h, err := f.Height(ctx); err != nil || h != tip {
			b.Fatalf("caught up to %d (%v), want %d", h, err, tip)
		}
		if st := e.states(); st[Credited] != blocks/20 {
			b.Fatalf("states %v, want %d credited", st, blocks/20)
		}
	}
	b.ReportMetric(float64(elapsed)/float64(b.N), "ns/catch-up")
	b.ReportMetric(float64(raw)/float64(b.N), "baseline-ns/catch-up")
	b.ReportMetric(float64(elapsed)/float64(raw), "ratio")
	b.ReportMetric(float64(batched)/float64(b.N), "batched-fetch-ns/catch-up")
	b.ReportMetric(float64(elapsed)/float64(batched), "ratio-to-batched-fetch")
	if err := e.ledger.Check(ctx); err != nil {
		b.Fatal(err)
	}
}
