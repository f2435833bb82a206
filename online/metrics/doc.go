// Package metrics is the service's Prometheus endpoint. A collector reads
// online/status at every scrape, within a time bound, so the figures are
// the database's at that moment and nothing is kept in step by the
// workers; a read that fails or runs out of time is reported as
// cryptoassets_status_up 0 beside the counters, never as an error page.
// The runner's commits, retries and give-ups, and the API's requests by
// route and status with their latency, are counted in the process.
// docs/monitoring.md names every metric.
package metrics
