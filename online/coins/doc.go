// Package coins keeps the wallets' coins: every output paying an address of
// ours (a customer's deposit address, a hot change address, any address of
// the addresses table, hot or cold), and what spent it. States are derived
// from the row, as the coins table says:
//
//	unconfirmed  in the mempool (block_hash NULL)
//	confirmed    in a block of the best chain, not spent
//	spending     spent by a transaction in the mempool (spent_by set, spent_block NULL)
//	spent        spent by a transaction in a block
//
// Match is a pure function of transactions and the watch set: the outputs
// paying us and every outpoint the transactions spend. The follower calls
// the ...Tx functions inside the serializable transaction of the block or
// mempool scan that showed them, so the coins table moves with the chain
// cursor; each kind of change is one set-based statement whatever the
// block's size.
//
// The rules:
//
//   - A block confirms its coins (a coin first seen in the mempool keeps its
//     row) and records its spends of our coins, replacing a spend seen in the
//     mempool by another transaction: the block is the judge.
//   - A block leaving the best chain undoes exactly what it did: the coins it
//     confirmed become unconfirmed, the spends it recorded become mempool
//     spends (the spender is most often our own batch, which the broadcaster
//     sends again). Only its coinbase coins are deleted: they can never come
//     back.
//   - A transaction that lost an input of ours to another one (in a block,
//     or replaced in the mempool) can never confirm: its unconfirmed coins
//     are deleted, and so are those of transactions spending them.
//     A mempool transaction known to be dead (it spends a coin of ours a
//     block shows spent by another, or the deposits found it replaced) is
//     not recorded again, though a node may keep it in its mempool.
//   - When the follower is caught up, an unconfirmed coin whose transaction
//     is in neither the node's mempool nor its chain is deleted, and a
//     mempool spend by a transaction that is in neither is cleared, so the
//     coin is spendable again.
//   - A coin reserved by a batch is never deleted (the batcher owns it), and
//     the coins and mempool spends of a transaction we built (its txid is in
//     batches or broadcasts) are never removed for being missing from the
//     mempool: the broadcaster owns its fate and sends it again.
//
// Spendable gives the batcher what it may spend: unspent, unreserved, and
// confirmed with enough confirmations, or an unconfirmed output of one of
// our own batches the node accepted.
package coins
