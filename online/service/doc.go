// Package service wires what `cryptoassets serve` runs from the
// configuration: per asset a chain follower, the broadcaster's resolver,
// the audit and, when the asset holds a hot key, the withdrawal batcher; the webhook
// deliverer; and the HTTP API. The CLI only parses flags, unlocks keys and
// owns the listener; every worker is built and started here, so there is
// one place that says what runs. Run records each worker it starts in the
// Workers' status.Registry, which status and /metrics report (monitoring.go
// builds both over the same workers and nodes).
//
// Several serve processes may share one database: the API runs on each,
// and each singleton worker runs on one of them at a time, under its
// election (online/election). A per-asset follower election, a payments
// election (resolver, batcher, cold keeper, which share a broadcaster), an
// audit election, and one deliverer election. Each election's workers are
// built on a Runner fenced by it, so a process that lost its lease writes
// nothing.
package service
