package psbt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/btcutil"
	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/shared/amount"
)

// ErrUTXOMismatch means the UTXO data in the PSBT contradicts itself: the
// previous transaction does not hash to the outpoint, lacks the output, or
// disagrees with the witness UTXO. Signing such a PSBT could pay a fee the
// person never saw (CVE-2020-14199).
var ErrUTXOMismatch = errors.New("PSBT UTXO data does not agree with itself")

// KeyOrigin is a BIP32 master fingerprint and path.
type KeyOrigin struct {
	Fingerprint uint32 // as btcutil/psbt stores it (little-endian of the 4 bytes)
	Path        []uint32
	PubKey      []byte // compressed, or x-only for taproot
}

// FingerprintHex is the fingerprint as wallets display it ("73c5da0a").
func (k KeyOrigin) FingerprintHex() string {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], k.Fingerprint)
	return fmt.Sprintf("%x", b)
}

// PathString is the path as m/84'/0'/0'/0/5.
func (k KeyOrigin) PathString() string { return PathString(k.Path) }

// PathString writes a BIP32 path with ' for hardened steps.
func PathString(path []uint32) string {
	var b strings.Builder
	b.WriteString("m")
	for _, p := range path {
		if p >= 0x80000000 {
			fmt.Fprintf(&b, "/%d'", p-0x80000000)
		} else {
			fmt.Fprintf(&b, "/%d", p)
		}
	}
	return b.String()
}

// Input is one input as the summary shows it.
type Input struct {
	Outpoint wire.OutPoint
	Amount   int64 // 0 when unknown
	AmountKnown,
	Verified bool // amount and script cross-checked
	ScriptType string
	Script     []byte
	Origins    []KeyOrigin
	Sighash    txscript.SigHashType // 0 when not set
	Signed     bool
}

// Output is one output as the summary shows it.
type Output struct {
	Address       string // empty when the script has no address form
	Script        []byte
	Amount        int64
	ClaimedChange bool // the PSBT says it is ours (BIP32 origin present); unverified here
	Origins       []KeyOrigin
}

// Summary is what a PSBT would do.
type Summary struct {
	Network     string
	Inputs      []Input
	Outputs     []Output
	InputTotal  int64
	OutputTotal int64
	Fee         int64 // valid when FeeKnown
	FeeKnown    bool
	FeeVerified bool  // every input amount was cross-checked
	VSize       int64 // estimated size of the signed transaction
	Warnings    []string
	Complete    bool // every input signed or finalized
}

// FeeRate is the fee in sat/vB, rounded down.
func (s *Summary) FeeRate() float64 {
	if !s.FeeKnown || s.VSize == 0 {
		return 0
	}
	return float64(s.Fee) / float64(s.VSize)
}

