package sign

import (
	"encoding/hex"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/internal/psbttest"
	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
	"github.com/cryptoassets/cryptoassets/shared/psbt"
)

// A 500-input top-up (half P2WPKH, half P2TR) reviewed, signed, finalized
// and checked by the script engine, on every core, beside its single-core
// floor measured in the same run: for the same inputs of the same
// transaction, raw btcd calls on one goroutine and no PSBT: the sighash
// midstates, then per input the key derived from its cached branch key
// (hdkeychain), the BIP143/BIP341 sighash, the signature (the BIP86 tweak
// for P2TR, no btcec self-check) and one verification of it. The two
// alternate within every iteration, so other work on the machine weighs on
// both alike.
//
// Reports "ns/input" (end to end), "baseline-ns/input" (the floor) and
// "ratio" (ns/input / baseline-ns/input): lower is better; the target is at
// most 0.7 on a 2-core machine.
//
//	go test ./offline-signer/sign -run '^$' -bench Sign500 -benchtime 5x
func BenchmarkSign500(b *testing.B) {
	cold, hot := coldWallet(b), hotWallet(b)
	const n = 500
	var coins []psbttest.Coin
	for i := 0; i < n; i++ {
		acct := cold.WPKH
		if i%2 == 1 {
			acct = cold.TR
		}
		d := derive(b, acct, 0, uint32(i))
		prev := psbttest.FakeFunding(map[*hdkeys.Derived]int64{d: 10_000}, []*hdkeys.Derived{d})
		prev.LockTime = uint32(i) // each coin its own previous transaction
		coins = append(coins, psbttest.Coin{Prev: prev, Vout: 0, Key: d})
	}
	base := psbttest.TopUpFrom(b, coins, derive(b, hot.WPKH, 0, 0), derive(b, cold.WPKH, 1, 0), n*10_000-100_000, 40_000)
	raw, err := psbt.EncodeBinary(base)
	if err != nil {
		b.Fatal(err)
	}
	s := &Signer{Master: cold.Master, Policy: testPolicy(b, hot, nil)}
	floor := newFloor(b, base, coins)

	var elapsed, floorElapsed time.Duration
	for b.Loop() {
		p, err := psbt.Decode(raw, psbt.DefaultMaxSize)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		r, err := s.Review(p)
		if err != nil {
			b.Fatal(err)
		}
		complete, err := s.Sign(p, r)
		if err != nil || !complete {
			b.Fatalf("complete %v: %v", complete, err)
		}
		elapsed += time.Since(start)
		start = time.Now()
		floor.run(b)
		floorElapsed += time.Since(start)
	}
	per := float64(elapsed.Nanoseconds()) / float64(b.N*n)
	floorPer := float64(floorElapsed.Nanoseconds()) / float64(b.N*n)
	b.ReportMetric(per, "ns/input")
	b.ReportMetric(floorPer, "baseline-ns/input")
	b.ReportMetric(per/floorPer, "ratio")
}

// signFloor is the raw per-input work of signing the benchmark's
// transaction, with nothing a PSBT or a review adds.
type signFloor struct {
	tx      *wire.MsgTx
	fetcher *txscript.MultiPrevOutFetcher
	prevs   []*wire.TxOut
	branch  []*hdkeychain.ExtendedKey // per input: the branch key its key is a child of
	index   []uint32
}

func newFloor(b *testing.B, p *btcpsbt.Packet, coins []psbttest.Coin) *signFloor {
	seed, _ := hex.DecodeString(coldSeedHex)
	root, err := hdkeychain.NewMaster(seed, net)
	if err != nil {
		b.Fatal(err)
	}
	branches := map[[4]uint32]*hdkeychain.ExtendedKey{}
	f := &signFloor{tx: p.UnsignedTx, fetcher: txscript.NewMultiPrevOutFetcher(nil)}
	for i, txin := range p.UnsignedTx.TxIn {
		c := coins[i]
		prev := c.Prev.TxOut[c.Vout]
		if txin.PreviousOutPoint.Hash != c.Prev.TxHash() {
			b.Fatal("the coins are not in the transaction's order")
		}
		f.fetcher.AddPrevOut(txin.PreviousOutPoint, prev)
		f.prevs = append(f.prevs, prev)
		path := c.Key.Origin.Path
		key := [4]uint32{path[0], path[1], path[2], path[3]}
		if branches[key] == nil {
			k := root
			for _, step := range key {
				if k, err = k.Derive(step); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := k.ECPubKey(); err != nil { // memoized, as hdkeys caches it
				b.Fatal(err)
			}
			branches[key] = k
		}
		f.branch = append(f.branch, branches[key])
		f.index = append(f.index, path[4])
	}
	return f
}

func (f *signFloor) run(b *testing.B) {
	hashes := txscript.NewTxSigHashes(f.tx, f.fetcher)
	for i, prev := range f.prevs {
		child, err := f.branch[i].Derive(f.index[i])
		if err != nil {
			b.Fatal(err)
		}
		priv, err := child.ECPrivKey()
		if err != nil {
			b.Fatal(err)
		}
		if txscript.IsPayToTaproot(prev.PkScript) {
			hash, err := txscript.CalcTaprootSignatureHash(hashes, txscript.SigHashDefault, f.tx, i, f.fetcher)
			if err != nil {
				b.Fatal(err)
			}
			sig, err := schnorr.Sign(txscript.TweakTaprootPrivKey(*priv, nil), hash, schnorr.FastSign())
			if err != nil {
				b.Fatal(err)
			}
			outputKey, err := schnorr.ParsePubKey(prev.PkScript[2:])
			if err != nil || !sig.Verify(hash, outputKey) {
				b.Fatalf("floor: input %d does not verify (%v)", i, err)
			}
			continue
		}
		hash, err := txscript.CalcWitnessSigHash(prev.PkScript, hashes, txscript.SigHashAll, f.tx, i, prev.Value)
		if err != nil {
			b.Fatal(err)
		}
		if !ecdsa.Sign(priv, hash).Verify(hash, priv.PubKey()) {
			b.Fatalf("floor: input %d does not verify", i)
		}
	}
}

// Any bytes: decoding, review and (when review passes) signing never panic,
// and nothing is signed that review refused.
func FuzzReviewAndSign(f *testing.F) {
	cold, hot := coldWallet(f), hotWallet(f)
	in1, in2 := derive(f, cold.WPKH, 0, 1), derive(f, cold.TR, 0, 2)
	prev := psbttest.FakeFunding(map[*hdkeys.Derived]int64{in1: 1_000_000, in2: 500_000}, []*hdkeys.Derived{in1, in2})
	p := psbttest.TopUp(f, prev, map[int]*hdkeys.Derived{0: in1, 1: in2}, derive(f, hot.WPKH, 0, 5), derive(f, cold.WPKH, 1, 4), 1_200_000, 1_500)
	raw, _ := psbt.EncodeBinary(p)
	f.Add(raw)
	f.Add(raw[:len(raw)/2])
	s := &Signer{Master: cold.Master, Policy: testPolicy(f, hot, nil)}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := psbt.Decode(data, 1<<16)
		if err != nil {
			return
		}
		r, err := s.Review(p)
		if err != nil {
			return
		}
		if _, err := s.Sign(p, r); err != nil {
			return
		}
		if _, err := s.Review(p); err == nil && p.IsComplete() {
			t.Fatal("a complete PSBT passed review again")
		}
	})
}
