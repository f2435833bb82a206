package events

import (
	"context"
	"sync"
	"testing"

	"github.com/cryptoassets/cryptoassets/internal/storetest"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// Publishers running at once collide on the counter row; the losers retry,
// and the ids come out dense, each event numbered once, in insertion order
// within every transaction.
func TestConcurrentPublishersCollideAndIdsStayDense(t *testing.T) {
	r := storetest.Runner(t, 16)
	ctx := context.Background()
	const emitters, txs, perTx, publishers = 4, 60, 3, 6
	var wg sync.WaitGroup
	done := make(chan struct{})
	pubRunners := make([]*store.Runner, publishers)
	errs := make(chan error, emitters+publishers)
	for p := range pubRunners {
		pubRunners[p] = store.NewRunner(r.Pool(), store.RunnerConfig{MaxAttempts: 1000}, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, err := Publish(ctx, pubRunners[p]); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var emitWG sync.WaitGroup
	for w := 0; w < emitters; w++ {
		emitWG.Add(1)
		go func() {
			defer emitWG.Done()
			for i := 0; i < txs; i++ {
				if err := r.InTx(ctx, "emit", func(tx *store.Tx) error {
					for k := 0; k < perTx; k++ {
						if _, err := Emit(tx, "btc", DepositSeen, map[string]any{"w": w, "i": i, "k": k}); err != nil {
							return err
						}
					}
					return nil
				}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	emitWG.Wait()
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if _, err := Publish(ctx, r); err != nil {
		t.Fatal(err)
	}
	var retries uint64
	for _, pr := range pubRunners {
		retries += pr.Stats().Retries
	}
	var n, maxID, distinct, unpublished, disordered int64
	if err := r.Pool().QueryRow(ctx, `SELECT count(*), coalesce(max(id), 0), count(DISTINCT id), count(*) FILTER (WHERE id IS NULL) FROM public.events`).
		Scan(&n, &maxID, &distinct, &unpublished); err != nil {
		t.Fatal(err)
	}
	// Within one transaction (same w, i) ids follow the emit order k.
	if err := r.Pool().QueryRow(ctx, `SELECT count(*) FROM (
		SELECT id < lag(id) OVER (PARTITION BY payload->>'w', payload->>'i' ORDER BY (payload->>'k')::int) AS back
		FROM public.events) s WHERE back`).Scan(&disordered); err != nil {
		t.Fatal(err)
	}
	var newest int64
	if newest, _ = Newest(ctx, r.Pool()); newest != maxID {
		t.Errorf("counter at %d, newest id %d", newest, maxID)
	}
	t.Logf("%d events published by %d concurrent publishers; %d publication conflicts retried", n, publishers, retries)
	if n != emitters*txs*perTx || maxID != n || distinct != n || unpublished != 0 || disordered != 0 {
		t.Fatalf("%d events: max id %d, %d distinct ids, %d unpublished, %d out of emit order", n, maxID, distinct, unpublished, disordered)
	}
	if retries == 0 {
		t.Fatal("the publishers never collided: the test did not exercise concurrent publication")
	}
}
