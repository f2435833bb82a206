// Package chainscan counts payments on the chain itself: it reads every
// block of the node's best chain in a height range, and the mempool, and
// indexes each output by what it pays (output script and amount), so a test
// can ask how many times a destination was paid without reading the
// service's tables.
package chainscan
