// Package audit checks the ledger and our coins against the node, and
// the ledger against the coins it stands for. It never changes anything:
// a mismatch is an alert for an operator, never silently "fixed".
//
// Three layers are checked, each mismatch naming the coin or the account.
//
// Coins against the node: every coin our tables call confirmed and unspent
// is unspent on the node (gettxout, mempool included). A coin spent in the
// node's mempool by one of our own transactions (a batch or a broadcast
// record) is in flight, not a mismatch.
//
// The chain against our coins: every output of the best chain paying one
// of our addresses, from the wallet's birth (the follower's first stored
// block) to the follower's last block, is a coin row with the same amount,
// confirmed in that block. Blocks are matched with coins.Match, the
// follower's own matcher.
//
// The ledger against our tables and our coins: how the postings go
// (online/deposits, online/withdrawals, online/batcher) gives, for each
// internal account, what its balance must be:
//
//	hot_wallet pending   = −Σ deposits seen or confirmed
//	hot_wallet available = −Σ deposits credited + Σ booked batches (paid + fee)
//	withdrawals_pending  =  Σ chain withdrawals not yet confirmed, cancelled or failed
//	network_fees         =  Σ flat fees of withdrawals not refunded − Σ booked batches' fees
//	reorg_losses         = −Σ deposits' outstanding loss
//	cold_wallet          =  0 (nothing books cold coins yet)
//
// (an internal withdrawal, to a customer address of ours, is a transfer
// and never posts to withdrawals_pending),
// where a booked batch is one whose confirmation was posted
// (batches.ledger_tx_id set), paid is the sum of the withdrawals it pays
// and fee its network fee. And the hot wallet's account equals minus the
// coins it stands for, minus what is in flight:
//
//	hot_wallet (available + pending) = −( Σ unspent hot coins
//	                                      − surplus
//	                                      + Σ in-flight batches (paid + fee)
//	                                      + Σ deposits awaiting expiry )
//
// with
//
//   - surplus: the hot coins (spent or not) that no ledger posting stands
//     for: outputs below min_deposit_sat, payments to a change address,
//     cold top-ups, a deposit no longer live (reorged, replaced, expired)
//     whose coin the follower has not dropped yet. It belongs to the
//     service, not to a customer.
//   - in flight: a batch not booked whose transaction has spent our coins
//     (in the mempool, or in a block short of the asset's confirmations):
//     its inputs are gone from the unspent coins and its change is back,
//     while the ledger still holds what it pays until it is booked.
//   - awaiting expiry: seen deposits whose transaction left the mempool
//     (missing_since set) and whose coin the follower already dropped; the
//     ledger keeps them pending until seen_expiry.
//
// Derivation: every hot coin row is a live deposit's, a batch's change, or
// surplus; every spent one was spent by a batch (whose inputs are what it
// pays, its fee and its change) or by a transaction we did not build. So
// Σ unspent = Σ live deposits + surplus − Σ batches seen (paid + fee) −
// spent by others, and the ledger says −hot_wallet = Σ live deposits −
// Σ booked batches (paid + fee). A coin spent by a transaction we did not
// build, or a live deposit whose coin is missing, is named on its own and
// also shows as a hot_wallet mismatch.
//
// The reserves line puts customer liabilities (customer balances
// available and pending, plus withdrawals_pending) beside the coins held
// (unspent hot and cold coins, plus what in-flight batches are paying, so
// the ratio does not dip while a withdrawal is on its way): held over
// liabilities is the reserve ratio. It is below 1 when network fees the
// service bore, or reorg losses, were paid out of customer money.
//
// A check is settled when the node's tip is the follower's last block
// before and after it: otherwise a coin spent in a block the follower has
// not read yet would look like a mismatch. `cryptoassets audit` reports an
// unsettled result as such; serve's worker tries again a few seconds later
// and raises audit.mismatch only from a settled result, once per distinct
// set of mismatches. Auditor.LastResult is the last result as a Go value
// (the metrics endpoint reads it).
package audit
