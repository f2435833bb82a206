// Package status is the one reader of the service's figures per asset: the
// node's tip beside the follower's height, deposits and withdrawals by
// state, open and broken broadcasts, the hot and cold coins against the
// configured floor and ceiling, the circuit breaker, the last audit, and
// the webhooks' cursors and backlog, and the elections' lease rows (which
// instance holds each, at what epoch, until when on the database's clock,
// so the whole cluster shows from any host). The metrics collector reads it at
// every scrape, `cryptoassets status` prints it, and /readyz asks it what
// is not ready.
//
// It reads the tables with plain SQL in one read-only snapshot and imports
// no worker package, so it changes nothing and follows those packages'
// tables, not their code. What only a running serve process knows (the
// audit's last result, the workers it runs) comes in through interfaces
// serve fills.
package status
