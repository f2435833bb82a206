package psbt

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/btcutil"
	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/shared/amount"
	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
)

// Errors Summarize returns besides ErrMalformed.
var (
	// ErrUTXOMismatch means an input's UTXO data contradicts the transaction
	// or itself: the previous transaction does not hash to the outpoint,
	// lacks the spent output, or disagrees with witness_utxo. Signing such a
	// PSBT could pay a fee nobody was shown (CVE-2020-14199).
	ErrUTXOMismatch = errors.New("PSBT UTXO data does not match the transaction")
	// ErrNegativeFee means the outputs add up to more than the inputs.
	ErrNegativeFee = errors.New("PSBT outputs spend more than its inputs")
)

// ScriptType names the kind of script an input spends or an output pays.
type ScriptType string

// Script types Summarize recognises.
const (
	P2PKH         ScriptType = "p2pkh"
	P2SH          ScriptType = "p2sh" // redeem script unknown or not a segwit program
	P2SHP2WPKH    ScriptType = "p2sh-p2wpkh"
	P2SHP2WSH     ScriptType = "p2sh-p2wsh"
	P2WPKH        ScriptType = "p2wpkh"
	P2WSH         ScriptType = "p2wsh"
	P2TR          ScriptType = "p2tr"
	UnknownScript ScriptType = "unknown"
)

// KeyOrigin is a key the PSBT says belongs to a wallet, and where the PSBT
// says it was derived. Nothing here is verified: the signer re-derives.
type KeyOrigin struct {
	hdkeys.KeyOrigin        // master fingerprint and path (FingerprintHex, PathString)
	PubKey           []byte // 33-byte compressed key, or 32-byte x-only key for taproot
}

// Input is one input as a person reviews it.
type Input struct {
	OutPoint wire.OutPoint
	// Amount in satoshis; 0 when AmountKnown is false.
	Amount      int64
	AmountKnown bool
	// AmountVerified: the amount is backed by the full previous transaction,
	// or committed to by a taproot signature (see the package doc).
	AmountVerified bool
	// AmountFromPrevTx: the amount and script come from the full previous
	// transaction, checked against the outpoint. A taproot input without
	// it is AmountVerified but not AmountFromPrevTx: its amount is claimed,
	// and only the signature's commitment makes a false claim harmless.
	AmountFromPrevTx bool
	// Sequence is the input's nSequence as the transaction carries it.
	Sequence   uint32
	ScriptType ScriptType
	KeyOrigins []KeyOrigin
	// SighashType as the PSBT requests it; 0 when not set (ALL for
	// segwit v0, DEFAULT for taproot).
	SighashType txscript.SigHashType
	// Signed: a partial signature, taproot signature or final script is
	// already present.
	Signed bool
	// Finalized: a final scriptSig or witness is present.
	Finalized bool
	// PartialSigKeys are the public keys of the partial signatures present.
	PartialSigKeys [][]byte
	// TaprootSigned: a taproot key-path or script-path signature is present.
	TaprootSigned bool
}

// Output is one output as a person reviews it.
type Output struct {
	// Address on the summary's network; empty when the script has none.
	Address    string
	Script     []byte
	ScriptType ScriptType
	Amount     int64 // satoshis
	// ClaimedChange: the PSBT carries a key origin for this output, so it
	// claims the output pays back to a wallet. Claimed only: the signer
	// must re-derive the script from its own keys before trusting it.
	ClaimedChange bool
	KeyOrigins    []KeyOrigin
	// Label says whose the output is once someone with the keys and the
	// policy has checked it ("our change …", "hot wallet …"); empty from
	// Summarize, which cannot know.
	Label string
}

// Summary is what a PSBT would do if signed, for a person to review.
// Amounts are satoshis.
type Summary struct {
	Network  string // chaincfg name, e.g. "mainnet", "regtest"
	TxID     chainhash.Hash
	Version  int32
	LockTime uint32
	Inputs   []Input
	Outputs  []Output

	TotalIn  int64 // sum of the known input amounts
	TotalOut int64
	// Fee is TotalIn - TotalOut, valid only when FeeKnown (every input's
	// amount is known). FeeVerified: every input amount is verified.
	Fee         int64
	FeeKnown    bool
	FeeVerified bool

	// EstimatedVSize of the signed transaction in vbytes (see vsize.go for
	// the assumptions); FeeRateSatPerKvB is Fee per 1000 vbytes (so
	// 1500 means 1.5 sat/vB), 0 when the fee is unknown.
	EstimatedVSize   int64
	FeeRateSatPerKvB int64

	// Warnings a person must read before signing.
	Warnings []string
}

