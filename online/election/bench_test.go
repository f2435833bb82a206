package election

import (
	"context"
	"testing"
	"time"

	"github.com/cryptoassets/cryptoassets/internal/storetest"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// What the fence adds to a worker's transaction: one statement, its share
// lock and the two timeouts. The same one-row update, unfenced and fenced.
func BenchmarkFence(b *testing.B) {
	r := storetest.Runner(b, 4)
	ctx := context.Background()
	if _, err := r.Pool().Exec(ctx, `CREATE TABLE bench_counter (n bigint NOT NULL); INSERT INTO bench_counter VALUES (0)`); err != nil {
		b.Fatal(err)
	}
	e, err := New(r, "follower", "btc", Config{Instance: "bench", Lease: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = e.Run(runCtx, func(ctx context.Context) error { <-ctx.Done(); return nil }) }()
	for e.Epoch() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	for _, bc := range []struct {
		name   string
		runner *store.Runner
	}{{"unfenced", r}, {"fenced", e.Runner(r)}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if err := bc.runner.InTx(ctx, "bench", func(tx *store.Tx) error {
					_, err := tx.Exec(`UPDATE bench_counter SET n = n + 1`)
					return err
				}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
