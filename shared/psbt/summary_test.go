package psbt

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcutil"
	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
)

// summarizeBytes sends a packet through the codec first, as a PSBT from
// outside would arrive.
func summarizeBytes(t *testing.T, p *btcpsbt.Packet, net *chaincfg.Params) (*Summary, error) {
	t.Helper()
	decoded, err := Decode(mustEncode(t, p), 0)
	if err != nil {
		t.Fatal(err)
	}
	return Summarize(decoded, net)
}

func TestSummarizeFixture(t *testing.T) {
	w := loadVectorWallet(t)
	s, err := summarizeBytes(t, fixture(t, w), &chaincfg.MainNetParams)
	if err != nil {
		t.Fatal(err)
	}
	if !s.FeeKnown || !s.FeeVerified || s.Fee != fixtureFee {
		t.Fatalf("fee %d known=%v verified=%v, want %d verified", s.Fee, s.FeeKnown, s.FeeVerified, fixtureFee)
	}
	if s.TotalIn != fixtureP2WPKHIn+fixtureP2TRIn || s.TotalOut != fixturePay+fixtureChange {
		t.Fatalf("totals in %d out %d", s.TotalIn, s.TotalOut)
	}
	if len(s.Warnings) != 0 {
		t.Fatalf("unexpected warnings: %q", s.Warnings)
	}
	if want := s.Fee * 1000 / s.EstimatedVSize; s.FeeRateSatPerKvB != want {
		t.Fatalf("fee rate %d sat/kvB, want %d", s.FeeRateSatPerKvB, want)
	}

	inputs := []struct {
		typ    ScriptType
		amount int64
		key    vectorKey
		pubKey []byte
	}{
		{P2WPKH, fixtureP2WPKHIn, w.p2wpkh[0], w.p2wpkh[0].pubKey},
		{P2TR, fixtureP2TRIn, w.p2tr[0], w.p2tr[0].pubKey[1:]},
	}
	for i, want := range inputs {
		in := s.Inputs[i]
		if in.ScriptType != want.typ || in.Amount != want.amount || !in.AmountKnown || !in.AmountVerified || in.Signed {
			t.Errorf("input %d: %+v", i, in)
		}
		if len(in.KeyOrigins) != 1 {
			t.Fatalf("input %d: %d key origins, want 1", i, len(in.KeyOrigins))
		}
		o := in.KeyOrigins[0]
		if o.FingerprintHex() != w.fingerprintHex || o.PathString() != want.key.pathText || !bytes.Equal(o.PubKey, want.pubKey) {
			t.Errorf("input %d origin [%s] %s %x, want [%s] %s %x", i, o.FingerprintHex(), o.PathString(), o.PubKey,
				w.fingerprintHex, want.key.pathText, want.pubKey)
		}
	}

	outputs := []struct {
		key    vectorKey
		amount int64
		change bool
	}{
		{w.p2wpkh[1], fixturePay, false},
		{w.p2tr[2], fixtureChange, true},
	}
	for i, want := range outputs {
		out := s.Outputs[i]
		if out.Address != want.key.address || out.Amount != want.amount || out.ClaimedChange != want.change {
			t.Errorf("output %d: %s %d change=%v, want %s %d change=%v", i, out.Address, out.Amount, out.ClaimedChange,
				want.key.address, want.amount, want.change)
		}
		if want.change && (len(out.KeyOrigins) != 1 || out.KeyOrigins[0].PathString() != want.key.pathText) {
			t.Errorf("output %d origins %+v, want %s", i, out.KeyOrigins, want.key.pathText)
		}
	}
}

// TestSizeEstimate signs the fixture for real and compares the estimate
// with the signed transaction the network would see.
func TestSizeEstimate(t *testing.T) {
	w := loadVectorWallet(t)
	unsigned, err := summarizeBytes(t, fixture(t, w), &chaincfg.MainNetParams)
	if err != nil {
		t.Fatal(err)
	}

	signed := fixture(t, w)
	signFixture(t, w, signed, false)
	partly, err := summarizeBytes(t, signed, &chaincfg.MainNetParams)
	if err != nil {
		t.Fatal(err)
	}
	for i, in := range partly.Inputs {
		if !in.Signed {
			t.Errorf("input %d carries a signature but is not shown as signed", i)
		}
	}

	final := fixture(t, w)
	signFixture(t, w, final, true)
	tx, err := btcpsbt.Extract(final)
	if err != nil {
		t.Fatal(err)
	}
	verifyInputs(t, tx, final)
	actual := int64((tx.SerializeSizeStripped()*3 + tx.SerializeSize() + 3) / 4)

	finalized, err := summarizeBytes(t, final, &chaincfg.MainNetParams)
	if err != nil {
		t.Fatal(err)
	}
	if finalized.EstimatedVSize != actual {
		t.Errorf("finalized PSBT: estimate %d vB, signed transaction %d vB", finalized.EstimatedVSize, actual)
	}
	// An ECDSA signature is 71 or 72 bytes: the estimate may be 1 vB over.
	if d := unsigned.EstimatedVSize - actual; d < 0 || d > 1 {
		t.Errorf("unsigned PSBT: estimate %d vB, signed transaction %d vB", unsigned.EstimatedVSize, actual)
	}
}

