package metrics

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cryptoassets/cryptoassets/online/store"
)

type noStats struct{}

func (noStats) Stats() store.RunnerStats { return store.RunnerStats{} }

// described lists the names of every cryptoassets_ metric the package
// exports.
func described(t *testing.T) []string {
	m := New(Options{})
	cs := []prometheus.Collector{m.requests, m.latency, newRunnerCollector(noStats{}), newElectionCollector(nil), newStatusCollector(nil, 0)}
	fq := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	var out []string
	for _, c := range cs {
		ch := make(chan *prometheus.Desc, 100)
		c.Describe(ch)
		close(ch)
		for d := range ch {
			mm := fq.FindStringSubmatch(d.String())
			if mm == nil {
				t.Fatalf("no name in %s", d)
			}
			out = append(out, mm[1])
		}
	}
	slices.Sort(out)
	return out
}

// docs/monitoring.md names every metric, and the dashboard and the alert
// rules use only metrics that exist.
func TestDocsNameTheMetricsThatExist(t *testing.T) {
	names := described(t)
	if len(names) < 30 {
		t.Fatalf("only %d metrics described: %v", len(names), names)
	}
	read := func(p string) string {
		b, err := os.ReadFile("../../docs/" + p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	doc := read("monitoring.md")
	for _, n := range names {
		if !strings.Contains(doc, "`"+n+"`") {
			t.Errorf("docs/monitoring.md does not name %s", n)
		}
	}
	used := regexp.MustCompile(`cryptoassets_[a-z_]+`)
	for _, f := range []string{"grafana-dashboard.json", "prometheus-alerts.yml", "monitoring.md"} {
		for _, u := range used.FindAllString(read(f), -1) {
			base := u
			for _, suffix := range []string{"_bucket", "_count", "_sum"} {
				base = strings.TrimSuffix(base, suffix)
			}
			if !slices.Contains(names, base) && !slices.Contains(names, u) {
				t.Errorf("docs/%s uses %s, which is not a metric", f, u)
			}
		}
	}
}
