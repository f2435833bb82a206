// Package broadcast sends signed transactions to the network so that an
// interrupted broadcast is never silently repeated or lost.
//
// The protocol has three steps, each its own transaction:
//
//  1. open:  the exact bytes and the txid are recorded (opened_at), once;
//  2. send:  the node is asked to accept them (between transactions);
//  3. close: the node's answer is recorded (closed_at, outcome).
//
// A crash or a lost reply between 1 and 3 leaves the record open. Resolve
// settles open records by looking the txid up on the node and, if it does
// not have it, sending the same bytes again: the txid was fixed before the
// first attempt, so a retry can never become a second payment.
package broadcast
