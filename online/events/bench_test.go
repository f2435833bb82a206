package events

import (
	"context"
	"testing"

	"github.com/cryptoassets/cryptoassets/internal/storetest"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// BenchmarkEmit is one serializable transaction that emits one event: the
// outbox's cost on every state change.
func BenchmarkEmit(b *testing.B) {
	r := storetest.Runner(b, 4)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := r.InTx(ctx, "emit", func(tx *store.Tx) error {
			_, err := Emit(tx, "btc", DepositSeen, map[string]any{"n": i, "amount_sat": "1000"})
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublish numbers 1,000 pending events per op (one publication
// transaction) and reads them as a reader would.
func BenchmarkPublish(b *testing.B) {
	r := storetest.Runner(b, 4)
	ctx := context.Background()
	var after int64
	for b.Loop() {
		b.StopTimer()
		if err := r.InTx(ctx, "emit", func(tx *store.Tx) error {
			for i := 0; i < publishBatch; i++ {
				if _, err := Emit(tx, "btc", DepositSeen, map[string]any{"n": i}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for read := 0; read < publishBatch; {
			evs, err := List(ctx, r.Pool(), after, 1000)
			if err != nil || len(evs) == 0 {
				b.Fatalf("read %d: %v", read, err)
			}
			read += len(evs)
			after = evs[len(evs)-1].ID
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*publishBatch), "ns/event")
}
