// Package service wires what `cryptoassets serve` runs from the
// configuration: per asset a chain follower, the broadcaster's resolver,
// the audit and, when the asset holds a hot key, the withdrawal batcher; the webhook
// deliverer; and the HTTP API. The CLI only parses flags, unlocks keys and
// owns the listener; every worker is built and started here, so there is
// one place that says what runs. Run records each worker it starts in the
// Workers' status.Registry, which status and /metrics report (monitoring.go
// builds both over the same workers and nodes).
package service
