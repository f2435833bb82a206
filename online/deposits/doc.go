// Package deposits follows the chain for payments to customers' addresses
// and moves them through their states:
//
//	seen → confirmed → credited        (the happy path)
//	confirmed/credited → seen|reorged  (its block left the best chain)
//	seen → replaced                    (a conflicting transaction won)
//	seen → expired                     (dropped from the mempool, in no block)
//	reorged/replaced/expired → seen|confirmed (the transaction came back)
//
// The Follower reads blocks from a stored cursor: it fetches over RPC first,
// then records the block, the deposits in it, the new confirmation counts,
// the credits and their events in one serializable transaction of two round
// trips (blocks.go): the reads, then the writes, one statement per kind of
// row, with the state machine run in memory between them. Catching up, it
// asks the node's tip once, a fetcher reads the next blocks while the
// current ones commit, and one transaction records the blocks already
// fetched (a bounded number, and bounded in inputs and outputs), each of
// which must extend the one before. A parent-hash mismatch means a
// reorganisation: the blocks before it are committed, and the top block
// is disconnected (its deposits return to seen, or become reorged when the
// node no longer has their transaction; a credited one is reversed with a
// compensating ledger entry and an alert event) until the chains agree.
//
// Block and mempool transactions go through one pure matcher (match.go):
// transactions and the watch set in, deposits and ignored outputs (zero,
// below min_deposit_sat, impossible amounts) out, so no block content can
// make a write fail; it is fuzzed. Each block's transaction takes an
// advisory lock for the asset and moves the cursor by compare-and-set, so a
// second follower or a rescan that read a stale cursor writes nothing; only
// a deposit whose (height, hash) is the stored best chain's is credited.
//
// Outputs are matched against an in-memory set of every watched script, so
// the cost per output does not grow with the number of addresses; the set is
// refreshed incrementally from the addresses table.
//
// Ledger postings (customer against the hot-wallet account):
//
//	seen:     customer pending +x               hot wallet pending −x
//	credited: customer pending −x, available +x hot wallet pending +x, available −x
//
// A reversal takes back from the customer what their available balance
// covers and charges the rest to the reorg-losses account; if the deposit
// confirms again, the losses account is repaid first.
package deposits