// Summarize checks a PSBT's UTXO data and describes it for net.
func Summarize(p *btcpsbt.Packet, net *chaincfg.Params) (*Summary, error) {
	tx := p.UnsignedTx
	if tx == nil || len(p.Inputs) != len(tx.TxIn) || len(p.Outputs) != len(tx.TxOut) {
		return nil, fmt.Errorf("%w: input or output maps do not match the transaction", ErrMalformed)
	}
	s := &Summary{Network: net.Name, FeeKnown: true, FeeVerified: true, Complete: true}
	vbytes4 := int64(4*(4+4) + 2) // version, locktime, segwit marker+flag (weight units)
	vbytes4 += 4 * int64(wire.VarIntSerializeSize(uint64(len(tx.TxIn)))+wire.VarIntSerializeSize(uint64(len(tx.TxOut))))
	for i, txin := range tx.TxIn {
		pin := &p.Inputs[i]
		in := Input{Outpoint: txin.PreviousOutPoint, Sighash: pin.SighashType}
		prev, verified, err := inputUTXO(i, txin, pin)
		if err != nil {
			return nil, err
		}
		if prev != nil {
			in.Amount, in.AmountKnown, in.Script = prev.Value, true, prev.PkScript
			in.ScriptType = scriptType(prev.PkScript, pin)
		} else {
			in.ScriptType = "unknown"
			s.FeeKnown = false
			s.Warnings = append(s.Warnings, fmt.Sprintf("input %d (%s) carries no UTXO data: its amount, and so the fee, is unknown", i, txin.PreviousOutPoint))
		}
		in.Verified = verified || (prev != nil && in.ScriptType == "p2tr")
		if prev != nil && !in.Verified {
			s.FeeVerified = false
			s.Warnings = append(s.Warnings, fmt.Sprintf("input %d (%s, %s) has only a witness UTXO: its amount cannot be cross-checked without the full previous transaction", i, txin.PreviousOutPoint, in.ScriptType))
		}
		for _, d := range pin.Bip32Derivation {
			in.Origins = append(in.Origins, KeyOrigin{Fingerprint: d.MasterKeyFingerprint, Path: d.Bip32Path, PubKey: d.PubKey})
		}
		for _, d := range pin.TaprootBip32Derivation {
			in.Origins = append(in.Origins, KeyOrigin{Fingerprint: d.MasterKeyFingerprint, Path: d.Bip32Path, PubKey: d.XOnlyPubKey})
		}
		in.Signed = len(pin.PartialSigs) > 0 || len(pin.TaprootKeySpendSig) > 0 || len(pin.FinalScriptWitness) > 0 || len(pin.FinalScriptSig) > 0
		if len(pin.FinalScriptWitness) == 0 && len(pin.FinalScriptSig) == 0 {
			s.Complete = false
		}
		s.InputTotal += in.Amount
		vbytes4 += inputWeight(in.ScriptType)
		s.Inputs = append(s.Inputs, in)
	}
	for i, txout := range tx.TxOut {
		pout := &p.Outputs[i]
		out := Output{Script: txout.PkScript, Amount: txout.Value}
		if txout.Value < 0 || txout.Value > amount.MaxSat {
			return nil, fmt.Errorf("%w: output %d amount %d", ErrMalformed, i, txout.Value)
		}
		_, addrs, _, err := txscript.ExtractPkScriptAddrs(txout.PkScript, net)
		if err == nil && len(addrs) == 1 && txscript.GetScriptClass(txout.PkScript) != txscript.NonStandardTy {
			out.Address = addrs[0].EncodeAddress()
		} else {
			s.Warnings = append(s.Warnings, fmt.Sprintf("output %d pays a script with no address form: %x", i, txout.PkScript))
		}
		for _, d := range pout.Bip32Derivation {
			out.Origins = append(out.Origins, KeyOrigin{Fingerprint: d.MasterKeyFingerprint, Path: d.Bip32Path, PubKey: d.PubKey})
		}
		for _, d := range pout.TaprootBip32Derivation {
			out.Origins = append(out.Origins, KeyOrigin{Fingerprint: d.MasterKeyFingerprint, Path: d.Bip32Path, PubKey: d.XOnlyPubKey})
		}
		out.ClaimedChange = len(out.Origins) > 0
		s.OutputTotal += txout.Value
		vbytes4 += 4 * int64(8+wire.VarIntSerializeSize(uint64(len(txout.PkScript)))+len(txout.PkScript))
		s.Outputs = append(s.Outputs, out)
	}
	if s.OutputTotal > amount.MaxSat {
		return nil, fmt.Errorf("%w: outputs total more than 21,000,000 BTC", ErrMalformed)
	}
	s.VSize = (vbytes4 + 3) / 4
	if s.FeeKnown {
		s.Fee = s.InputTotal - s.OutputTotal
		if s.Fee < 0 {
			return nil, fmt.Errorf("%w: outputs (%d sat) exceed inputs (%d sat)", ErrMalformed, s.OutputTotal, s.InputTotal)
		}
	} else {
		s.FeeVerified = false
	}
	return s, nil
}

// inputUTXO returns the output an input spends, and whether its amount and
// script were cross-checked against the full previous transaction.
func inputUTXO(i int, txin *wire.TxIn, pin *btcpsbt.PInput) (*wire.TxOut, bool, error) {
	op := txin.PreviousOutPoint
	if pin.NonWitnessUtxo != nil {
		if got := pin.NonWitnessUtxo.TxHash(); got != op.Hash {
			return nil, false, fmt.Errorf("%w: input %d: the previous transaction hashes to %s, not %s", ErrUTXOMismatch, i, got, op.Hash)
		}
		if int(op.Index) >= len(pin.NonWitnessUtxo.TxOut) {
			return nil, false, fmt.Errorf("%w: input %d: the previous transaction has no output %d", ErrUTXOMismatch, i, op.Index)
		}
		prev := pin.NonWitnessUtxo.TxOut[op.Index]
		if w := pin.WitnessUtxo; w != nil && (w.Value != prev.Value || !bytes.Equal(w.PkScript, prev.PkScript)) {
			return nil, false, fmt.Errorf("%w: input %d: the witness UTXO says %d sat but the previous transaction says %d sat (a fee attack, CVE-2020-14199)",
				ErrUTXOMismatch, i, w.Value, prev.Value)
		}
		return prev, true, nil
	}
	if pin.WitnessUtxo != nil {
		return pin.WitnessUtxo, false, nil
	}
	return nil, false, nil
}

