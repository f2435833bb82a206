package deposits

import (
	"encoding/binary"
	"math"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// maxAmount is the most any output can carry (21 million coins), as the
// deposits table's CHECK says.
const maxAmount = 2_100_000_000_000_000

// coinbaseMaturity is how many blocks a coinbase output waits before it can
// be spent (consensus): a coinbase deposit is credited no earlier.
const coinbaseMaturity = 100

// Reasons an output to one of our addresses is not a deposit.
const (
	ReasonZeroValue     = "zero_value"
	ReasonBelowMinimum  = "below_minimum"
	ReasonInvalidAmount = "invalid_amount"
)

// match is an output paying a customer's address.
type match struct {
	txid     chainhash.Hash
	vout     uint32
	amount   int64
	addr     watched
	coinbase bool
	// spends is the transaction's inputs, 36 bytes each (see encodeSpends);
	// nil for a coinbase.
	spends []byte
}

// ignoredOutput is an output to a customer's address that is not credited.
type ignoredOutput struct {
	txid   chainhash.Hash
	vout   uint32
	amount int64
	addr   watched
	reason string
}

// changes is what a list of transactions (a block, or new mempool entries)
// implies for deposits.
type changes struct {
	deposits []match
	ignored  []ignoredOutput
	// spent maps each outpoint the transactions spend to the spender, for
	// recognising replacements of tracked deposits; filled only when asked.
	spent map[wire.OutPoint]chainhash.Hash
}

// matchRules are the asset's limits on what counts as a deposit.
type matchRules struct {
	// minDeposit is the smallest output credited; smaller ones are ignored
	// with ReasonBelowMinimum. Zero is never credited.
	minDeposit int64
}

// matchTxs finds the outputs of txs that pay customers' addresses. It is a
// pure function of its inputs: no block content can make it fail, and what
// it returns always satisfies the deposits table's constraints (amounts in
// range, each outpoint once). txids, when not nil, holds each
// transaction's txid (coins.Txids); otherwise they are hashed as needed.
func matchTxs(txs []*wire.MsgTx, txids []chainhash.Hash, lookup func(script []byte) (watched, bool), rules matchRules, withSpent bool) changes {
	var c changes
	if withSpent {
		c.spent = map[wire.OutPoint]chainhash.Hash{}
	}
	seen := map[wire.OutPoint]bool{}
	for ti, tx := range txs {
		if tx == nil {
			continue
		}
		var txid chainhash.Hash
		hashed := false
		if txids != nil {
			txid, hashed = txids[ti], true
		}
		id := func() chainhash.Hash {
			if !hashed {
				txid, hashed = tx.TxHash(), true
			}
			return txid
		}
		coinbase := isCoinbase(tx)
		var spends []byte
		for i, o := range tx.TxOut {
			if o == nil {
				continue
			}
			a, ok := lookup(o.PkScript)
			if !ok || a.accountID == 0 {
				continue
			}
			op := wire.OutPoint{Hash: id(), Index: uint32(i)}
			if seen[op] || i > math.MaxInt32 {
				continue // a duplicated transaction: each outpoint once
			}
			seen[op] = true
			reason := ""
			switch {
			case o.Value < 0 || o.Value > maxAmount:
				reason = ReasonInvalidAmount
			case o.Value == 0:
				reason = ReasonZeroValue
			case o.Value < rules.minDeposit:
				reason = ReasonBelowMinimum
			}
			if reason != "" {
				c.ignored = append(c.ignored, ignoredOutput{txid: op.Hash, vout: op.Index, amount: o.Value, addr: a, reason: reason})
				continue
			}
			if spends == nil && !coinbase {
				spends = encodeSpends(tx)
			}
			c.deposits = append(c.deposits, match{txid: op.Hash, vout: op.Index, amount: o.Value, addr: a, coinbase: coinbase, spends: spends})
		}
		if withSpent && !coinbase {
			for _, in := range tx.TxIn {
				if in != nil {
					c.spent[in.PreviousOutPoint] = id()
				}
			}
		}
	}
	return c
}

// isCoinbase reports whether tx has the shape of a coinbase: one input that
// spends nothing.
func isCoinbase(tx *wire.MsgTx) bool {
	if len(tx.TxIn) != 1 || tx.TxIn[0] == nil {
		return false
	}
	p := tx.TxIn[0].PreviousOutPoint
	return p.Index == math.MaxUint32 && p.Hash == (chainhash.Hash{})
}

// encodeSpends writes tx's inputs as 36-byte outpoints: the txid, then the
// output index little-endian.
func encodeSpends(tx *wire.MsgTx) []byte {
	out := make([]byte, 0, 36*len(tx.TxIn))
	for _, in := range tx.TxIn {
		if in == nil {
			continue
		}
		out = append(out, in.PreviousOutPoint.Hash[:]...)
		out = binary.LittleEndian.AppendUint32(out, in.PreviousOutPoint.Index)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// decodeSpends reads what encodeSpends wrote; a malformed value reads as
// nothing.
func decodeSpends(b []byte) []wire.OutPoint {
	if len(b)%36 != 0 {
		return nil
	}
	out := make([]wire.OutPoint, 0, len(b)/36)
	for i := 0; i+36 <= len(b); i += 36 {
		var op wire.OutPoint
		copy(op.Hash[:], b[i:i+32])
		op.Index = binary.LittleEndian.Uint32(b[i+32 : i+36])
		out = append(out, op)
	}
	return out
}
