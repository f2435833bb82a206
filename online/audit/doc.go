// Package audit checks the ledger and our coins against the node, and
// the ledger against the coins it stands for. It never changes anything:
// a mismatch is an alert for an operator, never silently "fixed".
//
// Three layers are checked, each mismatch naming the coin or the account.
//
// Coins against the node: every coin of either wallet (hot and cold) our
// tables call confirmed and unspent is unspent on the node (gettxout,
// mempool included). A coin spent in the node's mempool by one of our own
// transactions (a batch or a broadcast record) is in flight, not a
// mismatch.
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
//	                       + Σ booked sweeps (X + fee) − Σ booked top-ups Y
//	cold_wallet          = −Σ booked sweeps X + Σ booked top-ups (Y + fee)
//	withdrawals_pending  =  Σ chain withdrawals not yet confirmed, cancelled or failed
//	network_fees         =  Σ flat fees of withdrawals not refunded − Σ booked fees (every kind)
//	reorg_losses         = −Σ deposits' outstanding loss
//
// (an internal withdrawal, to a customer address of ours, is a transfer
// and never posts to withdrawals_pending),
// where a booked batch is one whose confirmation was posted
// (batches.ledger_tx_id set), paid is the sum of the withdrawals it pays
// and fee its network fee; X is a sweep's transfer to its cold address, Y
// a top-up's to its hot address (batches.transfer_amount). And each
// wallet's account equals minus the coins it stands for, minus what is in
// flight:
//
//	hot_wallet (available + pending) = −( Σ unspent hot coins
//	                                      − surplus
//	                                      + hot in flight
//	                                      + Σ deposits awaiting expiry )
//	cold_wallet                      = −( Σ unspent cold coins
//	                                      − cold surplus
//	                                      + cold in flight )
//
// with
//
//   - surplus: the hot coins (spent or not) that no ledger posting stands
//     for: outputs below min_deposit_sat, payments to a change address,
//     a deposit no longer live (reorged, replaced, expired) whose coin the
//     follower has not dropped yet, a top-up submitted without a batch
//     (before batches had kinds). It belongs to the service, not to a
//     customer.
//   - cold surplus: cold coins (spent or not) no batch of ours paid: sent
//     to a cold address by hand.
//   - in flight: a batch not booked whose transaction the follower has
//     seen (in the mempool, or in a block short of the asset's
//     confirmations). For the wallet whose coins it spends (hot for
//     withdrawals and sweeps, cold for top-ups) its inputs are gone from
//     the unspent coins and its change is back, while the ledger still
//     holds what it pays and its fee: + (paid + fee). For the wallet a
//     sweep or a top-up pays, its transfer is already a coin the ledger has
//     not booked: − X (cold) or − Y (hot). Each wallet's part counts only
//     once the follower has seen that side (a spent coin of the wallet, or
//     the transfer's coin).
//   - awaiting expiry: seen deposits whose transaction left the mempool
//     (missing_since set) and whose coin the follower already dropped; the
//     ledger keeps them pending until seen_expiry.
//
// Derivation, for the hot wallet: every hot coin row is a live deposit's,
// a batch's change, a top-up's transfer, or surplus; every spent one was
// spent by a batch or sweep (whose inputs are what it pays, its fee and its
// change) or by a transaction we did not build. So Σ unspent = Σ live
// deposits + surplus + Σ top-ups seen Y − Σ batches and sweeps seen
// (paid + fee) − spent by others, and the ledger says −hot_wallet = Σ live
// deposits − Σ booked batches and sweeps (paid + fee) + Σ booked top-ups Y;
// the difference is what is seen and not booked. For the cold wallet: every
// cold coin row is a sweep's transfer, a top-up's change, or cold surplus;
// every spent one was spent by a top-up (its inputs are Y, its fee and its
// change) or by a transaction we did not build. So Σ unspent cold = cold
// surplus + Σ sweeps seen X − Σ top-ups seen (Y + fee) − spent by others,
// and −cold_wallet = Σ booked sweeps X − Σ booked top-ups (Y + fee). A
// coin of either wallet spent by a transaction we did not build, or a live
// deposit whose coin is missing, is named on its own and also shows as a
// wallet mismatch.
//
// The reserves line puts customer liabilities (customer balances
// available and pending, plus withdrawals_pending) beside the coins held
// (unspent hot and cold coins, plus what in-flight batches took from them
// that the ledger has not booked: hot in flight + cold in flight, so the
// ratio does not dip while a withdrawal is on its way, nor by a sweep's or
// a top-up's fee before it is booked): held over liabilities is the reserve
// ratio, and cold over hot + cold the cold share. The ratio is below 1 when
// network fees the service bore, or reorg losses, were paid out of
// customer money.
//
// A check is settled when the node's tip is the follower's last block
// before and after it: otherwise a coin spent in a block the follower has
// not read yet would look like a mismatch. `cryptoassets audit` reports an
// unsettled result as such; serve's worker tries again a few seconds later
// and raises audit.mismatch only from a settled result, once per distinct
// set of mismatches. Auditor.LastResult is the last result as a Go value
// (the metrics endpoint reads it).
package audit
