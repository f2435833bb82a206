// Package store opens the PostgreSQL pool, runs the embedded migrations, and
// owns the one door through which read-write transactions pass: the Runner.
//
// Every Runner transaction is SERIALIZABLE. Serialization failures (40001)
// and deadlocks (40P01) are retried with jittered exponential backoff up to a
// bound; past it the caller gets ErrConflictUnresolved. Because a retried
// function runs more than once, it must do nothing but database work: no node
// RPC, no webhook, no channel send. The function receives a *Tx and no
// context, so reaching for the network from inside takes deliberate effort.
//
// A fenced Runner (Runner.Fenced) runs its Fence first in every
// transaction: an elected worker's check that its epoch is still current,
// whose refusal (ErrFenced) is never retried.
package store
