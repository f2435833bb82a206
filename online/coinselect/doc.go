// Package coinselect chooses the hot wallet's coins for one batch
// transaction and lays out its unsigned skeleton. It is pure: no database,
// no node. The batcher calls it inside the serializable transaction that
// read the spendable coins and reserves what it returns.
//
// Select tries, in order:
//
//  1. a changeless branch-and-bound search (Bitcoin Core's BnB): over the
//     coins' effective values (amount less the fee of spending it at this
//     rate), depth first with the larger coins first, for a set whose
//     total falls in [target, target + cost of change], where the target
//     is the amount paid plus the fee of everything but the inputs; at
//     most 100,000 steps; of the sets found, the one of least waste;
//  2. otherwise btcwallet's txauthor with an input source that offers
//     confirmed coins before unconfirmed change, each largest first
//     (inputsource.go says why), then the fee and the change recomputed
//     with this package's exact sizes; change below MinChange goes to the
//     fee.
//
// Only confirmed coins and our own change (spendable unconfirmed) are ever
// chosen. Every Selection satisfies sum(inputs) = sum(outputs) + Change +
// Fee and Fee >= ceil(FeeRate × VSize / 1000), VSize being the signed
// size (sizes.go). A selection whose fee is over the absolute or the
// fee-to-amount cap is refused, and nothing is built.
//
// Assemble turns a Selection into the unsigned transaction: version 2,
// every input signalling replaceability (BIP125), the lock time the caller
// gives (the tip height, against fee sniping), the inputs shuffled, the
// outputs in the caller's order with the change output at a random
// position.
package coinselect