// Summarize checks p's UTXO data and describes p with addresses for net.
// It fails with ErrUTXOMismatch when UTXO data contradicts itself, with
// ErrNegativeFee when outputs exceed inputs, and with ErrMalformed for a
// packet that does not hang together (amounts out of range, map counts).
func Summarize(p *btcpsbt.Packet, net *chaincfg.Params) (*Summary, error) {
	if net == nil {
		return nil, errors.New("summarize PSBT: no network given")
	}
	if p == nil || p.UnsignedTx == nil {
		return nil, fmt.Errorf("%w: no unsigned transaction", ErrMalformed)
	}
	tx := p.UnsignedTx
	if len(p.Inputs) != len(tx.TxIn) || len(p.Outputs) != len(tx.TxOut) {
		return nil, fmt.Errorf("%w: %d input and %d output maps for a transaction with %d inputs and %d outputs",
			ErrMalformed, len(p.Inputs), len(p.Outputs), len(tx.TxIn), len(tx.TxOut))
	}
	s := &Summary{
		Network:     net.Name,
		TxID:        tx.TxHash(),
		Version:     tx.Version,
		LockTime:    tx.LockTime,
		FeeKnown:    true,
		FeeVerified: true,
	}
	spent := make(map[wire.OutPoint]int, len(tx.TxIn))
	for i, txIn := range tx.TxIn {
		if j, dup := spent[txIn.PreviousOutPoint]; dup {
			return nil, fmt.Errorf("%w: the transaction spends the same coin twice: inputs %d and %d both spend %s",
				ErrMalformed, j, i, txIn.PreviousOutPoint)
		}
		spent[txIn.PreviousOutPoint] = i
	}
	for i := range tx.TxIn {
		in, err := s.addInput(i, tx.TxIn[i], &p.Inputs[i])
		if err != nil {
			return nil, err
		}
		s.Inputs = append(s.Inputs, in)
	}
	for i, txOut := range tx.TxOut {
		out, err := s.addOutput(i, txOut, &p.Outputs[i], net)
		if err != nil {
			return nil, err
		}
		s.Outputs = append(s.Outputs, out)
	}

	s.EstimatedVSize = s.estimateVSize(p)
	if !s.FeeKnown {
		s.FeeVerified = false
		return s, nil
	}
	s.Fee = s.TotalIn - s.TotalOut
	if s.Fee < 0 {
		return nil, fmt.Errorf("%w: outputs total %s BTC but inputs only %s BTC",
			ErrNegativeFee, amount.FormatBTC(s.TotalOut), amount.FormatBTC(s.TotalIn))
	}
	// Fee ≤ 21e14 sat, so Fee*1000 cannot overflow.
	s.FeeRateSatPerKvB = s.Fee * 1000 / s.EstimatedVSize
	return s, nil
}