func scriptType(script []byte, pin *btcpsbt.PInput) string {
	switch txscript.GetScriptClass(script) {
	case txscript.WitnessV0PubKeyHashTy:
		return "p2wpkh"
	case txscript.WitnessV1TaprootTy:
		return "p2tr"
	case txscript.WitnessV0ScriptHashTy:
		return "p2wsh"
	case txscript.PubKeyHashTy:
		return "p2pkh"
	case txscript.ScriptHashTy:
		if len(pin.RedeemScript) == 22 && pin.RedeemScript[0] == 0 && pin.RedeemScript[1] == 20 {
			return "p2sh-p2wpkh"
		}
		return "p2sh"
	}
	return "unknown"
}

// inputWeight estimates a signed input's weight (outpoint, sequence,
// scriptSig, witness) by script type.
func inputWeight(t string) int64 {
	const base = 4 * (32 + 4 + 4 + 1) // outpoint, sequence, empty scriptSig length
	switch t {
	case "p2wpkh":
		return base + 1 + 1 + 73 + 1 + 33 // 272 WU = 68 vB
	case "p2tr":
		return base + 1 + 1 + 65 // key path, with room for a sighash byte
	case "p2sh-p2wpkh":
		return base + 4*23 + 1 + 1 + 73 + 1 + 33
	case "p2pkh":
		return base + 4*(1+73+1+33)
	}
	return base + 4*110 // unknown: a conservative guess, flagged by the caller's warnings
}

// Text renders the summary for a person to review before signing.
func (s *Summary) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "PSBT on %s: %d input(s), %d output(s)\n\n", s.Network, len(s.Inputs), len(s.Outputs))
	b.WriteString("Inputs\n")
	for i, in := range s.Inputs {
		amt := "amount unknown"
		if in.AmountKnown {
			amt = btcAndSat(in.Amount)
			if !in.Verified {
				amt += " (NOT VERIFIED)"
			}
		}
		fmt.Fprintf(&b, "  #%d %s:%d  %s  %s\n", i, in.Outpoint.Hash, in.Outpoint.Index, in.ScriptType, amt)
		for _, o := range in.Origins {
			fmt.Fprintf(&b, "       key [%s] %s\n", o.FingerprintHex(), o.PathString())
		}
		if in.Signed {
			b.WriteString("       already signed\n")
		}
	}
	b.WriteString("\nOutputs\n")
	for i, out := range s.Outputs {
		dest := out.Address
		if dest == "" {
			dest = fmt.Sprintf("script %x", out.Script)
		}
		tag := ""
		if out.ClaimedChange {
			tag = "  (claims to be ours: " + out.Origins[0].PathString() + ")"
		}
		fmt.Fprintf(&b, "  #%d %s  %s%s\n", i, dest, btcAndSat(out.Amount), tag)
	}
	b.WriteString("\n")
	if s.FeeKnown {
		fmt.Fprintf(&b, "Fee      %s, about %.1f sat/vB for ~%d vB\n", btcAndSat(s.Fee), s.FeeRate(), s.VSize)
	} else {
		b.WriteString("Fee      UNKNOWN: some input amounts are missing\n")
	}
	if !s.FeeVerified {
		b.WriteString("         the fee could not be verified\n")
	}
	for _, w := range s.Warnings {
		fmt.Fprintf(&b, "WARNING  %s\n", w)
	}
	return b.String()
}

func btcAndSat(sat int64) string {
	return fmt.Sprintf("%s BTC (%d sat)", amount.FormatBTC(sat), sat)
}

// Address returns an output's address on net, if it has one.
func Address(script []byte, net *chaincfg.Params) (btcutil.Address, error) {
	_, addrs, _, err := txscript.ExtractPkScriptAddrs(script, net)
	if err != nil || len(addrs) != 1 {
		return nil, fmt.Errorf("script %x has no single address", script)
	}
	return addrs[0], nil
}
