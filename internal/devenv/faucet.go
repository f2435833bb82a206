package devenv

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/online/chain"
)

// Faucet pays regtest coins from the coinbase outputs mined to FaucetKey,
// standing in for a customer's wallet in tests and the demo. Each payment
// spends one mature coinbase output; change goes back to the faucet.
type Faucet struct {
	node chain.Node
	mu   sync.Mutex
	next int32 // next coinbase height to spend
}

// NewFaucet returns a faucet spending coinbases of the node's chain.
func NewFaucet(node chain.Node) *Faucet { return &Faucet{node: node, next: 1} }

// Payment is one output of a faucet transaction.
type Payment struct {
	Address string
	Amount  int64
}

// Build signs (without broadcasting) a transaction paying each payment,
// with fee fee and change back to the faucet.
func (f *Faucet) Build(ctx context.Context, payments []Payment, fee int64) (*wire.MsgTx, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	tip, _, err := f.node.Tip(ctx)
	if err != nil {
		return nil, err
	}
	// Walk the mature coinbases for one nobody has spent yet (another
	// process may have used the faucet on this chain before).
	var block *wire.MsgBlock
	for {
		if f.next > tip-100 {
			return nil, errors.New("faucet: no mature coinbase left: mine more blocks")
		}
		hash, err := f.node.BlockHash(ctx, f.next)
		if err != nil {
			return nil, err
		}
		f.next++
		b, err := f.node.Block(ctx, hash)
		if err != nil {
			return nil, err
		}
		unspent, err := f.node.IsUnspent(ctx, wire.OutPoint{Hash: b.Transactions[0].TxHash(), Index: 0})
		if err != nil {
			return nil, err
		}
		if unspent {
			block = b
			break
		}
	}
	cb := block.Transactions[0]
	prev := cb.TxOut[0]
	var total int64
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(wire.NewTxIn(&wire.OutPoint{Hash: cb.TxHash(), Index: 0}, nil, nil))
	tx.TxIn[0].Sequence = wire.MaxTxInSequenceNum - 2 // signals RBF
	for _, p := range payments {
		addr, err := btcutil.DecodeAddress(p.Address, &chaincfg.RegressionNetParams)
		if err != nil {
			return nil, fmt.Errorf("faucet: %w", err)
		}
		script, err := txscript.PayToAddrScript(addr)
		if err != nil {
			return nil, err
		}
		tx.AddTxOut(wire.NewTxOut(p.Amount, script))
		total += p.Amount
	}
	change := prev.Value - total - fee
	if change < 0 {
		return nil, fmt.Errorf("faucet: coinbase of %d sat cannot pay %d sat plus %d fee", prev.Value, total, fee)
	}
	if change > 1000 {
		script, _ := txscript.PayToAddrScript(FaucetAddress())
		tx.AddTxOut(wire.NewTxOut(change, script))
	}
	if err := signFaucetInput(tx, 0, prev); err != nil {
		return nil, err
	}
	return tx, nil
}

// Pay builds and broadcasts a payment and returns its transaction.
func (f *Faucet) Pay(ctx context.Context, payments ...Payment) (*wire.MsgTx, error) {
	tx, err := f.Build(ctx, payments, 10_000)
	if err != nil {
		return nil, err
	}
	if _, err := f.node.Broadcast(ctx, tx); err != nil {
		return nil, fmt.Errorf("faucet: broadcast: %w", err)
	}
	return tx, nil
}

// Replace builds and broadcasts a transaction spending the same input as
// tx with a higher fee, paying payments instead (an RBF double spend).
func (f *Faucet) Replace(ctx context.Context, tx *wire.MsgTx, prevValue int64, payments []Payment, fee int64) (*wire.MsgTx, error) {
	out := wire.NewMsgTx(2)
	out.AddTxIn(wire.NewTxIn(&tx.TxIn[0].PreviousOutPoint, nil, nil))
	out.TxIn[0].Sequence = wire.MaxTxInSequenceNum - 2
	var total int64
	for _, p := range payments {
		addr, err := btcutil.DecodeAddress(p.Address, &chaincfg.RegressionNetParams)
		if err != nil {
			return nil, err
		}
		script, _ := txscript.PayToAddrScript(addr)
		out.AddTxOut(wire.NewTxOut(p.Amount, script))
		total += p.Amount
	}
	faucetScript, _ := txscript.PayToAddrScript(FaucetAddress())
	if change := prevValue - total - fee; change > 1000 {
		out.AddTxOut(wire.NewTxOut(change, faucetScript))
	}
	if err := signFaucetInput(out, 0, wire.NewTxOut(prevValue, faucetScript)); err != nil {
		return nil, err
	}
	if _, err := f.node.Broadcast(ctx, out); err != nil {
		return nil, fmt.Errorf("faucet: replace: %w", err)
	}
	return out, nil
}

func signFaucetInput(tx *wire.MsgTx, i int, prev *wire.TxOut) error {
	fetcher := txscript.NewCannedPrevOutputFetcher(prev.PkScript, prev.Value)
	sigHashes := txscript.NewTxSigHashes(tx, fetcher)
	wit, err := txscript.WitnessSignature(tx, sigHashes, i, prev.Value, prev.PkScript, txscript.SigHashAll, FaucetKey(), true)
	if err != nil {
		return fmt.Errorf("faucet: signing: %w", err)
	}
	tx.TxIn[i].Witness = wit
	return nil
}

// TxID is a convenience for tests.
func TxID(tx *wire.MsgTx) chainhash.Hash { return tx.TxHash() }