// addInput describes input i and adds its amount to the totals.
func (s *Summary) addInput(i int, txIn *wire.TxIn, pin *btcpsbt.PInput) (Input, error) {
	in := Input{
		OutPoint:      txIn.PreviousOutPoint,
		ScriptType:    UnknownScript,
		Sequence:      txIn.Sequence,
		SighashType:   pin.SighashType,
		Finalized:     len(pin.FinalScriptSig) > 0 || len(pin.FinalScriptWitness) > 0,
		TaprootSigned: len(pin.TaprootKeySpendSig) > 0 || len(pin.TaprootScriptSpendSig) > 0,
	}
	for _, ps := range pin.PartialSigs {
		in.PartialSigKeys = append(in.PartialSigKeys, append([]byte(nil), ps.PubKey...))
	}
	in.Signed = in.Finalized || in.TaprootSigned || len(in.PartialSigKeys) > 0
	for _, d := range pin.Bip32Derivation {
		in.KeyOrigins = append(in.KeyOrigins, origin(d.MasterKeyFingerprint, d.Bip32Path, d.PubKey))
	}
	for _, d := range pin.TaprootBip32Derivation {
		in.KeyOrigins = append(in.KeyOrigins, origin(d.MasterKeyFingerprint, d.Bip32Path, d.XOnlyPubKey))
	}
	if t := pin.SighashType; t != 0 && t != txscript.SigHashAll {
		s.warn("input %d asks to be signed with sighash %s: others could change the transaction after it is signed", i, sighashName(t))
	}

	utxo, fromPrevTx, err := spentOutput(i, txIn, pin)
	if err != nil {
		return in, err
	}
	if utxo == nil {
		s.FeeKnown = false
		s.warn("input %d (%s) carries no UTXO data: its amount, and so the fee, is unknown", i, txIn.PreviousOutPoint)
		return in, nil
	}
	if utxo.Value < 0 || utxo.Value > btcutil.MaxSatoshi {
		return in, fmt.Errorf("%w: input %d spends an amount of %d satoshis, outside 0 to 21 million BTC", ErrMalformed, i, utxo.Value)
	}
	in.Amount, in.AmountKnown = utxo.Value, true
	in.ScriptType = inputScriptType(utxo.PkScript, pin.RedeemScript)
	if len(pin.RedeemScript) > 0 && !redeemScriptMatches(utxo.PkScript, pin.RedeemScript) {
		s.warn("input %d: its redeem script does not match the output it spends", i)
	}
	// See the package doc: a taproot signature commits to the amount.
	in.AmountVerified = fromPrevTx || in.ScriptType == P2TR
	in.AmountFromPrevTx = fromPrevTx
	if !in.AmountVerified {
		s.FeeVerified = false
		s.warn("input %d (%s, %s) carries only witness_utxo: its amount of %s BTC cannot be verified without the full previous transaction (non_witness_utxo)",
			i, txIn.PreviousOutPoint, in.ScriptType, amount.FormatBTC(in.Amount))
	}
	s.TotalIn += in.Amount
	if s.TotalIn > btcutil.MaxSatoshi {
		return in, fmt.Errorf("%w: inputs total more than 21 million BTC", ErrMalformed)
	}
	return in, nil
}

// spentOutput returns the output input i spends, and whether it was taken
// from the full previous transaction after cross-checking it.
func spentOutput(i int, txIn *wire.TxIn, pin *btcpsbt.PInput) (*wire.TxOut, bool, error) {
	op := txIn.PreviousOutPoint
	if prevTx := pin.NonWitnessUtxo; prevTx != nil {
		if got := prevTx.TxHash(); got != op.Hash {
			return nil, false, fmt.Errorf("%w: input %d spends %s but its non_witness_utxo is transaction %s", ErrUTXOMismatch, i, op, got)
		}
		if uint64(op.Index) >= uint64(len(prevTx.TxOut)) {
			return nil, false, fmt.Errorf("%w: input %d spends output %d of %s, which has only %d outputs",
				ErrUTXOMismatch, i, op.Index, op.Hash, len(prevTx.TxOut))
		}
		prev := prevTx.TxOut[op.Index]
		if w := pin.WitnessUtxo; w != nil && (w.Value != prev.Value || !bytes.Equal(w.PkScript, prev.PkScript)) {
			return nil, false, fmt.Errorf("%w: input %d: witness_utxo says %d sat to script %x, the previous transaction says %d sat to script %x (the CVE-2020-14199 fee attack)",
				ErrUTXOMismatch, i, w.Value, w.PkScript, prev.Value, prev.PkScript)
		}
		return prev, true, nil
	}
	return pin.WitnessUtxo, false, nil
}