// verifyInputs runs the script engine on every input of the signed
// transaction, so the fixture is known to be a real, valid spend.
func verifyInputs(t *testing.T, tx *wire.MsgTx, p *btcpsbt.Packet) {
	t.Helper()
	prevOuts := txscript.NewMultiPrevOutFetcher(nil)
	for i, in := range tx.TxIn {
		prevOuts.AddPrevOut(in.PreviousOutPoint, p.Inputs[i].WitnessUtxo)
	}
	hashes := txscript.NewTxSigHashes(tx, prevOuts)
	for i := range tx.TxIn {
		utxo := p.Inputs[i].WitnessUtxo
		vm, err := txscript.NewEngine(utxo.PkScript, tx, i, txscript.StandardVerifyFlags, nil, hashes, utxo.Value, prevOuts)
		if err != nil {
			t.Fatal(err)
		}
		if err := vm.Execute(); err != nil {
			t.Fatalf("input %d does not verify: %v", i, err)
		}
	}
}

func TestSummarizeRefusesContradictions(t *testing.T) {
	w := loadVectorWallet(t)
	tests := []struct {
		name    string
		mutate  func(p *btcpsbt.Packet)
		want    error
		message string
	}{
		{"fee attack: witness_utxo amount lower than the previous transaction's", func(p *btcpsbt.Packet) {
			p.Inputs[0].WitnessUtxo = wire.NewTxOut(fixtureP2WPKHIn-50_000, p.Inputs[0].WitnessUtxo.PkScript)
		}, ErrUTXOMismatch, "CVE-2020-14199"},
		{"witness_utxo amount higher than the previous transaction's", func(p *btcpsbt.Packet) {
			p.Inputs[0].WitnessUtxo = wire.NewTxOut(fixtureP2WPKHIn+1, p.Inputs[0].WitnessUtxo.PkScript)
		}, ErrUTXOMismatch, "input 0"},
		{"witness_utxo script differs from the previous transaction's", func(p *btcpsbt.Packet) {
			p.Inputs[0].WitnessUtxo = wire.NewTxOut(fixtureP2WPKHIn, w.p2wpkh[1].script)
		}, ErrUTXOMismatch, "input 0"},
		{"non_witness_utxo is another transaction", func(p *btcpsbt.Packet) {
			p.Inputs[0].NonWitnessUtxo = fundingTx(9, 1, fixtureP2WPKHIn, w.p2wpkh[0].script)
		}, ErrUTXOMismatch, "its non_witness_utxo is transaction"},
		{"the spent output is missing from non_witness_utxo", func(p *btcpsbt.Packet) {
			p.UnsignedTx.TxIn[0].PreviousOutPoint.Index = 2
		}, ErrUTXOMismatch, "has only 2 outputs"},
		{"outputs exceed inputs", func(p *btcpsbt.Packet) {
			p.UnsignedTx.TxOut[0].Value += fixtureFee + 1
		}, ErrNegativeFee, "outputs total 0.00300001 BTC but inputs only 0.00300000 BTC"},
		{"negative output amount", func(p *btcpsbt.Packet) {
			p.UnsignedTx.TxOut[0].Value = -1
		}, ErrMalformed, "output 0"},
		{"output over 21 million BTC", func(p *btcpsbt.Packet) {
			p.UnsignedTx.TxOut[0].Value = btcutil.MaxSatoshi + 1
		}, ErrMalformed, "output 0"},
		{"outputs together over 21 million BTC", func(p *btcpsbt.Packet) {
			p.UnsignedTx.TxOut[0].Value = btcutil.MaxSatoshi
			p.UnsignedTx.TxOut[1].Value = btcutil.MaxSatoshi
		}, ErrMalformed, "outputs total"},
		{"taproot witness_utxo over 21 million BTC", func(p *btcpsbt.Packet) {
			p.Inputs[1].WitnessUtxo = wire.NewTxOut(btcutil.MaxSatoshi+1, p.Inputs[1].WitnessUtxo.PkScript)
		}, ErrMalformed, "input 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := fixture(t, w)
			tt.mutate(p)
			_, err := summarizeBytes(t, p, &chaincfg.MainNetParams)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Fatalf("error %q does not say %q", err, tt.message)
			}
		})
	}
}

