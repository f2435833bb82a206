package psbt

import (
	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
)

// The signed transaction's size is estimated in weight units (WU): a byte
// outside the witness weighs 4, a witness byte 1, and vsize = ceil(WU/4).
//
// Version, locktime, the counts and every output are taken from the
// unsigned transaction exactly. A finalized input is sized exactly from its
// final scriptSig and witness. Any other input is sized by the script it
// spends, for the usual single-key spend: a 72-byte ECDSA signature (the
// largest low-S DER signature with its sighash byte), a 33-byte compressed
// key, a 64-byte Schnorr signature (65 with an explicit sighash):
//
//	p2pkh        scriptSig <sig> <key> (107 B)             148 vB
//	p2sh-p2wpkh  scriptSig <22-byte redeem script>, witness  91 vB
//	p2wpkh       witness <sig> <key> (108 WU)               68 vB
//	p2tr         key path, witness <sig> (66 WU)            57.5 vB
//
// A segwit transaction adds 2 WU for the marker and flag, and 1 WU for the
// empty witness of each non-segwit input. Other inputs (p2sh, p2wsh, a
// taproot script path, unknown scripts) depend on a spending script the
// PSBT may not show: only their fixed 41 bytes are counted and a warning
// says the fee rate is overstated. ECDSA signatures are sometimes a byte
// shorter, so an estimate may exceed the final size by a vbyte or so.
const (
	txInFixedSize = 32 + 4 + 4 // outpoint, sequence; scriptSig length added
	ecdsaSigPush  = 1 + 72
	pubKeyPush    = 1 + 33
	p2wpkhWitness = 1 + ecdsaSigPush + pubKeyPush // item count, sig, key
)

// inputWeight returns the estimated weight of input i and whether it has a
// witness; ok is false when its spending script cannot be known.
func inputWeight(t ScriptType, pin *btcpsbt.PInput) (weight int64, segwit, ok bool) {
	if len(pin.FinalScriptSig) > 0 || len(pin.FinalScriptWitness) > 0 {
		nonWitness := txInFixedSize + wire.VarIntSerializeSize(uint64(len(pin.FinalScriptSig))) + len(pin.FinalScriptSig)
		// FinalScriptWitness is already serialized: item count and items.
		return int64(4*nonWitness + len(pin.FinalScriptWitness)), len(pin.FinalScriptWitness) > 0, true
	}
	withScriptSig := func(scriptSigLen int) int64 {
		return int64(4 * (txInFixedSize + wire.VarIntSerializeSize(uint64(scriptSigLen)) + scriptSigLen))
	}
	switch t {
	case P2PKH:
		return withScriptSig(ecdsaSigPush + pubKeyPush), false, true
	case P2SHP2WPKH:
		return withScriptSig(1+22) + p2wpkhWitness, true, true
	case P2WPKH:
		return withScriptSig(0) + p2wpkhWitness, true, true
	case P2TR:
		if len(pin.TaprootLeafScript) > 0 && len(pin.TaprootKeySpendSig) == 0 {
			break // may be spent by a script path of unknown size
		}
		sig := int64(64)
		if pin.SighashType != txscript.SigHashDefault {
			sig++
		}
		return withScriptSig(0) + 1 + 1 + sig, true, true
	}
	return withScriptSig(0), false, false
}

// estimateVSize estimates the signed transaction's vsize; the inputs must
// already be summarized.
func (s *Summary) estimateVSize(p *btcpsbt.Packet) int64 {
	tx := p.UnsignedTx
	weight := int64(4 * (4 + 4 + // version, locktime
		wire.VarIntSerializeSize(uint64(len(tx.TxIn))) +
		wire.VarIntSerializeSize(uint64(len(tx.TxOut)))))
	for _, out := range tx.TxOut {
		weight += int64(4 * (8 + wire.VarIntSerializeSize(uint64(len(out.PkScript))) + len(out.PkScript)))
	}
	var segwit bool
	var nonSegwitInputs int64
	for i, in := range s.Inputs {
		w, hasWitness, ok := inputWeight(in.ScriptType, &p.Inputs[i])
		if !ok {
			s.warn("the size of input %d (%s) cannot be estimated, so the size shown is too small and the fee rate too high", i, in.ScriptType)
		}
		weight += w
		if hasWitness {
			segwit = true
		} else {
			nonSegwitInputs++
		}
	}
	if segwit {
		weight += 2 + nonSegwitInputs
	}
	return (weight + 3) / 4
}
