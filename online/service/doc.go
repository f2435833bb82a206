// Package service wires what `cryptoassets serve` runs from the
// configuration: per asset a chain follower, the broadcaster's resolver,
// the audit and, when the asset holds a hot key, the withdrawal batcher; the webhook
// deliverer; and the HTTP API. The CLI only parses flags, unlocks keys and
// owns the listener; every worker is built and started here, so there is
// one place that says what runs.
package service
