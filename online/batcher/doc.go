// Package batcher pays requested withdrawals from the hot wallet, one
// transaction for many of them, so that a withdrawal is paid at most once
// whatever fails and whenever the process dies.
//
// A batch goes through named states, each entered by one committed
// transaction (see states.go):
//
//	reserved      reserve.go: the withdrawals (requested → batched), the
//	              coins (reserved_by) and the unsigned transaction are
//	              stored together; the txid is fixed here, since every
//	              input is segwit and the witness is not part of it
//	broadcasting  open.go: the PSBT is signed through the one signer role,
//	              every input checked by the script engine, and the bytes
//	              are opened in online/broadcast in the same transaction
//	broadcast     the broadcaster's close hook: the node accepted it
//	              (withdrawals → broadcast, withdrawal.broadcast events)
//	confirmed     follow.go: the block holding it has the asset's
//	              confirmations; the ledger books it (withdrawals_pending
//	              and the network fee out of the hot wallet)
//
// and the ways out of the happy path: rejected (the node refused it),
// abandoned (an operator gave it up) and dead (every input spent by
// another transaction). The rule that makes a double payment impossible:
// a withdrawal is paid again only by a transaction that spends at least
// one input of every earlier transaction that paid it, so at most one of
// them can ever confirm. The database checks it at commit
// (batch_withdrawals' trigger); replace.go builds such transactions.
//
// Every transaction of ours is a batch of one of three kinds, through the
// same states, broadcaster, follower and reorganisation handling:
// withdrawals (above); a sweep (sweep.go: hot coins pay one fresh cold
// address, built, signed and bumped here like withdrawals, booked hot →
// cold); and a top-up (cold coins pay one hot address: exported by
// online/cold for the air-gapped signer and imported signed, so never
// signed, resumed or bumped here, and booked cold → hot). A rejected or
// abandoned sweep or top-up pays no withdrawal: its coins are released
// rather than paid again by a conflicting transaction.
//
// A crash between any two steps leaves a state the next run continues from:
// a reserved batch other than a top-up is signed (the same transaction, the
// same txid), an open broadcast is resolved by the broadcaster (look the
// txid up, else send the same bytes), a broadcast batch is followed to its
// confirmations, and a confirmed batch that a reorganisation dropped is
// sent again and booked back.
package batcher
