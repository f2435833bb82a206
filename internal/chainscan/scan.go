package chainscan

import (
	"context"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/online/chain"
)

// Node is the chain access a scan needs; chain.Node provides it.
type Node interface {
	// Tip returns the height and hash of the best block.
	Tip(ctx context.Context) (int32, chainhash.Hash, error)
	// BlockHash returns the best-chain block hash at height.
	BlockHash(ctx context.Context, height int32) (chainhash.Hash, error)
	// Block returns a block by hash.
	Block(ctx context.Context, hash chainhash.Hash) (*wire.MsgBlock, error)
	// MempoolTxids lists the mempool.
	MempoolTxids(ctx context.Context) ([]chainhash.Hash, error)
	// Transaction returns a mempool transaction, or chain.ErrNoTransaction.
	Transaction(ctx context.Context, txid chainhash.Hash) (*wire.MsgTx, error)
}

var _ Node = chain.Node(nil)

// Mempool is the Height of an output found in the mempool.
const Mempool int32 = -1

// Payment is one output that pays a script.
type Payment struct {
	Txid   chainhash.Hash
	Vout   uint32
	Height int32 // Mempool for an unconfirmed one
}

// key is what an output pays: a script and an amount.
type key struct {
	script string
	amount int64
}

// Scan is what a range of blocks and the mempool pay.
type Scan struct {
	From, To int32 // heights scanned, inclusive
	Tip      chainhash.Hash
	Blocks   int
	Txs      int // transactions, the mempool's included
	paid     map[key][]Payment
}

// EveryBlock scans the whole best chain from height 1 and the mempool.
func EveryBlock(ctx context.Context, n Node) (*Scan, error) {
	return Range(ctx, n, 1, -1)
}

// Range scans blocks from..to of the best chain (to < 0: up to the tip) and
// the mempool. A reorg during the scan is detected (the tip moved) and the
// scan fails rather than count two chains.
func Range(ctx context.Context, n Node, from, to int32) (*Scan, error) {
	tipHeight, tip, err := n.Tip(ctx)
	if err != nil {
		return nil, err
	}
	if to < 0 || to > tipHeight {
		to = tipHeight
	}
	if from < 0 || from > to {
		return nil, fmt.Errorf("chainscan: heights %d..%d: from must be within 0..%d", from, to, to)
	}
	s := &Scan{From: from, To: to, Tip: tip, paid: map[key][]Payment{}}
	for h := from; h <= to; h++ {
		hash, err := n.BlockHash(ctx, h)
		if err != nil {
			return nil, err
		}
		b, err := n.Block(ctx, hash)
		if err != nil {
			return nil, err
		}
		s.Blocks++
		for _, tx := range b.Transactions {
			s.add(tx, h)
		}
	}
	ids, err := n.MempoolTxids(ctx)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		tx, err := n.Transaction(ctx, id)
		if errors.Is(err, chain.ErrNoTransaction) {
			continue // mined or evicted since the list; counted in a block or nowhere
		}
		if err != nil {
			return nil, err
		}
		s.add(tx, Mempool)
	}
	// A block mined while the mempool was read moves a transaction from one
	// to the other: it would be counted in neither or in both. Fail instead.
	_, after, err := n.Tip(ctx)
	if err != nil {
		return nil, err
	}
	if after != tip {
		return nil, fmt.Errorf("chainscan: the tip moved from %s to %s during the scan: scan again", tip, after)
	}
	return s, nil
}

func (s *Scan) add(tx *wire.MsgTx, height int32) {
	s.Txs++
	txid := tx.TxHash()
	for i, out := range tx.TxOut {
		k := key{string(out.PkScript), out.Value}
		s.paid[k] = append(s.paid[k], Payment{Txid: txid, Vout: uint32(i), Height: height})
	}
}

// Paid lists the outputs paying amount to script, confirmed and unconfirmed.
func (s *Scan) Paid(script []byte, amount int64) []Payment {
	return append([]Payment(nil), s.paid[key{string(script), amount}]...)
}

// Confirmed counts the outputs in the scanned blocks paying amount to script.
func (s *Scan) Confirmed(script []byte, amount int64) int {
	n := 0
	for _, p := range s.paid[key{string(script), amount}] {
		if p.Height != Mempool {
			n++
		}
	}
	return n
}

// Unconfirmed counts the mempool's outputs paying amount to script.
func (s *Scan) Unconfirmed(script []byte, amount int64) int {
	return len(s.paid[key{string(script), amount}]) - s.Confirmed(script, amount)
}

// PaidAddress is Paid for an address of the network params.
func (s *Scan) PaidAddress(address string, amount int64, params *chaincfg.Params) ([]Payment, error) {
	script, err := AddressScript(address, params)
	if err != nil {
		return nil, err
	}
	return s.Paid(script, amount), nil
}

// AddressScript is the output script paying address on params' network.
func AddressScript(address string, params *chaincfg.Params) ([]byte, error) {
	a, err := btcutil.DecodeAddress(address, params)
	if err != nil {
		return nil, fmt.Errorf("chainscan: address %q: %w", address, err)
	}
	if !a.IsForNet(params) {
		return nil, fmt.Errorf("chainscan: address %q is not for %s", address, params.Name)
	}
	return txscript.PayToAddrScript(a)
}
