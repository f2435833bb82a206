package coinselect

import (
	"errors"
	"slices"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/wire"
	"github.com/btcsuite/btcwallet/wallet/txauthor"
)

// txAuthor selects with btcwallet's txauthor, for a transaction with
// change, when no changeless set was found.
//
// The input source offers the required coins, then the confirmed coins,
// then our unconfirmed change, each group largest effective value first,
// and gives txauthor the shortest such prefix that covers its target.
// Largest first makes the fewest inputs: the smallest, cheapest
// transaction, far from the standard weight even for a large batch, and a
// prefix costs no more than the sort. Confirmed coins come before
// unconfirmed change because a transaction spending unconfirmed change
// waits on its parent: if the parent is replaced, stuck or dropped, so is
// the batch, and each link counts against the mempool's chain limits.
//
// txauthor sizes inputs with its own worst cases (a 73-byte ECDSA
// signature, a 65-byte Schnorr one) and rounds the fee down; its choice is
// then settled with this package's exact sizes: the change is what is left
// over the exact fee, and when that is below MinChange it goes to the fee
// instead. If the exact changeless fee is still not covered (a rounding
// case), the next coin in the same order is added.
func (pr *problem) txAuthor() (Selection, error) {
	// The pool is sorted largest first: split it, keeping that order.
	order := make([]candidate, 0, len(pr.required)+len(pr.pool))
	order = append(order, pr.required...)
	for _, c := range pr.pool {
		if c.Confirmed {
			order = append(order, c)
		}
	}
	for _, c := range pr.pool {
		if !c.Confirmed {
			order = append(order, c)
		}
	}
	prefix := make([]int64, len(order)+1) // prefix[k]: amount of order[:k]
	for i, c := range order {
		prefix[i+1] = prefix[i] + c.Amount
	}

	// k is how many coins of order the source last gave.
	k := 0
	source := func(target btcutil.Amount) (btcutil.Amount, []*wire.TxIn, []btcutil.Amount, [][]byte, error) {
		k = len(pr.required)
		if prefix[k] < int64(target) {
			k, _ = slices.BinarySearch(prefix, int64(target))
			k = min(k, len(order))
		}
		inputs := make([]*wire.TxIn, k)
		values := make([]btcutil.Amount, k)
		scripts := make([][]byte, k)
		for i, c := range order[:k] {
			op := c.OutPoint
			inputs[i] = wire.NewTxIn(&op, nil, nil)
			values[i] = btcutil.Amount(c.Amount)
			scripts[i] = c.Script
		}
		return btcutil.Amount(prefix[k]), inputs, values, scripts, nil
	}
	txOuts := make([]*wire.TxOut, len(pr.outs))
	for i, o := range pr.outs {
		txOuts[i] = wire.NewTxOut(o.Amount, o.Script)
	}
	change := &txauthor.ChangeSource{
		NewScript:  func() ([]byte, error) { return pr.p.ChangeScript, nil },
		ScriptSize: len(pr.p.ChangeScript),
	}
	if _, err := txauthor.NewUnsignedTransaction(txOuts, btcutil.Amount(pr.p.FeeRate), source, change); err != nil {
		var short txauthor.InputSourceError
		if errors.As(err, &short) {
			return Selection{}, pr.insufficient()
		}
		return Selection{}, err
	}
	for ; k <= len(order); k++ {
		if sel, ok := pr.settle(order[:k], true, AlgorithmTxAuthor); ok {
			return sel, nil
		}
	}
	return Selection{}, pr.insufficient()
}
