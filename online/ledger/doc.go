// Package ledger keeps customer and internal accounts in a double-entry
// ledger, one per asset schema.
//
// Every movement of money is one ledger transaction whose entries sum to
// zero, separately for available and pending (unconfirmed incoming) amounts.
// Cached balances are moved by a database trigger from the inserted entries,
// so they always equal the sum of entries; the trigger also refuses an
// unbalanced transaction. A customer balance can never go negative: Transfer
// refuses with ErrInsufficientFunds first, and a CHECK constraint is the last
// guard.
//
// Internal accounts (hot wallet, cold wallet, network fees, reorg losses) take
// part in most postings, so their cached balance is spread over several rows
// ("slots") and postings take them in turn: postings running at the same time
// then use different rows and do not conflict. Their balance is the sum of
// their slots.
//
// PostTx is the usual way to post. PostingSQL puts a posting inside a
// caller's own statement, for a hot path that writes its rows and their
// posting in one round trip (a withdrawal request); the same trigger guards
// both.
//
// Functions ending in Tx run inside a caller's store.Runner transaction, so a
// posting can commit together with the state change it belongs to (a deposit
// credited, an idempotency record written).
package ledger