func TestSummarizeRefusesBadPacket(t *testing.T) {
	w := loadVectorWallet(t)
	p := fixture(t, w)
	p.Inputs = p.Inputs[:1]
	if _, err := Summarize(p, &chaincfg.MainNetParams); !errors.Is(err, ErrMalformed) {
		t.Fatalf("missing input map: got %v, want ErrMalformed", err)
	}
	if _, err := Summarize(&btcpsbt.Packet{}, &chaincfg.MainNetParams); !errors.Is(err, ErrMalformed) {
		t.Fatalf("empty packet: got %v, want ErrMalformed", err)
	}
	if _, err := Summarize(fixture(t, w), nil); err == nil {
		t.Fatal("no network: want an error")
	}
}

func TestSummarizeWarnsWhatItCannotCheck(t *testing.T) {
	w := loadVectorWallet(t)
	tests := []struct {
		name         string
		mutate       func(p *btcpsbt.Packet)
		feeKnown     bool
		feeVerified  bool
		warningNames []string // each must appear in one warning
	}{
		{"p2wpkh input with only witness_utxo", func(p *btcpsbt.Packet) {
			p.Inputs[0].NonWitnessUtxo = nil
		}, true, false, []string{"input 0", "only witness_utxo"}},
		{"p2wpkh input with only non_witness_utxo is verified", func(p *btcpsbt.Packet) {
			p.Inputs[0].WitnessUtxo = nil
		}, true, true, nil},
		{"input with no UTXO data", func(p *btcpsbt.Packet) {
			p.Inputs[1].WitnessUtxo = nil
		}, false, false, []string{"input 1", "no UTXO data"}},
		{"sighash NONE|ANYONECANPAY requested", func(p *btcpsbt.Packet) {
			p.Inputs[0].SighashType = txscript.SigHashNone | txscript.SigHashAnyOneCanPay
		}, true, true, []string{"input 0", "NONE|ANYONECANPAY"}},
		{"output without an address", func(p *btcpsbt.Packet) {
			p.UnsignedTx.TxOut[0].PkScript = []byte{txscript.OP_RETURN, 0x02, 0xca, 0xfe}
		}, true, true, []string{"output 0", "6a02cafe"}},
		{"redeem script that does not match", func(p *btcpsbt.Packet) {
			p.Inputs[0].RedeemScript = []byte{0x00, 0x14, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}
		}, true, true, []string{"input 0", "redeem script does not match"}},
		{"taproot input that may take a script path", func(p *btcpsbt.Packet) {
			p.Inputs[1].TaprootLeafScript = []*btcpsbt.TaprootTapLeafScript{{
				ControlBlock: append([]byte{0xc0}, w.p2tr[0].pubKey[1:]...),
				Script:       []byte{txscript.OP_TRUE},
				LeafVersion:  txscript.BaseLeafVersion,
			}}
		}, true, true, []string{"input 1", "cannot be estimated"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := fixture(t, w)
			tt.mutate(p)
			s, err := summarizeBytes(t, p, &chaincfg.MainNetParams)
			if err != nil {
				t.Fatal(err)
			}
			if s.FeeKnown != tt.feeKnown || s.FeeVerified != tt.feeVerified {
				t.Fatalf("fee known=%v verified=%v, want %v %v", s.FeeKnown, s.FeeVerified, tt.feeKnown, tt.feeVerified)
			}
			if len(tt.warningNames) == 0 && len(s.Warnings) > 0 {
				t.Fatalf("unexpected warnings %q", s.Warnings)
			}
			if len(tt.warningNames) > 0 && !anyContainsAll(s.Warnings, tt.warningNames) {
				t.Fatalf("no warning names %q: %q", tt.warningNames, s.Warnings)
			}
			text := s.Text()
			for _, w := range s.Warnings {
				if !strings.Contains(text, w) {
					t.Fatalf("review text leaves out the warning %q", w)
				}
			}
			if !tt.feeKnown && !strings.Contains(text, "Fee        UNKNOWN") {
				t.Fatalf("review text does not say the fee is unknown:\n%s", text)
			}
			if tt.feeKnown && !tt.feeVerified && !strings.Contains(text, "NOT VERIFIED") {
				t.Fatalf("review text does not say the fee is not verified:\n%s", text)
			}
		})
	}
}

