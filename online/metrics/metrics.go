package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cryptoassets/cryptoassets/online/election"
	"github.com/cryptoassets/cryptoassets/online/status"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// StatusReader reads the figures; *status.Reader implements it.
type StatusReader interface {
	Read(ctx context.Context) (*status.Report, error)
}

// RunnerStats are the runner's counters; *store.Runner implements it.
type RunnerStats interface {
	Stats() store.RunnerStats
}

// Election is one election this process campaigns in;
// *election.Election implements it.
type Election interface {
	Worker() string
	Asset() string
	Stats() election.Stats
}

// Options say what the metrics read.
type Options struct {
	Status StatusReader
	Runner RunnerStats
	// Elections are this process's elections, whose counters (terms,
	// fence refusals) are exported.
	Elections []Election
	// Timeout bounds the status read of one scrape (default 5s).
	Timeout time.Duration
}

// Metrics is the registry behind /metrics.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

const ns = "cryptoassets"

// New builds the registry: the status collector, the runner's counters,
// the API's request metrics, and the Go and process collectors.
func New(opt Options) *Metrics {
	if opt.Timeout <= 0 {
		opt.Timeout = 5 * time.Second
	}
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: "http", Name: "requests_total",
		Help: "API requests answered, by route pattern and HTTP status."}, []string{"route", "status"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: "http", Name: "request_duration_seconds",
		Help:    "API request latency, from the request's arrival to its answer, by route pattern and HTTP status.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"route", "status"})
	m.reg.MustRegister(m.requests, m.latency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if opt.Runner != nil {
		m.reg.MustRegister(newRunnerCollector(opt.Runner))
	}
	if len(opt.Elections) > 0 {
		m.reg.MustRegister(newElectionCollector(opt.Elections))
	}
	if opt.Status != nil {
		m.reg.MustRegister(newStatusCollector(opt.Status, opt.Timeout))
	}
	return m
}

// Registry is the underlying registry, for tests and extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text format. A collector
// that fails leaves its metrics out; the others are still served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, Timeout: 30 * time.Second})
}

// ObserveRequest counts one API request.
func (m *Metrics) ObserveRequest(route string, code int, d time.Duration) {
	c := strconv.Itoa(code)
	m.requests.WithLabelValues(route, c).Inc()
	m.latency.WithLabelValues(route, c).Observe(d.Seconds())
}

// runnerCollector reads the runner's counters at scrape time.
type runnerCollector struct {
	r                                   RunnerStats
	attempts, retries, giveUps, commits *prometheus.Desc
}

func newRunnerCollector(r RunnerStats) *runnerCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(ns, "runner", name), help, nil, nil)
	}
	return &runnerCollector{r: r,
		attempts: d("attempts_total", "Serializable transactions begun by the runner, retries included."),
		retries:  d("retries_total", "Runner attempts that ended in a serialization failure or deadlock and were run again."),
		giveUps:  d("give_ups_total", "Runner transactions that hit the attempt bound (the caller got ErrConflictUnresolved)."),
		commits:  d("commits_total", "Runner transactions committed."),
	}
}

func (c *runnerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.attempts
	ch <- c.retries
	ch <- c.giveUps
	ch <- c.commits
}

func (c *runnerCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.r.Stats()
	ch <- prometheus.MustNewConstMetric(c.attempts, prometheus.CounterValue, float64(s.Attempts))
	ch <- prometheus.MustNewConstMetric(c.retries, prometheus.CounterValue, float64(s.Retries))
	ch <- prometheus.MustNewConstMetric(c.giveUps, prometheus.CounterValue, float64(s.GiveUps))
	ch <- prometheus.MustNewConstMetric(c.commits, prometheus.CounterValue, float64(s.Commits))
}

// electionCollector reads this process's elections' counters at scrape
// time.
type electionCollector struct {
	els             []Election
	terms, refusals *prometheus.Desc
}

func newElectionCollector(els []Election) *electionCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(ns, "election", name), help, []string{"election", "asset"}, nil)
	}
	return &electionCollector{els: els,
		terms:    d("terms_total", "Times this process was elected leader of the election (took its lease)."),
		refusals: d("fence_refusals_total", "Transactions of the election's workers in this process that its fence refused: written after the lease was lost or taken over, and not committed."),
	}
}

func (c *electionCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.terms
	ch <- c.refusals
}

func (c *electionCollector) Collect(ch chan<- prometheus.Metric) {
	for _, e := range c.els {
		s := e.Stats()
		ch <- prometheus.MustNewConstMetric(c.terms, prometheus.CounterValue, float64(s.Terms), e.Worker(), e.Asset())
		ch <- prometheus.MustNewConstMetric(c.refusals, prometheus.CounterValue, float64(s.Refusals), e.Worker(), e.Asset())
	}
}
