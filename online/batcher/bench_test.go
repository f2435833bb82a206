package batcher

import (
	"bytes"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/online/coinselect"
	"github.com/cryptoassets/cryptoassets/online/hotwallet"
	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
)

// bigBatch is a hot wallet of 500 coins and 1,000 withdrawals that need
// every one of them.
type bigBatch struct {
	signer  *hotwallet.Signer
	master  *hdkeys.Master
	coins   []coin
	byOP    map[wire.OutPoint]coin
	ws      []pending
	change  []byte
	privs   []*btcec.PrivateKey // the coins' keys, derived up front, for the raw baseline
	feeRate int64
}

func newBigBatch(tb testing.TB) *bigBatch {
	tb.Helper()
	m, err := hdkeys.NewMaster(bytes.Repeat([]byte{9}, 64), regtest)
	if err != nil {
		tb.Fatal(err)
	}
	acct, err := m.Account(hdkeys.P2WPKH, 0)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := hotwallet.New(m, acct)
	if err != nil {
		tb.Fatal(err)
	}
	bb := &bigBatch{signer: s, master: m, byOP: map[wire.OutPoint]coin{}, feeRate: 10_000}
	for i := 0; i < 500; i++ {
		d, err := acct.Derive(0, uint32(i))
		if err != nil {
			tb.Fatal(err)
		}
		op := wire.OutPoint{Hash: chainhash.DoubleHashH([]byte{byte(i), byte(i >> 8)}), Index: uint32(i % 3)}
		c := coin{Coin: coinselect.Coin{OutPoint: op, Amount: 100_000, Script: d.PkScript, Confirmed: true}, branch: 0, index: uint32(i)}
		bb.coins = append(bb.coins, c)
		bb.byOP[op] = c
		k, err := m.PrivKey(d.Origin.Path)
		if err != nil {
			tb.Fatal(err)
		}
		bb.privs = append(bb.privs, k)
	}
	for i := 0; i < 1000; i++ {
		bb.ws = append(bb.ws, pending{id: int64(i + 1), script: append([]byte{0, 20}, bytes.Repeat([]byte{byte(i), byte(i >> 8)}, 10)...), amount: 49_300})
	}
	d, err := acct.Derive(1, 0)
	if err != nil {
		tb.Fatal(err)
	}
	bb.change = d.PkScript
	return bb
}

// build is the batcher's own path without the database: select, the
// skeleton with key origins, sign through the hot signer (each input
// verified by the script engine), extract.
func (bb *bigBatch) build(tb testing.TB) *wire.MsgTx {
	sel := make([]coinselect.Coin, len(bb.coins))
	for i, c := range bb.coins {
		sel[i] = c.Coin
	}
	s, err := coinselect.Select(sel, outputs(bb.ws), coinselect.Params{FeeRate: bb.feeRate, ChangeScript: bb.change})
	if err != nil {
		tb.Fatal(err)
	}
	if len(s.Inputs) != 500 {
		tb.Fatalf("%d inputs, want 500", len(s.Inputs))
	}
	p, _, err := skeleton(bb.signer.Account(), s, bb.ws, bb.byOP, bb.change, 0, 800_000)
	if err != nil {
		tb.Fatal(err)
	}
	tx, err := bb.signer.Sign(p)
	if err != nil {
		tb.Fatal(err)
	}
	return tx
}

// rawSign is the floor: the same transaction's 500 segwit v0 signatures
// with keys already derived, one sighash midstate, no checks.
func (bb *bigBatch) rawSign(tb testing.TB, tx *wire.MsgTx) {
	prevs := txscript.NewMultiPrevOutFetcher(nil)
	keys := map[wire.OutPoint]int{}
	for i, c := range bb.coins {
		prevs.AddPrevOut(c.OutPoint, wire.NewTxOut(c.Amount, c.Script))
		keys[c.OutPoint] = i
	}
	hashes := txscript.NewTxSigHashes(tx, prevs)
	for i, in := range tx.TxIn {
		k := keys[in.PreviousOutPoint]
		c := bb.coins[k]
		w, err := txscript.WitnessSignature(tx, hashes, i, c.Amount, c.Script, txscript.SigHashAll, bb.privs[k], true)
		if err != nil {
			tb.Fatal(err)
		}
		tx.TxIn[i].Witness = w
	}
}

// BenchmarkBatch1000Outputs500Inputs builds and signs one batch of 1,000
// withdrawals from 500 coins, beside raw signing of the same transaction
// in the same run. It reports both, in ns per batch, and their ratio.
func BenchmarkBatch1000Outputs500Inputs(b *testing.B) {
	bb := newBigBatch(b)
	defer bb.signer.Close()
	tx := bb.build(b)
	unsigned := tx.Copy()
	for _, in := range unsigned.TxIn {
		in.Witness = nil
	}
	var rawNs, ourNs int64
	for i := 0; i < b.N; i++ {
		start := nowNs()
		bb.rawSign(b, unsigned.Copy())
		mid := nowNs()
		bb.build(b)
		rawNs += mid - start
		ourNs += nowNs() - mid
	}
	b.ReportMetric(float64(ourNs)/float64(b.N), "ns/batch")
	b.ReportMetric(float64(rawNs)/float64(b.N), "baseline-ns/batch")
	b.ReportMetric(float64(ourNs)/float64(rawNs), "ratio")
	// ns/op would time the baseline and the batch together.
	b.ReportMetric(0, "ns/op")
}

func nowNs() int64 { return time.Now().UnixNano() }
