package coinselect

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"

	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
)

// SequenceRBF is every input's nSequence: below 0xfffffffe, so the
// transaction signals replaceability (BIP125) and its lock time is
// enforced.
const SequenceRBF = 0xfffffffd

// Assemble lays out the unsigned transaction of sel: nVersion 2, the
// inputs in a random order, each with nSequence SequenceRBF, nLockTime
// locktime (the caller passes the tip height, so that a miner reorganising
// the tip cannot take the fee: anti fee sniping), outs in the given order
// and, when sel has change, the change output inserted at a uniformly
// random position drawn from crypto/rand, so the change cannot be told by
// its place. changeVout is its index, -1 when there is none; the outputs
// at and after it move up by one.
func Assemble(sel Selection, outs []Output, changeScript []byte, locktime uint32) (tx *wire.MsgTx, changeVout int, err error) {
	return AssembleWith(sel, outs, changeScript, locktime, cryptoIntN)
}

// AssembleWith is Assemble with the input order and the change position
// drawn by intn, which returns an integer in [0, n).
func AssembleWith(sel Selection, outs []Output, changeScript []byte, locktime uint32, intn func(n int) int) (*wire.MsgTx, int, error) {
	if len(outs) == 0 {
		return nil, -1, ErrNoOutputs
	}
	if len(sel.Inputs) == 0 {
		return nil, -1, invalid("a selection without inputs")
	}
	if locktime >= txscript.LockTimeThreshold {
		return nil, -1, invalid("lock time %d is a timestamp, not a block height", locktime)
	}
	var in, out int64
	for _, c := range sel.Inputs {
		in += c.Amount
	}
	for _, o := range outs {
		out += o.Amount
	}
	if sel.Change < 0 || sel.Fee < 0 || in != out+sel.Change+sel.Fee {
		return nil, -1, invalid("the selection's inputs (%d sat) are not its outputs (%d) + change (%d) + fee (%d)", in, out, sel.Change, sel.Fee)
	}
	if sel.Change > 0 {
		if _, ok := inputWeight(changeScript); !ok {
			return nil, -1, invalid("change script %x: use a p2wpkh or p2tr script", changeScript)
		}
	}

	draw := func(n int) (int, error) {
		v := intn(n)
		if v < 0 || v >= n {
			return 0, fmt.Errorf("random position %d is not in [0, %d)", v, n)
		}
		return v, nil
	}
	tx := wire.NewMsgTx(2)
	tx.LockTime = locktime
	for _, c := range sel.Inputs {
		op := c.OutPoint
		txin := wire.NewTxIn(&op, nil, nil)
		txin.Sequence = SequenceRBF
		tx.AddTxIn(txin)
	}
	// Shuffled (Fisher-Yates), as Bitcoin Core does: the selection's order
	// (largest first) would tell how the coins were chosen.
	for i := len(tx.TxIn) - 1; i > 0; i-- {
		j, err := draw(i + 1)
		if err != nil {
			return nil, -1, err
		}
		tx.TxIn[i], tx.TxIn[j] = tx.TxIn[j], tx.TxIn[i]
	}
	changeVout := -1
	if sel.Change > 0 {
		var err error
		if changeVout, err = draw(len(outs) + 1); err != nil {
			return nil, -1, err
		}
	}
	for i, o := range outs {
		if i == changeVout {
			tx.AddTxOut(wire.NewTxOut(sel.Change, append([]byte(nil), changeScript...)))
		}
		tx.AddTxOut(wire.NewTxOut(o.Amount, append([]byte(nil), o.Script...)))
	}
	if changeVout == len(outs) {
		tx.AddTxOut(wire.NewTxOut(sel.Change, append([]byte(nil), changeScript...)))
	}
	return tx, changeVout, nil
}

func cryptoIntN(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		panic(errors.New("crypto/rand failed: " + err.Error())) // the system's randomness is gone
	}
	return int(v.Int64())
}

// ClampFeeRate is the fee rate to use, in sat/kvB: the node's estimate,
// or fallback when it has none (estimate <= 0), kept within [minRelay,
// maxRate]. maxRate <= 0 means no upper bound; the minimum relay rate wins
// over a lower maxRate, since a transaction below it is not relayed.
func ClampFeeRate(estimate, fallback, minRelay, maxRate int64) int64 {
	r := estimate
	if r <= 0 {
		r = fallback
	}
	if maxRate > 0 && r > maxRate {
		r = maxRate
	}
	return max(r, minRelay)
}