func anyContainsAll(warnings, parts []string) bool {
	for _, w := range warnings {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(w, p)
		}
		if all {
			return true
		}
	}
	return false
}

// TestAddressesFollowTheNetwork renders the same scripts for each network
// and checks each address decodes back to its script on that network only.
func TestAddressesFollowTheNetwork(t *testing.T) {
	w := loadVectorWallet(t)
	p := fixture(t, w)
	tests := []struct {
		net            *chaincfg.Params
		p2wpkh, p2tr   string // address prefixes
		publishedMatch bool
	}{
		{&chaincfg.MainNetParams, "bc1q", "bc1p", true},
		{&chaincfg.TestNet3Params, "tb1q", "tb1p", false},
		{&chaincfg.SigNetParams, "tb1q", "tb1p", false},
		{&chaincfg.RegressionNetParams, "bcrt1q", "bcrt1p", false},
	}
	for _, tt := range tests {
		t.Run(tt.net.Name, func(t *testing.T) {
			s, err := summarizeBytes(t, p, tt.net)
			if err != nil {
				t.Fatal(err)
			}
			if s.Network != tt.net.Name {
				t.Errorf("network %q, want %q", s.Network, tt.net.Name)
			}
			for i, prefix := range []string{tt.p2wpkh, tt.p2tr} {
				out := s.Outputs[i]
				if !strings.HasPrefix(out.Address, prefix) {
					t.Errorf("output %d address %s, want prefix %s", i, out.Address, prefix)
				}
				addr, err := btcutil.DecodeAddress(out.Address, tt.net)
				if err != nil || !addr.IsForNet(tt.net) {
					t.Fatalf("output %d address %s does not decode for %s: %v", i, out.Address, tt.net.Name, err)
				}
				script, err := txscript.PayToAddrScript(addr)
				if err != nil || !bytes.Equal(script, out.Script) {
					t.Errorf("output %d address %s pays %x, the transaction pays %x", i, out.Address, script, out.Script)
				}
			}
			published := s.Outputs[0].Address == w.p2wpkh[1].address
			if published != tt.publishedMatch {
				t.Errorf("address %s vs the published mainnet %s", s.Outputs[0].Address, w.p2wpkh[1].address)
			}
		})
	}
}

func TestInputScriptTypes(t *testing.T) {
	w := loadVectorWallet(t)
	key := w.p2wpkh[0]
	p2wpkh := key.script
	pkh := btcutil.Hash160(key.pubKey)
	p2pkh := append(append([]byte{txscript.OP_DUP, txscript.OP_HASH160, 0x14}, pkh...), txscript.OP_EQUALVERIFY, txscript.OP_CHECKSIG)
	p2sh := func(redeem []byte) []byte {
		return append(append([]byte{txscript.OP_HASH160, 0x14}, btcutil.Hash160(redeem)...), txscript.OP_EQUAL)
	}
	p2wsh := append([]byte{0x00, 0x20}, bytes.Repeat([]byte{1}, 32)...)

	tests := []struct {
		name   string
		script []byte
		redeem []byte
		want   ScriptType
		weight int64 // documented estimate in WU for a single-key spend; 0 when not estimable
	}{
		{"p2pkh", p2pkh, nil, P2PKH, 148 * 4},
		{"p2sh-p2wpkh", p2sh(p2wpkh), p2wpkh, P2SHP2WPKH, 91 * 4},
		{"p2wpkh", p2wpkh, nil, P2WPKH, 68 * 4},
		{"p2tr", w.p2tr[0].script, nil, P2TR, 230},
		{"p2sh-p2wsh", p2sh(p2wsh), p2wsh, P2SHP2WSH, 0},
		{"p2sh without its redeem script", p2sh(p2wpkh), nil, P2SH, 0},
		{"p2sh with a redeem script of another output", p2sh(p2wpkh), p2wsh, P2SH, 0},
		{"p2wsh", p2wsh, nil, P2WSH, 0},
		{"bare multisig", []byte{txscript.OP_1, 0x21}, nil, UnknownScript, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := inputScriptType(tt.script, tt.redeem)
			if got != tt.want {
				t.Fatalf("type %s, want %s", got, tt.want)
			}
			weight, _, ok := inputWeight(got, &btcpsbt.PInput{})
			if ok != (tt.weight != 0) || (ok && weight != tt.weight) {
				t.Fatalf("weight %d (estimable %v), want %d", weight, ok, tt.weight)
			}
		})
	}
}

