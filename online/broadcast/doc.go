// Package broadcast sends signed transactions to the network so that an
// interrupted broadcast is never silently repeated or lost. It is the one
// way a transaction of the service reaches a node.
//
// The protocol has three steps:
//
//  1. open:  the exact bytes and the txid are recorded (opened_at), once:
//     OpenTx inside the caller's transaction (the batcher opens a batch's
//     record in the transaction that moves the batch to broadcasting), or
//     Submit in a transaction of its own;
//  2. send:  the node is asked to accept them (Send, between transactions);
//  3. close: the node's answer is recorded (closed_at, outcome), and the
//     kind's Closed hook runs in that same transaction.
//
// A crash or a lost reply between 1 and 3 leaves the record open. Resolve
// (Run, in serve) settles open records by looking the txid up and, if the
// node does not have it, sending the same bytes again: the txid was fixed
// before the first attempt, so a retry can never become a second payment.
// A record open longer than its age limit, or whose inputs another
// transaction spent, is broken (one broadcast.broken event) until an
// operator closes it with MarkSent or Abandon; Find shows where its inputs
// went. Resend sends a closed record's bytes again, as after a reorg.
//
// Files follow the steps: open.go, send.go, close.go, resolve.go; locate.go
// finds a transaction on the node without its transaction index;
// operator.go holds the hand resolutions.
package broadcast
