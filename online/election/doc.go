// Package election elects one instance among the serve processes sharing a
// database to run each singleton worker, and fences that worker's writes.
//
// Each election is a lease row in public.worker_leases, keyed by worker and
// asset: holder (the instance), epoch and expires_at. The holder renews the
// lease every renew interval (a third of the lease by default); another
// instance takes it over only once expires_at has passed, and a takeover
// always raises the epoch. All times are the database's clock, so the
// instances' clocks never need to agree.
//
// Fencing: the worker runs on a store.Runner fenced by Election.Fence,
// whose first statement in every transaction share-locks the lease row where
// holder, epoch and an unexpired lease match, and refuses the transaction
// with store.ErrFenced when none does. A takeover updates that row, so it
// waits for a running fenced transaction to end, and a transaction begun
// after it sees the new epoch: a takeover and a stale write cannot both
// commit. The same statement sets statement_timeout and
// idle_in_transaction_session_timeout for the transaction (the lease minus
// one renew interval), so a frozen process cannot hold the row lock, and
// delay a takeover, for longer than that. The election's own lease
// transactions (campaign, renew, release) carry lock_timeout and
// idle_in_transaction_session_timeout of one renew interval, for the same
// reason: a process frozen inside its campaign would otherwise keep the
// lease row locked, and every other process out, until it resumed.
//
// A holder that cannot renew before its lease would pass, or whose fence is
// refused, cancels its worker and waits for it to stop before it campaigns
// again; the fence makes that stop safe even when the process was paused
// and wakes late. Writes made before Run (the wallets' registration at
// start, which every instance makes) pass the fence unchecked.
package election