func TestSighashName(t *testing.T) {
	tests := []struct {
		in   txscript.SigHashType
		want string
	}{
		{txscript.SigHashDefault, "DEFAULT"},
		{txscript.SigHashAll, "ALL"},
		{txscript.SigHashNone, "NONE"},
		{txscript.SigHashSingle, "SINGLE"},
		{txscript.SigHashAll | txscript.SigHashAnyOneCanPay, "ALL|ANYONECANPAY"},
		{txscript.SigHashSingle | txscript.SigHashAnyOneCanPay, "SINGLE|ANYONECANPAY"},
		{txscript.SigHashAnyOneCanPay, "0x80 (non-standard)"},
		{0x04, "0x4 (non-standard)"},
		{0x101, "0x101 (non-standard)"},
	}
	for _, tt := range tests {
		if got := sighashName(tt.in); got != tt.want {
			t.Errorf("sighashName(%#x) = %q, want %q", uint32(tt.in), got, tt.want)
		}
	}
}

func TestText(t *testing.T) {
	w := loadVectorWallet(t)
	p := fixture(t, w)
	p.Inputs[0].NonWitnessUtxo = nil // forces a warning
	p.UnsignedTx.LockTime = 840_000
	s, err := summarizeBytes(t, p, &chaincfg.MainNetParams)
	if err != nil {
		t.Fatal(err)
	}
	text := s.Text()
	wantInOrder := []string{
		"PSBT review (mainnet): 2 input(s), 2 output(s)",
		"WARNING(S)",
		"input 0",
		"Inputs",
		"0.00100000 BTC (100000 sat)  (NOT VERIFIED)",
		fmt.Sprintf("key [%s] %s", w.fingerprintHex, w.p2wpkh[0].pathText),
		"0.00200000 BTC (200000 sat)  (claimed: not checked against its previous transaction",
		"Outputs",
		w.p2wpkh[1].address,
		"0.00250000 BTC (250000 sat)",
		w.p2tr[2].address,
		"0.00049000 BTC (49000 sat)  (the PSBT states a key origin for it; not verified here)",
		"Total in   0.00300000 BTC (300000 sat)",
		"Total out  0.00299000 BTC (299000 sat)",
		"Fee        0.00001000 BTC (1000 sat)  (NOT VERIFIED",
		fmt.Sprintf("Size       about %d vB", s.EstimatedVSize),
		fmt.Sprintf("Fee rate   about %d.%02d sat/vB", 1000/s.EstimatedVSize, 1000*100/s.EstimatedVSize%100),
		"Version    2",
		"Locktime   block 840000: not minable before block 840000",
	}
	rest := text
	for _, want := range wantInOrder {
		i := strings.Index(rest, want)
		if i < 0 {
			t.Fatalf("review text lacks %q (in this order):\n%s", want, text)
		}
		rest = rest[i+len(want):]
	}
}

// What a sequence and a locktime mean, in words; the usual replaceable
// sequence is not shown.
func TestSequenceAndLocktimeInWords(t *testing.T) {
	for _, tc := range []struct {
		seq     uint32
		version int32
		want    string
	}{
		{0xfffffffd, 2, ""},
		{0xffffffff, 2, "final (not replaceable)"},
		{0xfffffffe, 2, "sequence 0xfffffffe: not replaceable"},
		{144, 2, "relative time lock of 144 blocks"},
		{144, 1, "no relative time lock"},
		{1<<22 | 10, 2, "relative time lock of 5120 s (1h25m20s)"},
		{1<<31 | 5, 2, "no relative time lock"},
	} {
		got := sequenceWords(tc.seq, tc.version)
		if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
			t.Errorf("sequence %#x v%d: %q, want %q", tc.seq, tc.version, got, tc.want)
		}
	}
	s := &Summary{Inputs: []Input{{Sequence: 0xffffffff}}}
	for _, tc := range []struct {
		lock uint32
		want string
	}{
		{0, "none: minable at once"},
		{800, "block 800: not minable before block 800 (but disabled: every input's sequence is final)"},
		{1_700_000_000, "2023-11-14T22:13:20Z: not minable before that time"},
	} {
		s.LockTime = tc.lock
		if got := s.lockTimeWords(); !strings.Contains(got, tc.want) {
			t.Errorf("locktime %d: %q, want %q", tc.lock, got, tc.want)
		}
	}
}
