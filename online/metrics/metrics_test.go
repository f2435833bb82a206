package metrics_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cryptoassets/cryptoassets/internal/storetest"
	"github.com/cryptoassets/cryptoassets/online/metrics"
	"github.com/cryptoassets/cryptoassets/online/status"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// stalled wraps the real reader and, while stall is set, waits out the
// scrape's time bound first, as a read behind a hung database does.
type stalled struct {
	real  *status.Reader
	stall atomic.Bool
}

func (s *stalled) Read(ctx context.Context) (*status.Report, error) {
	if s.stall.Load() {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return s.real.Read(ctx)
}

// A read that runs out of time is a metric (status_up 0, one more read
// failure) in a scrape answered 200 within the bound, and the next good
// read brings the figures back. The runner's counters are its Stats.
func TestAFailedReadIsAMetric(t *testing.T) {
	runner := storetest.Runner(t, 4, "btc")
	real, err := status.New(status.Config{Pool: runner.Pool(), Assets: []status.AssetConfig{{Name: "btc", Network: "regtest"}}})
	if err != nil {
		t.Fatal(err)
	}
	rd := &stalled{real: real}
	m := metrics.New(metrics.Options{Status: rd, Runner: runner, Timeout: 300 * time.Millisecond})
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()

	for range 3 {
		if err := runner.InTx(context.Background(), "noop", func(tx *store.Tx) error { _, err := tx.Exec(`SELECT 1`); return err }); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name     string
		stall    bool
		up       float64
		failures float64
		figures  bool
	}{
		{"good read", false, 1, 0, true},
		{"stalled read", true, 0, 1, false},
		{"stalled again", true, 0, 2, false},
		{"recovered", false, 1, 2, true},
	}
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil || len(problems) > 0 {
		t.Fatalf("the metrics do not pass Prometheus's lint: %v %+v", err, problems)
	}
	for _, tc := range tests {
		rd.stall.Store(tc.stall)
		start := time.Now()
		s := scrapeOf(t, srv.URL)
		if took := time.Since(start); took > 3*time.Second {
			t.Fatalf("%s: the scrape took %v with a 300ms bound", tc.name, took)
		}
		if s.must(t, up) != tc.up || s.must(t, "cryptoassets_status_read_failures_total") != tc.failures {
			t.Fatalf("%s: status_up %v, read failures %v; want %v and %v", tc.name, s[up], s["cryptoassets_status_read_failures_total"], tc.up, tc.failures)
		}
		if _, ok := s.has(`cryptoassets_deposits{asset="btc",state="seen"}`); ok != tc.figures {
			t.Fatalf("%s: deposit figures present %v, want %v", tc.name, ok, tc.figures)
		}
		st := runner.Stats()
		if s.must(t, commits) != float64(st.Commits) || s.must(t, "cryptoassets_runner_attempts_total") != float64(st.Attempts) || st.Commits < 3 {
			t.Fatalf("%s: runner commits %v attempts %v, Stats %+v", tc.name, s[commits], s["cryptoassets_runner_attempts_total"], st)
		}
	}
}

// Requests are counted by route and status with their latency; the
// default bucket layout holds a fast answer in its first buckets.
func TestObserveRequestCountsByRouteAndStatus(t *testing.T) {
	m := metrics.New(metrics.Options{})
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	obs := []struct {
		route string
		code  int
		d     time.Duration
	}{
		{"POST /v1/{asset}/transfers", http.StatusCreated, 2 * time.Millisecond},
		{"POST /v1/{asset}/transfers", http.StatusCreated, 40 * time.Millisecond},
		{"POST /v1/{asset}/transfers", http.StatusConflict, time.Millisecond},
		{"unmatched", http.StatusBadRequest, time.Microsecond},
	}
	for _, o := range obs {
		m.ObserveRequest(o.route, o.code, o.d)
	}
	s := scrapeOf(t, srv.URL)
	for key, want := range map[string]float64{
		`cryptoassets_http_requests_total{route="POST /v1/{asset}/transfers",status="201"}`:                             2,
		`cryptoassets_http_requests_total{route="POST /v1/{asset}/transfers",status="409"}`:                             1,
		`cryptoassets_http_requests_total{route="unmatched",status="400"}`:                                              1,
		`cryptoassets_http_request_duration_seconds_count{route="POST /v1/{asset}/transfers",status="201"}`:             2,
		`cryptoassets_http_request_duration_seconds_bucket{route="POST /v1/{asset}/transfers",status="201",le="0.005"}`: 1,
		`cryptoassets_http_request_duration_seconds_bucket{route="POST /v1/{asset}/transfers",status="201",le="0.05"}`:  2,
	} {
		if got := s.must(t, key); got != want {
			t.Fatalf("%s = %v, want %v", key, got, want)
		}
	}
}

// slow wraps the real reader, takes its time, and records how many reads
// run at once.
type slow struct {
	real       *status.Reader
	calls, now atomic.Int32
	most       atomic.Int32
	delay      time.Duration
}

func (s *slow) Read(ctx context.Context) (*status.Report, error) {
	s.calls.Add(1)
	n := s.now.Add(1)
	defer s.now.Add(-1)
	for {
		m := s.most.Load()
		if n <= m || s.most.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(s.delay)
	return s.real.Read(ctx)
}

// Scrapes that arrive together share one read: never two reads at once,
// fewer reads than scrapes, and every scrape has the figures.
func TestConcurrentScrapesShareOneRead(t *testing.T) {
	runner := storetest.Runner(t, 4, "btc")
	real, err := status.New(status.Config{Pool: runner.Pool(), Assets: []status.AssetConfig{{Name: "btc", Network: "regtest"}}})
	if err != nil {
		t.Fatal(err)
	}
	rd := &slow{real: real, delay: 300 * time.Millisecond}
	srv := httptest.NewServer(metrics.New(metrics.Options{Status: rd}).Handler())
	defer srv.Close()
	const scrapes = 8
	ups := make(chan float64, scrapes)
	for range scrapes {
		go func() { ups <- scrapeOf(t, srv.URL)[up] }()
	}
	for range scrapes {
		if v := <-ups; v != 1 {
			t.Fatalf("a scrape had status_up %v", v)
		}
	}
	if rd.most.Load() != 1 || rd.calls.Load() >= scrapes {
		t.Fatalf("%d scrapes made %d reads, %d at once at most", scrapes, rd.calls.Load(), rd.most.Load())
	}
	t.Logf("%d concurrent scrapes shared %d reads", scrapes, rd.calls.Load())
}
