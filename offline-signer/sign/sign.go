package sign

import (
	"bytes"
	"errors"
	"fmt"

	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/offline-signer/policy"
	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
	"github.com/cryptoassets/cryptoassets/shared/psbt"
)

// Refusals the signer makes itself (policy refusals are *policy.Refusal).
var (
	ErrNoInputOfOurs     = errors.New("no input of this PSBT belongs to this signer's keys")
	ErrNotOurs           = errors.New("an input does not belong to this signer's keys")
	ErrAlreadySigned     = errors.New("the PSBT is already fully signed")
	ErrChangeMismatch    = errors.New("an output claims to be our change but pays another script (substituted change)")
	ErrUnverifiedAmount  = errors.New("an input's amount cannot be verified: the PSBT lacks its previous transaction")
	ErrUnsupportedScript = errors.New("an input's script type cannot be signed here")
)

// Signer signs with one seed under one policy.
type Signer struct {
	Master *hdkeys.Master
	Policy *policy.Policy
}

// Review is what Review found: the summary to show a person and what to sign.
type Review struct {
	Summary *psbt.Summary
	paths   [][]uint32 // per input: our derivation path
	prev    []*wire.TxOut
	Change  []bool // per output: verified change
	Moved   int64  // what leaves the wallet (outputs that are not our change)
}

// ourPath returns the path of the derivation with our fingerprint.
func (s *Signer) ourPath(bip32 []*btcpsbt.Bip32Derivation, tap []*btcpsbt.TaprootBip32Derivation) ([]uint32, []byte) {
	fp := s.Master.Fingerprint()
	for _, d := range bip32 {
		if d.MasterKeyFingerprint == fp {
			return d.Bip32Path, d.PubKey
		}
	}
	for _, d := range tap {
		if d.MasterKeyFingerprint == fp {
			return d.Bip32Path, d.XOnlyPubKey
		}
	}
	return nil, nil
}

// otherPath returns a derivation path with another fingerprint (the hot
// wallet's, when the online side states it).
func (s *Signer) otherPath(bip32 []*btcpsbt.Bip32Derivation, tap []*btcpsbt.TaprootBip32Derivation) []uint32 {
	fp := s.Master.Fingerprint()
	for _, d := range bip32 {
		if d.MasterKeyFingerprint != fp {
			return d.Bip32Path
		}
	}
	for _, d := range tap {
		if d.MasterKeyFingerprint != fp {
			return d.Bip32Path
		}
	}
	return nil
}

func pubKeyMatches(d *hdkeys.Derived, claimed []byte) bool {
	if len(claimed) == 32 {
		return bytes.Equal(d.TaprootInternalKey, claimed)
	}
	return bytes.Equal(d.PubKey.SerializeCompressed(), claimed)
}

// Review runs every check. It changes nothing.
func (s *Signer) Review(p *btcpsbt.Packet) (*Review, error) {
	sum, err := psbt.Summarize(p, s.Policy.Params())
	if err != nil {
		return nil, err
	}
	if fullySigned(p) {
		return nil, ErrAlreadySigned
	}
	r := &Review{Summary: sum, paths: make([][]uint32, len(p.Inputs)), prev: make([]*wire.TxOut, len(p.Inputs)), Change: make([]bool, len(p.Outputs))}
	ours := 0
	var notOurs []int
	for i := range p.Inputs {
		in := &p.Inputs[i]
		path, claimed := s.ourPath(in.Bip32Derivation, in.TaprootBip32Derivation)
		if path == nil {
			notOurs = append(notOurs, i)
			continue
		}
		d, err := s.Master.DerivePath(path)
		if err != nil {
			return nil, fmt.Errorf("input %d: %w", i, err)
		}
		si := sum.Inputs[i]
		prevScript := spentScript(p, i)
		if !si.AmountKnown || !bytes.Equal(d.PkScript, prevScript) || !pubKeyMatches(d, claimed) {
			return nil, fmt.Errorf("%w: input %d claims our key at %s, but that key does not own its script", ErrNotOurs, i, hdkeys.KeyOrigin{Path: path}.PathString())
		}
		if !si.AmountVerified {
			return nil, fmt.Errorf("%w: input %d (%s); ask the online side to include it (non_witness_utxo)", ErrUnverifiedAmount, i, si.ScriptType)
		}
		if err := s.Policy.Sighash(uint32(in.SighashType), si.ScriptType == psbt.P2TR); err != nil {
			return nil, fmt.Errorf("input %d: %w", i, err)
		}
		r.paths[i] = path
		r.prev[i] = wire.NewTxOut(si.Amount, prevScript)
		ours++
	}
	if ours == 0 {
		return nil, ErrNoInputOfOurs
	}
	if len(notOurs) > 0 {
		return nil, fmt.Errorf("%w: input %d; this signer signs only transactions spending its own coins", ErrNotOurs, notOurs[0])
	}
	for i := range p.Outputs {
		out := &p.Outputs[i]
		script := p.UnsignedTx.TxOut[i].PkScript
		if path, claimed := s.ourPath(out.Bip32Derivation, out.TaprootBip32Derivation); path != nil {
			d, err := s.Master.DerivePath(path)
			if err != nil {
				return nil, fmt.Errorf("output %d: %w", i, err)
			}
			if !bytes.Equal(d.PkScript, script) || !pubKeyMatches(d, claimed) {
				return nil, fmt.Errorf("%w: output %d says %s", ErrChangeMismatch, i, hdkeys.KeyOrigin{Path: path}.PathString())
			}
			r.Change[i] = true
			continue
		}
		if err := s.Policy.Destination(script, s.otherPath(out.Bip32Derivation, out.TaprootBip32Derivation)); err != nil {
			return nil, fmt.Errorf("output %d: %w", i, err)
		}
		r.Moved += p.UnsignedTx.TxOut[i].Value
	}
	if err := s.Policy.Fee(sum.Fee, sum.EstimatedVSize, r.Moved); err != nil {
		return nil, err
	}
	return r, nil
}

