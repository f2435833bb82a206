package signer

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
)

// spend builds a packet spending one coin of each given account (index 0
// of the receive branch) to a fixed script, and the Request that signs it.
func spend(t *testing.T, types ...hdkeys.ScriptType) Request {
	t.Helper()
	m, err := hdkeys.NewMaster(bytes.Repeat([]byte{9}, 64), &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	tx := wire.NewMsgTx(2)
	var req Request
	req.Master = m
	for i, st := range types {
		acct, err := m.Account(st, 0)
		if err != nil {
			t.Fatal(err)
		}
		d, err := acct.Derive(0, uint32(i))
		if err != nil {
			t.Fatal(err)
		}
		tx.AddTxIn(wire.NewTxIn(&wire.OutPoint{Hash: chainhash.Hash{byte(i + 1)}, Index: 0}, nil, nil))
		prev := wire.NewTxOut(100_000, d.PkScript)
		req.Prevs = append(req.Prevs, prev)
		req.Inputs = append(req.Inputs, Input{Index: i, Path: d.Origin.Path, Prev: prev})
	}
	tx.AddTxOut(wire.NewTxOut(int64(len(types))*100_000-1_000, []byte{txscript.OP_TRUE}))
	p, err := btcpsbt.NewFromUnsignedTx(tx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range p.Inputs {
		p.Inputs[i].WitnessUtxo = req.Prevs[i]
	}
	req.Packet = p
	return req
}

func TestSignChecksEverySignedInputWithTheScriptEngine(t *testing.T) {
	for _, tc := range []struct {
		name  string
		types []hdkeys.ScriptType
	}{
		{"p2wpkh", []hdkeys.ScriptType{hdkeys.P2WPKH}},
		{"p2tr", []hdkeys.ScriptType{hdkeys.P2TR}},
		{"both", []hdkeys.ScriptType{hdkeys.P2WPKH, hdkeys.P2TR}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := spend(t, tc.types...)
			complete, err := Sign(req)
			if err != nil || !complete {
				t.Fatalf("complete %v, %v", complete, err)
			}
			if _, err := btcpsbt.Extract(req.Packet); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A signature changed after signing (a faulty key, a bit flip, a bug) is
// refused by the engine check, and the packet is left without it.
func TestSignTamperedSignatureRefusedByScriptEngine(t *testing.T) {
	for _, tc := range []struct {
		name  string
		types []hdkeys.ScriptType
		input int
	}{
		{"p2wpkh", []hdkeys.ScriptType{hdkeys.P2WPKH}, 0},
		{"p2tr", []hdkeys.ScriptType{hdkeys.P2TR}, 0},
		{"second of two", []hdkeys.ScriptType{hdkeys.P2WPKH, hdkeys.P2TR}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tampered := 0
			tamper = func(p *btcpsbt.Packet) {
				w := p.Inputs[tc.input].FinalScriptWitness
				// The first witness item is the signature; flip a bit in it
				// (one length byte and one item-count byte precede it).
				w[10] ^= 0x01
				tampered++
			}
			defer func() { tamper = nil }()
			req := spend(t, tc.types...)
			complete, err := Sign(req)
			if tampered != 1 {
				t.Fatalf("the fault was injected %d times", tampered)
			}
			if !errors.Is(err, ErrScriptCheck) || complete {
				t.Fatalf("a tampered signature was not refused: complete %v, err %v", complete, err)
			}
			for i, in := range req.Packet.Inputs {
				if in.FinalScriptWitness != nil || in.TaprootKeySpendSig != nil || in.PartialSigs != nil {
					t.Fatalf("input %d keeps a signature after the refusal", i)
				}
			}
			if req.Packet.IsComplete() {
				t.Fatal("the refused packet is complete")
			}
		})
	}
}

func TestSignRefusesBadRequests(t *testing.T) {
	req := spend(t, hdkeys.P2WPKH)
	bad := req
	bad.Prevs = nil
	if _, err := Sign(bad); err == nil {
		t.Fatal("missing spent coins were accepted")
	}
	bad = req
	bad.Inputs = []Input{{Index: 3, Path: req.Inputs[0].Path, Prev: req.Prevs[0]}}
	if _, err := Sign(bad); err == nil {
		t.Fatal("an input outside the packet was accepted")
	}
	bad = req
	other := wire.NewTxOut(100_000, []byte{txscript.OP_TRUE})
	bad.Inputs = []Input{{Index: 0, Path: req.Inputs[0].Path, Prev: other}}
	if _, err := Sign(bad); !errors.Is(err, ErrUnsupportedScript) {
		t.Fatalf("an unsupported script: %v", err)
	}
}

// mixed is spend with n inputs alternating P2WPKH and P2TR.
func mixed(t *testing.T, n int) Request {
	t.Helper()
	types := make([]hdkeys.ScriptType, n)
	for i := range types {
		types[i] = hdkeys.P2WPKH
		if i%2 == 1 {
			types[i] = hdkeys.P2TR
		}
	}
	return spend(t, types...)
}

func encode(t *testing.T, p *btcpsbt.Packet) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := p.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// The packet Sign returns is byte for byte what btcutil/psbt's own path
// makes of the same keys (txscript's signing calls, Updater.Sign,
// MaybeFinalizeAll): the BIP86 tweak from the derived public key, the
// skipped btcec self-check and the finalization done here change nothing.
func TestSignedBytesMatchBtcutilPSBTSigning(t *testing.T) {
	req := mixed(t, 6)
	req.Packet.Inputs[3].SighashType = txscript.SigHashAll // a 65-byte taproot signature
	ref, err := btcpsbt.NewFromRawBytes(bytes.NewReader(encode(t, req.Packet)), false)
	if err != nil {
		t.Fatal(err)
	}
	fetcher := txscript.NewMultiPrevOutFetcher(nil)
	for i, txin := range ref.UnsignedTx.TxIn {
		fetcher.AddPrevOut(txin.PreviousOutPoint, req.Prevs[i])
	}
	hashes := txscript.NewTxSigHashes(ref.UnsignedTx, fetcher)
	u, err := btcpsbt.NewUpdater(ref)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range req.Inputs {
		key, err := req.Master.PrivKey(in.Path)
		if err != nil {
			t.Fatal(err)
		}
		if txscript.IsPayToTaproot(in.Prev.PkScript) {
			hashType := txscript.SigHashDefault
			if t := ref.Inputs[in.Index].SighashType; t != 0 {
				hashType = t
			}
			sig, err := txscript.RawTxInTaprootSignature(ref.UnsignedTx, hashes, in.Index, in.Prev.Value, in.Prev.PkScript, nil, hashType, key)
			if err != nil {
				t.Fatal(err)
			}
			ref.Inputs[in.Index].TaprootKeySpendSig = sig
			continue
		}
		sig, err := txscript.RawTxInWitnessSignature(ref.UnsignedTx, hashes, in.Index, in.Prev.Value, in.Prev.PkScript, txscript.SigHashAll, key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := u.Sign(in.Index, sig, key.PubKey().SerializeCompressed(), nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := btcpsbt.MaybeFinalizeAll(ref); err != nil {
		t.Fatal(err)
	}
	if complete, err := Sign(req); err != nil || !complete {
		t.Fatalf("complete %v, %v", complete, err)
	}
	if got, want := encode(t, req.Packet), encode(t, ref); !bytes.Equal(got, want) {
		t.Fatalf("signed packet differs from btcutil/psbt's:\n got %x\nwant %x", got, want)
	}
}

// workersSeen counts, per phase, the entries each worker handled. A
// worker's first entry of a phase waits (up to a few seconds) until every
// worker has one, so a loaded machine cannot leave a worker idle.
func workersSeen(t *testing.T, workers int) map[string]map[int]int {
	t.Helper()
	var mu sync.Mutex
	arrived := sync.NewCond(&mu)
	seen := map[string]map[int]int{}
	observe = func(phase string, worker, _ int) {
		mu.Lock()
		defer mu.Unlock()
		if seen[phase] == nil {
			seen[phase] = map[int]int{}
		}
		seen[phase][worker]++
		if seen[phase][worker] > 1 {
			return
		}
		arrived.Broadcast()
		deadline := time.AfterFunc(5*time.Second, func() { mu.Lock(); arrived.Broadcast(); mu.Unlock() })
		defer deadline.Stop()
		start := time.Now()
		for len(seen[phase]) < workers && time.Since(start) < 5*time.Second {
			arrived.Wait()
		}
	}
	t.Cleanup(func() { observe = nil })
	return seen
}

// The same packet signed with one core and with two gives the same bytes,
// and the two-core run did spread both phases over two workers.
func TestSignSameBytesOnOneCoreAndTwo(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	var out [][]byte
	for _, procs := range []int{1, 2} {
		runtime.GOMAXPROCS(procs)
		seen := workersSeen(t, procs)
		req := mixed(t, 120)
		if complete, err := Sign(req); err != nil || !complete {
			t.Fatalf("GOMAXPROCS %d: complete %v, %v", procs, complete, err)
		}
		for _, phase := range []string{"sign", "verify"} {
			if len(seen[phase]) != procs {
				t.Fatalf("GOMAXPROCS %d: the %s phase ran on %d workers (%v)", procs, phase, len(seen[phase]), seen[phase])
			}
		}
		out = append(out, encode(t, req.Packet))
	}
	if !bytes.Equal(out[0], out[1]) {
		t.Fatal("signing on two cores gave other bytes than on one")
	}
}

// An input the engine refuses is named, with its index, while the other
// workers verify theirs; the lowest refused input wins; the packet is left
// as it was given.
func TestSignEngineRefusalNamesItsInputWhileOtherWorkersSucceed(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	for _, tc := range []struct {
		name     string
		tampered []int
		want     int
	}{
		{"one input", []int{37}, 37},
		{"two inputs, the lower wins", []int{41, 13}, 13},
		{"the last input", []int{59}, 59},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen := workersSeen(t, 2)
			tamper = func(p *btcpsbt.Packet) {
				for _, i := range tc.tampered {
					p.Inputs[i].FinalScriptWitness[10] ^= 0x01 // a bit of the signature
				}
			}
			defer func() { tamper = nil }()
			req := mixed(t, 60)
			before := encode(t, req.Packet)
			complete, err := Sign(req)
			if !errors.Is(err, ErrScriptCheck) || complete {
				t.Fatalf("complete %v, err %v", complete, err)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("input %d:", tc.want)) {
				t.Fatalf("the refusal does not name input %d: %v", tc.want, err)
			}
			if len(seen["verify"]) < 2 {
				t.Fatalf("the check ran on %d workers (%v)", len(seen["verify"]), seen["verify"])
			}
			checked := 0
			for _, n := range seen["verify"] {
				checked += n
			}
			if checked <= tc.want {
				t.Fatalf("only %d inputs were checked before the refusal of input %d", checked, tc.want)
			}
			if !bytes.Equal(encode(t, req.Packet), before) {
				t.Fatal("the refused packet is not as it was given")
			}
		})
	}
}

// Requests that would sign the wrong thing are refused, naming the input,
// and leave the packet as it was.
func TestSignRefusesMismatchedInputs(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(r *Request)
		want   error
		text   string
	}{
		{"an input listed twice", func(r *Request) { r.Inputs = append(r.Inputs, r.Inputs[2]) }, nil, "input 2 is listed twice"},
		{"the key of another input", func(r *Request) { r.Inputs[3].Path = r.Inputs[1].Path }, ErrWrongKey, "input 3:"},
		{"the packet's UTXO is another coin", func(r *Request) { r.Packet.Inputs[2].WitnessUtxo = wire.NewTxOut(99_999, r.Prevs[2].PkScript) }, nil, "input 2: the packet's UTXO"},
		{"no UTXO data", func(r *Request) { r.Packet.Inputs[1].WitnessUtxo = nil }, nil, "input 1 has no UTXO data"},
		{"a P2WPKH input asking for SIGHASH_NONE", func(r *Request) { r.Packet.Inputs[0].SighashType = txscript.SigHashNone }, nil, "input 0 asks for sighash"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := mixed(t, 4)
			tc.change(&req)
			before := encode(t, req.Packet)
			_, err := Sign(req)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("want %v naming %q, got %v", tc.want, tc.text, err)
			}
			if !bytes.Equal(encode(t, req.Packet), before) {
				t.Fatal("a refused request changed the packet")
			}
		})
	}
}

// Keys derives every path given, each key as Master.SigningKey gives it,
// and reports the error of a bad path at its own index.
func TestKeys(t *testing.T) {
	req := mixed(t, 9)
	paths := make([][]uint32, 11)
	for _, in := range req.Inputs {
		paths[in.Index] = in.Path
	}
	paths[9] = nil
	paths[10] = []uint32{1, 2, 3}
	keys, errs := Keys(req.Master, paths)
	for i, in := range req.Inputs {
		if errs[i] != nil || !bytes.Equal(keys[i].PkScript, in.Prev.PkScript) {
			t.Fatalf("input %d: %v", i, errs[i])
		}
	}
	if keys[9] != nil || errs[9] != nil {
		t.Fatal("a nil path was derived")
	}
	if keys[10] != nil || !errors.Is(errs[10], hdkeys.ErrMalformed) {
		t.Fatalf("a bad path: %v", errs[10])
	}
}
