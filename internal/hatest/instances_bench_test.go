package hatest

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/servetest"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// BenchmarkTransfersByInstances measures API transfers per second with
// one, two and three serve processes against the same database, in the
// same run: 32 clients post transfers between 64 funded customers, each
// client to one of the running instances in turn, and a transfer answered
// 503 busy is sent again with its key. The baseline is one instance's
// rate, so ratio is the speed-up of k instances over one: higher is
// better, and k would be the ideal. On the project's 2-core machine the
// database, the clients and every instance share the same two cores, so
// the ratio shows what more instances cost or save there, not how they
// scale on separate machines.
func BenchmarkTransfersByInstances(b *testing.B) {
	const instances, customers, clients = 3, 64, 32
	ctx := context.Background()
	dsn := testenv.NewDatabase(b)
	btcd := testenv.NewNode(b, devenv.BtcdOptions{})
	svc := make([]*servetest.Service, instances)
	for i := range svc {
		svc[i] = servetest.New(b, servetest.Options{DatabaseURL: dsn, RPCURL: btcd.RPCURL(), AssetTOML: serveTOML})
	}
	pool, err := store.Open(ctx, dsn, 4)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	runner := store.NewRunner(pool, store.RunnerConfig{}, nil)
	l, err := ledger.New(runner, servetest.Asset)
	if err != nil {
		b.Fatal(err)
	}
	names := make([]string, customers)
	for i := range names {
		names[i] = fmt.Sprintf("bench%02d", i)
		a, err := l.CreateAccount(ctx, names[i])
		if err != nil {
			b.Fatal(err)
		}
		if err := runner.InTx(ctx, "fund", func(tx *store.Tx) error {
			hot, _, err := l.Internal(tx, ledger.HotWallet)
			if err != nil {
				return err
			}
			_, err = l.PostTx(tx, "bench_funding", "", []ledger.Posting{{AccountID: hot, Available: -1_000_000_000}, {AccountID: a.ID, Available: 1_000_000_000}})
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
	token := svc[0].Token()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	var seq atomic.Int64
	transfer := func(url string, rng *rand.Rand) (busy int, err error) {
		from := rng.IntN(customers)
		to := (from + 1 + rng.IntN(customers-1)) % customers
		body := fmt.Sprintf(`{"from":%q,"to":%q,"amount_sat":"1"}`, names[from], names[to])
		key := fmt.Sprintf("bench-%d", seq.Add(1))
		for {
			req, err := http.NewRequest(http.MethodPost, url+"/v1/btc/transfers", strings.NewReader(body))
			if err != nil {
				return busy, err
			}
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", key)
			resp, err := client.Do(req)
			if err != nil {
				return busy, err
			}
			rb, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch {
			case resp.StatusCode == http.StatusCreated:
				return busy, nil
			case resp.StatusCode == http.StatusServiceUnavailable && strings.Contains(string(rb), `"busy"`):
				busy++
			default:
				return busy, fmt.Errorf("transfer via %s: %d %s", url, resp.StatusCode, rb)
			}
		}
	}
	// running makes exactly the first k instances serve.
	running := func(k int) {
		for i, s := range svc {
			switch {
			case i < k && s.PID() == 0:
				s.StartReady()
			case i >= k && s.PID() != 0:
				s.Stop() // nothing when it already stopped
			}
		}
	}
	var baseline float64
	for k := 1; k <= instances; k++ {
		b.Run(fmt.Sprintf("instances-%d", k), func(b *testing.B) {
			running(k)
			urls := make([]string, k)
			for i := range urls {
				urls[i] = svc[i].APIURL
			}
			var (
				next atomic.Int64
				busy atomic.Int64
				wg   sync.WaitGroup
				errs = make(chan error, clients)
			)
			b.ResetTimer()
			start := time.Now()
			for c := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(c), uint64(k)))
					for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
						n, err := transfer(urls[int(i)%k], rng)
						busy.Add(int64(n))
						if err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			select {
			case err := <-errs:
				b.Fatal(err)
			default:
			}
			rate := float64(b.N) / elapsed.Seconds()
			if k == 1 {
				baseline = rate
			}
			b.ReportMetric(rate, "transfers/s")
			b.ReportMetric(baseline, "baseline-transfers/s")
			b.ReportMetric(rate/baseline, "ratio")
			b.ReportMetric(float64(busy.Load())/float64(b.N), "busy/op")
		})
	}
	if err := l.Check(ctx); err != nil {
		b.Fatalf("ledger check after the benchmark: %v", err)
	}
}
