package signer

import (
	"bytes"
	"errors"
	"testing"

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
