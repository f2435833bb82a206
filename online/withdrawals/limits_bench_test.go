package withdrawals

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkWithdrawalRequestsUnderLimits runs 32 clients requesting
// withdrawals from 1000 accounts with no rule, with the per-account limits
// (a range of one account's rows), and with the hot wallet's hourly
// outflow (every request reads every other's last hour: they serialize).
// The limits are set high enough never to refuse; a request the runner
// gave up on after its retries (the API's 503 busy) is counted as failed.
//
//	go test ./online/withdrawals -run '^$' -bench UnderLimits -benchtime 2000x
func BenchmarkWithdrawalRequestsUnderLimits(b *testing.B) {
	const clients, accounts = 32, 1000
	for _, c := range []struct {
		name   string
		limits Limits
	}{
		{"none", Limits{}},
		{"account", Limits{MaxWithdrawalSat: 1e8, AccountMaxCount: 1e6, AccountMaxSat: 1e15}},
		{"hot_outflow", Limits{HotOutflowPerHourSat: 1e15}},
	} {
		b.Run(c.name, func(b *testing.B) {
			f := newFixture(b, 40, 0)
			names := make([]string, accounts)
			for i := range names {
				names[i] = fmt.Sprintf("acct-%04d", i)
				f.customer(b, names[i], 100*100_000_000)
			}
			svc := f.withRules(b, c.limits, Approval{})
			ctx := context.Background()
			before := f.runner.Stats()
			var failed, taken atomic.Int64
			var lastErr atomic.Value
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for cl := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(1, uint64(cl)))
					for taken.Add(1) <= int64(b.N) {
						if _, err := svc.Request(ctx, Request{Account: names[rng.IntN(accounts)], Address: outside, Amount: 1000 + rng.Int64N(100_000)}); err != nil {
							failed.Add(1)
							lastErr.Store(err.Error())
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			if failed.Load() > 0 {
				b.Logf("%d requests failed, the last: %v", failed.Load(), lastErr.Load())
			}
			st := f.runner.Stats()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "withdrawals/s")
			b.ReportMetric(float64(st.Retries-before.Retries)/float64(st.Commits-before.Commits), "retries/commit")
			b.ReportMetric(float64(failed.Load()), "failed")
		})
	}
}
