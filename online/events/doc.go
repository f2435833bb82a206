// Package events is the transactional outbox: Emit writes an event inside
// the same serializable transaction as the state change it reports, so an
// event exists exactly when its change committed.
//
// An event is inserted unnumbered. Publish gives committed events their
// public ids, dense and increasing, in short serializable transactions that
// move one counter row, so publications commit in id order and nothing can
// ever appear below an id a reader has seen (migration 0004 explains why).
// Every reader publishes before it reads and pages by id. The Deliverer
// posts each event to every configured webhook, in order, at least once,
// signed with a timestamped HMAC-SHA256 (see Sign), retrying with
// exponential backoff for as long as it takes. Applications may also pull
// events and acknowledge them.
package events
