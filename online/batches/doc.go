// Package batches is what every kind of batch shares when it is built, so
// that the withdrawals' batcher (online/batcher) and the cold top-ups
// (online/cold) build theirs through one door: the fee rate a batch is built
// at (FeeRate), and the one transaction step that stores a batch with its
// inputs and reserves its coins (Reserve).
//
// It is a package of its own, not part of the batcher, because the
// batcher's tests import online/cold: cold cannot import the batcher.
package batches