// addOutput describes output i and adds its amount to the totals.
func (s *Summary) addOutput(i int, txOut *wire.TxOut, pout *btcpsbt.POutput, net *chaincfg.Params) (Output, error) {
	if txOut.Value < 0 || txOut.Value > btcutil.MaxSatoshi {
		return Output{}, fmt.Errorf("%w: output %d pays %d satoshis, outside 0 to 21 million BTC", ErrMalformed, i, txOut.Value)
	}
	out := Output{
		Script:     txOut.PkScript,
		ScriptType: outputScriptType(txOut.PkScript),
		Amount:     txOut.Value,
	}
	out.Address = address(txOut.PkScript, out.ScriptType, net)
	if out.Address == "" {
		s.warn("output %d pays %s BTC to a script with no address: %x", i, amount.FormatBTC(txOut.Value), txOut.PkScript)
	}
	for _, d := range pout.Bip32Derivation {
		out.KeyOrigins = append(out.KeyOrigins, origin(d.MasterKeyFingerprint, d.Bip32Path, d.PubKey))
	}
	for _, d := range pout.TaprootBip32Derivation {
		out.KeyOrigins = append(out.KeyOrigins, origin(d.MasterKeyFingerprint, d.Bip32Path, d.XOnlyPubKey))
	}
	out.ClaimedChange = len(out.KeyOrigins) > 0
	s.TotalOut += txOut.Value
	if s.TotalOut > btcutil.MaxSatoshi {
		return out, fmt.Errorf("%w: outputs total more than 21 million BTC", ErrMalformed)
	}
	return out, nil
}

func (s *Summary) warn(format string, args ...any) {
	s.Warnings = append(s.Warnings, fmt.Sprintf(format, args...))
}

func origin(fingerprint uint32, path []uint32, pubKey []byte) KeyOrigin {
	return KeyOrigin{
		KeyOrigin: hdkeys.KeyOrigin{Fingerprint: fingerprint, Path: append([]uint32(nil), path...)},
		PubKey:    append([]byte(nil), pubKey...),
	}
}

// outputScriptType classifies a scriptPubKey; P2SH cannot be looked into.
func outputScriptType(script []byte) ScriptType {
	switch {
	case txscript.IsPayToWitnessPubKeyHash(script):
		return P2WPKH
	case txscript.IsPayToTaproot(script):
		return P2TR
	case txscript.IsPayToWitnessScriptHash(script):
		return P2WSH
	case txscript.IsPayToPubKeyHash(script):
		return P2PKH
	case txscript.IsPayToScriptHash(script):
		return P2SH
	}
	return UnknownScript
}

// inputScriptType classifies the script an input spends, looking into a
// P2SH output only through a redeem script that hashes to it.
func inputScriptType(script, redeemScript []byte) ScriptType {
	t := outputScriptType(script)
	if !redeemScriptMatches(script, redeemScript) {
		return t
	}
	switch outputScriptType(redeemScript) {
	case P2WPKH:
		return P2SHP2WPKH
	case P2WSH:
		return P2SHP2WSH
	}
	return P2SH
}

// redeemScriptMatches reports whether script is P2SH paying to redeemScript.
func redeemScriptMatches(script, redeemScript []byte) bool {
	return txscript.IsPayToScriptHash(script) && bytes.Equal(btcutil.Hash160(redeemScript), script[2:22])
}

// address encodes an output script for net, for the script types that have
// an address; anything else (data, bare multisig, future witness versions)
// is shown as script hex.
func address(script []byte, t ScriptType, net *chaincfg.Params) string {
	if t == UnknownScript {
		return ""
	}
	_, addrs, _, err := txscript.ExtractPkScriptAddrs(script, net)
	if err != nil || len(addrs) != 1 {
		return ""
	}
	return addrs[0].EncodeAddress()
}

// sighashName spells a sighash type as BIP341 and Bitcoin Core do.
func sighashName(t txscript.SigHashType) string {
	base := map[txscript.SigHashType]string{
		txscript.SigHashDefault: "DEFAULT",
		txscript.SigHashAll:     "ALL",
		txscript.SigHashNone:    "NONE",
		txscript.SigHashSingle:  "SINGLE",
	}
	name, ok := base[t&^txscript.SigHashAnyOneCanPay]
	if !ok || t > 0xff || t == txscript.SigHashAnyOneCanPay {
		return fmt.Sprintf("%#x (non-standard)", uint32(t))
	}
	if t&txscript.SigHashAnyOneCanPay != 0 {
		name += "|ANYONECANPAY"
	}
	return name
}
