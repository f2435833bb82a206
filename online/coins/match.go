package coins

import (
	"math"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// maxAmount is the most any output can carry (21 million coins), as the
// coins table's CHECK says.
const maxAmount = 2_100_000_000_000_000

// maxScript is the longest output script the coins table stores: a segwit
// program of 40 bytes and its two-byte prefix.
const maxScript = 42

// Watched is what the watch set knows about one of our scripts.
type Watched struct {
	AddressID int64
	WalletID  int16
}

// Output is an output paying one of our addresses.
type Output struct {
	OutPoint  wire.OutPoint
	WalletID  int16
	AddressID int64
	Amount    int64
	Script    []byte
	Coinbase  bool
}

// Spend is an input: the outpoint it spends and the spending transaction.
type Spend struct {
	OutPoint wire.OutPoint
	By       chainhash.Hash
}

// Matched is what a list of transactions (a block, or new mempool entries)
// implies for coins: the outputs paying us, and every outpoint spent. The
// spends are not filtered against our coins here (the table knows them):
// one set-based statement picks ours.
type Matched struct {
	Outputs []Output
	Spends  []Spend
}

// Empty reports whether m changes nothing.
func (m Matched) Empty() bool { return len(m.Outputs) == 0 && len(m.Spends) == 0 }

// Match finds the outputs of txs that pay our scripts and the outpoints
// txs spend. It is a pure function: no transaction content can make it
// fail, and what it returns always satisfies the coins table's constraints
// (amounts and scripts in range, each outpoint once, each outpoint spent
// once). Zero-value outputs are not coins.
func Match(txs []*wire.MsgTx, lookup func(script []byte) (Watched, bool)) Matched {
	return MatchHashed(txs, Txids(txs), lookup)
}

// Txids is the txid of each of txs (zero for a nil one): hashing a large
// block's transactions is worth doing once for all who need them.
func Txids(txs []*wire.MsgTx) []chainhash.Hash {
	out := make([]chainhash.Hash, len(txs))
	for i, tx := range txs {
		if tx != nil {
			out[i] = tx.TxHash()
		}
	}
	return out
}

// MatchHashed is Match for transactions whose txids are known (txids[i]
// is txs[i]'s, as Txids gives them).
func MatchHashed(txs []*wire.MsgTx, txids []chainhash.Hash, lookup func(script []byte) (Watched, bool)) Matched {
	var m Matched
	seen := map[wire.OutPoint]bool{}
	spent := map[wire.OutPoint]bool{}
	for ti, tx := range txs {
		if tx == nil {
			continue
		}
		txid := txids[ti]
		coinbase := isCoinbase(tx)
		for i, o := range tx.TxOut {
			if o == nil || i > math.MaxInt32 || o.Value <= 0 || o.Value > maxAmount ||
				len(o.PkScript) == 0 || len(o.PkScript) > maxScript {
				continue
			}
			w, ok := lookup(o.PkScript)
			if !ok {
				continue
			}
			op := wire.OutPoint{Hash: txid, Index: uint32(i)}
			if seen[op] {
				continue // a duplicated transaction: each outpoint once
			}
			seen[op] = true
			m.Outputs = append(m.Outputs, Output{OutPoint: op, WalletID: w.WalletID, AddressID: w.AddressID,
				Amount: o.Value, Script: append([]byte(nil), o.PkScript...), Coinbase: coinbase})
		}
		if coinbase {
			continue
		}
		for _, in := range tx.TxIn {
			if in == nil || in.PreviousOutPoint.Index > math.MaxInt32 || spent[in.PreviousOutPoint] {
				continue // an index no coin can have; an outpoint spent twice keeps its first spender
			}
			spent[in.PreviousOutPoint] = true
			m.Spends = append(m.Spends, Spend{OutPoint: in.PreviousOutPoint, By: txid})
		}
	}
	return m
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
