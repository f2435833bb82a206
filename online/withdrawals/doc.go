// Package withdrawals records customers' requests to be paid out on chain.
//
// A request is one serializable transaction (through store.Runner): the
// destination is checked for the asset's network and refused below the dust
// limit of its script type, the amount plus the configured flat fee is
// debited from the customer's available balance (the ledger refuses more
// than the balance), the amount is credited to the internal
// withdrawals_pending account and the fee to network_fees, the request is
// stored in state requested and a withdrawal.requested event is emitted. A
// destination that is a customer address of this service becomes an
// internal ledger transfer instead, with no chain transaction.
//
// A request may be cancelled while it is still requested; the refund is
// posted in the same transaction that marks it cancelled.
package withdrawals
