package sign

import (
	"bytes"
	"errors"
	"fmt"

	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/offline-signer/policy"
	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
	"github.com/cryptoassets/cryptoassets/shared/psbt"
	"github.com/cryptoassets/cryptoassets/shared/psbt/signer"
)

// Refusals the signer makes itself (policy refusals are *policy.Refusal).
var (
	ErrNoInputOfOurs     = errors.New("no input of this PSBT belongs to this signer's keys")
	ErrNotOurs           = errors.New("an input does not belong to this signer's keys")
	ErrAlreadySigned     = errors.New("the PSBT is already fully signed")
	ErrPartlySigned      = errors.New("an input of ours is already signed")
	ErrForeignSignature  = errors.New("an input carries another signer's partial signature")
	ErrChangeMismatch    = errors.New("an output claims to be our change but pays another script (substituted change)")
	ErrUnverifiedAmount  = errors.New("an input's amount cannot be verified: the PSBT lacks its previous transaction")
	ErrUnsupportedScript = signer.ErrUnsupportedScript
	ErrReviewUsed        = errors.New("this review has signed already or was wiped: review the PSBT again")
)

// Signer signs with one seed under one policy.
type Signer struct {
	Master *hdkeys.Master
	Policy *policy.Policy
}

// Review is what Review found: the summary to show a person and what to sign.
type Review struct {
	Summary *psbt.Summary
	paths   [][]uint32           // per input: our derivation path
	keys    []*hdkeys.SigningKey // per input: our key, derived once for the review and the signing
	prev    []*wire.TxOut
	Change  []bool // per output: verified change
	Moved   int64  // what leaves the wallet (outputs that are not our change)
	// Claimed lists the inputs whose amount and script come from the
	// PSBT's witness_utxo alone (taproot inputs without their previous
	// transaction): the script check after signing runs against them as
	// claimed. A false claim only makes the signature invalid.
	Claimed []int
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

// Wipe wipes the keys the review derived. Sign does it once it has signed;
// a caller that does not sign after a review calls it.
func (r *Review) Wipe() {
	for _, k := range r.keys {
		if k != nil {
			k.Zero()
		}
	}
	r.keys = nil
}

func pubKeyMatches(d *hdkeys.Derived, claimed []byte) bool {
	if len(claimed) == 32 {
		return bytes.Equal(d.TaprootInternalKey, claimed)
	}
	return bytes.Equal(d.PubKey.SerializeCompressed(), claimed)
}

// Review runs every check and labels each output of the summary with what
// it was found to be. It changes nothing else.
func (s *Signer) Review(p *btcpsbt.Packet) (*Review, error) {
	sum, err := psbt.Summarize(p, s.Policy.Params())
	if err != nil {
		return nil, err
	}
	// Finalizing drops the key origins, so a finalized PSBT is recognised
	// before ownership is checked.
	final := 0
	for _, in := range sum.Inputs {
		if in.Finalized || in.TaprootSigned {
			final++
		}
	}
	if final == len(sum.Inputs) {
		return nil, ErrAlreadySigned
	}
	r := &Review{Summary: sum, paths: make([][]uint32, len(p.Inputs)), prev: make([]*wire.TxOut, len(p.Inputs)), Change: make([]bool, len(p.Outputs))}
	// Every key is derived first, on every core; the checks then run in
	// input order, so the refusal is the same as one input at a time.
	paths, claims := make([][]uint32, len(p.Inputs)), make([][]byte, len(p.Inputs))
	for i := range p.Inputs {
		paths[i], claims[i] = s.ourPath(p.Inputs[i].Bip32Derivation, p.Inputs[i].TaprootBip32Derivation)
	}
	keys, keyErrs := signer.Keys(s.Master, paths)
	r.keys = keys
	approved := false
	defer func() {
		if !approved {
			r.Wipe()
		}
	}()
	ours, signed := 0, 0
	var notOurs []int
	var accounts [][]uint32
	for i := range p.Inputs {
		in := &p.Inputs[i]
		path, claimed := paths[i], claims[i]
		if path == nil {
			notOurs = append(notOurs, i)
			continue
		}
		if keyErrs[i] != nil {
			return nil, fmt.Errorf("input %d: %w", i, keyErrs[i])
		}
		d := keys[i].Derived
		si := sum.Inputs[i]
		prevScript := spentScript(p, i)
		if !si.AmountKnown || !bytes.Equal(d.PkScript, prevScript) || !pubKeyMatches(d, claimed) {
			return nil, fmt.Errorf("%w: input %d claims our key at %s, but that key does not own its script", ErrNotOurs, i, hdkeys.KeyOrigin{Path: path}.PathString())
		}
		// Our inputs are single-key: a partial signature by any other key
		// has no place in them, and one by ours means it is signed.
		for _, ps := range in.PartialSigs {
			if !bytes.Equal(ps.PubKey, d.PubKey.SerializeCompressed()) {
				return nil, fmt.Errorf("%w: input %d carries another signer's partial signature (key %x), which a single-key input of ours never needs",
					ErrForeignSignature, i, ps.PubKey)
			}
		}
		if si.Signed {
			signed++
		}
		if !si.AmountVerified {
			return nil, fmt.Errorf("%w: input %d (%s); ask the online side to include it (non_witness_utxo)", ErrUnverifiedAmount, i, si.ScriptType)
		}
		if !si.AmountFromPrevTx {
			r.Claimed = append(r.Claimed, i)
		}
		if err := s.Policy.Sighash(uint32(in.SighashType), si.ScriptType == psbt.P2TR); err != nil {
			return nil, fmt.Errorf("input %d: %w", i, err)
		}
		r.paths[i] = path
		r.prev[i] = wire.NewTxOut(si.Amount, prevScript)
		accounts = appendAccount(accounts, path[:3])
		ours++
	}
	if ours == 0 {
		return nil, ErrNoInputOfOurs
	}
	if len(notOurs) > 0 {
		return nil, fmt.Errorf("%w: input %d; this signer signs only transactions spending its own coins", ErrNotOurs, notOurs[0])
	}
	if signed == ours {
		return nil, ErrAlreadySigned
	}
	if signed > 0 {
		return nil, fmt.Errorf("%w: %d of %d inputs already carry a signature or final script; sign the unsigned PSBT instead", ErrPartlySigned, signed, ours)
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
			if err := s.Policy.Change(path, accounts); err != nil {
				return nil, fmt.Errorf("output %d: %w", i, err)
			}
			r.Change[i] = true
			sum.Outputs[i].Label = "our change (re-derived at " + hdkeys.KeyOrigin{Path: path}.PathString() + ")"
			continue
		}
		where, err := s.Policy.Destination(script)
		if err != nil {
			return nil, fmt.Errorf("output %d: %w", i, err)
		}
		sum.Outputs[i].Label = where
		r.Moved += p.UnsignedTx.TxOut[i].Value
	}
	if err := s.Policy.Fee(sum.Fee, sum.EstimatedVSize, r.Moved); err != nil {
		return nil, err
	}
	approved = true
	return r, nil
}

// appendAccount adds an account path (three steps) if it is not there yet.
func appendAccount(accounts [][]uint32, acct []uint32) [][]uint32 {
	for _, a := range accounts {
		if a[0] == acct[0] && a[1] == acct[1] && a[2] == acct[2] {
			return accounts
		}
	}
	return append(accounts, append([]uint32(nil), acct...))
}

// Sign signs every input Review approved through the shared Signer role
// (shared/psbt/signer), with the keys the review derived, which finalizes
// what is complete and checks each signed input with the script engine. It
// reports whether the transaction is complete. A review signs once: Sign
// wipes its keys.
func (s *Signer) Sign(p *btcpsbt.Packet, r *Review) (bool, error) {
	if r.keys == nil {
		return false, ErrReviewUsed
	}
	defer r.Wipe()
	req := signer.Request{Packet: p, Master: s.Master, Prevs: r.prev}
	for i, path := range r.paths {
		if path != nil {
			req.Inputs = append(req.Inputs, signer.Input{Index: i, Path: path, Prev: r.prev[i], Key: r.keys[i]})
		}
	}
	return signer.Sign(req)
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