// Sign signs every input Review approved, finalizes what is complete, and
// checks each finalized input with the script engine. It reports whether
// the transaction is complete.
func (s *Signer) Sign(p *btcpsbt.Packet, r *Review) (bool, error) {
	fetcher := txscript.NewMultiPrevOutFetcher(nil)
	for i, txin := range p.UnsignedTx.TxIn {
		fetcher.AddPrevOut(txin.PreviousOutPoint, r.prev[i])
	}
	hashes := txscript.NewTxSigHashes(p.UnsignedTx, fetcher)
	u, err := btcpsbt.NewUpdater(p)
	if err != nil {
		return false, err
	}
	for i, path := range r.paths {
		if path == nil {
			continue
		}
		key, err := s.Master.PrivKey(path)
		if err != nil {
			return false, err
		}
		prev := r.prev[i]
		switch r.Summary.Inputs[i].ScriptType {
		case psbt.P2WPKH:
			sig, err := txscript.RawTxInWitnessSignature(p.UnsignedTx, hashes, i, prev.Value, prev.PkScript, txscript.SigHashAll, key)
			if err != nil {
				return false, err
			}
			if outcome, err := u.Sign(i, sig, key.PubKey().SerializeCompressed(), nil, nil); err != nil || outcome != btcpsbt.SignSuccesful {
				return false, fmt.Errorf("input %d: adding the signature: %v (outcome %d)", i, err, outcome)
			}
		case psbt.P2TR:
			hashType := txscript.SigHashDefault
			if t := p.Inputs[i].SighashType; t != 0 {
				hashType = t
			}
			sig, err := txscript.RawTxInTaprootSignature(p.UnsignedTx, hashes, i, prev.Value, prev.PkScript, nil, hashType, key)
			if err != nil {
				return false, err
			}
			p.Inputs[i].TaprootKeySpendSig = sig
		default:
			return false, fmt.Errorf("%w: input %d is %s", ErrUnsupportedScript, i, r.Summary.Inputs[i].ScriptType)
		}
		key.Zero()
	}
	if err := btcpsbt.MaybeFinalizeAll(p); err != nil {
		return false, fmt.Errorf("finalizing: %w", err)
	}
	if !p.IsComplete() {
		return false, nil
	}
	tx, err := btcpsbt.Extract(p)
	if err != nil {
		return false, err
	}
	for i := range tx.TxIn {
		vm, err := txscript.NewEngine(r.prev[i].PkScript, tx, i, txscript.StandardVerifyFlags, nil, hashes, r.prev[i].Value, fetcher)
		if err != nil {
			return false, err
		}
		if err := vm.Execute(); err != nil {
			return false, fmt.Errorf("input %d fails its own script check after signing: %w", i, err)
		}
	}
	return true, nil
}

// spentScript is the script an input spends, from its UTXO data (which
// Summarize has already checked for consistency).
func spentScript(p *btcpsbt.Packet, i int) []byte {
	in := &p.Inputs[i]
	if in.NonWitnessUtxo != nil {
		idx := p.UnsignedTx.TxIn[i].PreviousOutPoint.Index
		if int(idx) < len(in.NonWitnessUtxo.TxOut) {
			return in.NonWitnessUtxo.TxOut[idx].PkScript
		}
	}
	if in.WitnessUtxo != nil {
		return in.WitnessUtxo.PkScript
	}
	return nil
}

// fullySigned reports whether every input already carries a signature or
// a final script.
func fullySigned(p *btcpsbt.Packet) bool {
	for _, in := range p.Inputs {
		if len(in.FinalScriptWitness) == 0 && len(in.FinalScriptSig) == 0 && len(in.PartialSigs) == 0 && len(in.TaprootKeySpendSig) == 0 {
			return false
		}
	}
	return true
}
