// Package events is the transactional outbox: Emit writes an event inside
// the same serializable transaction as the state change it reports, so an
// event exists exactly when its change committed.
//
// Events are read in id order, and only once every transaction that could
// still commit a lower id has finished (see the migration's note on xid), so
// a reader that pages by id never skips one. The Deliverer posts each event
// to every configured webhook, in order, at least once, signed with
// HMAC-SHA256 over the raw body, retrying with exponential backoff for as
// long as it takes. Applications may also pull events and acknowledge them.
package events
