package ledger

import (
	"fmt"
	"regexp"
	"strings"
)

var postingKind = regexp.MustCompile(`^[a-z][a-z_.]{0,63}$`)

// PostingSQL is the SQL that posts one ledger transaction inside a caller's
// own statement, so that the caller's rows and their posting are written in
// one round trip: two common table expressions, ledger_tx and
// ledger_posting, to place in the statement's WITH list after the caller's
// own.
//
// from names the caller's expression that decides whether anything is
// posted: the transaction is posted once if from has one row and not at all
// if it has none. memo is an SQL text expression over from's columns.
// entries is a query over the caller's expressions yielding the rows
// (account_id, slot, available, pending), which must balance; an internal
// account's slot comes from InternalSlot, a customer's is 0. The posting
// trigger refuses what it refuses for PostTx (an unbalanced set, an entry
// without a balance row, a customer below zero), and PostingError names the
// refusal. kind is a constant of the caller's: PostingSQL panics on a kind
// the ledger would refuse.
func (l *Ledger) PostingSQL(kind, from, memo, entries string) string {
	if !postingKind.MatchString(kind) {
		panic(fmt.Sprintf("ledger: invalid posting kind %q", kind))
	}
	return strings.NewReplacer("{s}", l.q.schema, "{kind}", kind, "{from}", from, "{memo}", memo, "{entries}", entries).Replace(
		`ledger_tx AS (INSERT INTO {s}.ledger_transactions (kind, memo) SELECT '{kind}', {memo} FROM {from} RETURNING id, created_at),
		ledger_posting AS (INSERT INTO {s}.ledger_entries (tx_id, account_id, slot, available_delta, pending_delta)
			SELECT ledger_tx.id, p.account_id, p.slot, p.available, p.pending FROM ledger_tx, ({entries}) AS p(account_id, slot, available, pending))`)
}

// PostingError is the error to return for err, the failure of a statement
// that posted through PostingSQL: ErrInsufficientFunds when a customer
// balance would have gone below zero, ErrUnknownAccount for an entry without
// a balance row, else err itself, wrapped.
func PostingError(kind string, err error) error {
	return postError(kind, err)
}
