package signer

import (
	"bytes"
	"errors"
	"fmt"

	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
)

var (
	// ErrUnsupportedScript is an input of ours this signer cannot sign.
	ErrUnsupportedScript = errors.New("an input's script type cannot be signed here")
	// ErrScriptCheck is a signed input the script engine refuses.
	ErrScriptCheck = errors.New("a signed input fails its own script check")
)

// Input is one input to sign: its index in the packet, the path of its key
// under the master key, and the coin it spends.
type Input struct {
	Index int
	Path  []uint32
	Prev  *wire.TxOut
}

// Request is what to sign: the packet, the master key, the coin every input
// spends (one per input, in order: the sighashes of segwit v1 commit to
// all of them) and the inputs that are ours.
type Request struct {
	Packet *btcpsbt.Packet
	Master *hdkeys.Master
	Prevs  []*wire.TxOut
	Inputs []Input
}

// tamper, when set by this package's tests, changes the packet between
// signing and the script check, as a faulty key or signer would.
var tamper func(p *btcpsbt.Packet)

// Sign signs every input of r.Inputs, finalizes what is complete and checks
// each signed input with the script engine. It reports whether the whole
// transaction is complete (every input, ours or not, finalized).
func Sign(r Request) (bool, error) {
	p := r.Packet
	if len(r.Prevs) != len(p.UnsignedTx.TxIn) {
		return false, fmt.Errorf("signing: %d spent coins given for %d inputs", len(r.Prevs), len(p.UnsignedTx.TxIn))
	}
	fetcher := txscript.NewMultiPrevOutFetcher(nil)
	for i, txin := range p.UnsignedTx.TxIn {
		if r.Prevs[i] != nil {
			fetcher.AddPrevOut(txin.PreviousOutPoint, r.Prevs[i])
		}
	}
	hashes := txscript.NewTxSigHashes(p.UnsignedTx, fetcher)
	u, err := btcpsbt.NewUpdater(p)
	if err != nil {
		return false, err
	}
	for _, in := range r.Inputs {
		if in.Index < 0 || in.Index >= len(p.Inputs) || in.Prev == nil {
			return false, fmt.Errorf("signing: input %d is not in the packet or has no spent coin", in.Index)
		}
		if err := signInput(p, u, hashes, r.Master, in); err != nil {
			return false, err
		}
	}
	if err := btcpsbt.MaybeFinalizeAll(p); err != nil {
		return false, fmt.Errorf("finalizing: %w", err)
	}
	if tamper != nil {
		tamper(p)
	}
	if err := verify(p, r, hashes, fetcher); err != nil {
		for _, in := range r.Inputs {
			p.Inputs[in.Index].FinalScriptWitness = nil
			p.Inputs[in.Index].TaprootKeySpendSig = nil
			p.Inputs[in.Index].PartialSigs = nil
		}
		return false, err
	}
	return p.IsComplete(), nil
}

func signInput(p *btcpsbt.Packet, u *btcpsbt.Updater, hashes *txscript.TxSigHashes, m *hdkeys.Master, in Input) error {
	key, err := m.PrivKey(in.Path)
	if err != nil {
		return fmt.Errorf("input %d: %w", in.Index, err)
	}
	defer key.Zero()
	prev, i := in.Prev, in.Index
	switch {
	case txscript.IsPayToWitnessPubKeyHash(prev.PkScript):
		sig, err := txscript.RawTxInWitnessSignature(p.UnsignedTx, hashes, i, prev.Value, prev.PkScript, txscript.SigHashAll, key)
		if err != nil {
			return fmt.Errorf("input %d: %w", i, err)
		}
		if outcome, err := u.Sign(i, sig, key.PubKey().SerializeCompressed(), nil, nil); err != nil || outcome != btcpsbt.SignSuccesful {
			return fmt.Errorf("input %d: adding the signature: %v (outcome %d)", i, err, outcome)
		}
	case txscript.IsPayToTaproot(prev.PkScript):
		hashType := txscript.SigHashDefault
		if t := p.Inputs[i].SighashType; t != 0 {
			hashType = t
		}
		sig, err := txscript.RawTxInTaprootSignature(p.UnsignedTx, hashes, i, prev.Value, prev.PkScript, nil, hashType, key)
		if err != nil {
			return fmt.Errorf("input %d: %w", i, err)
		}
		p.Inputs[i].TaprootKeySpendSig = sig
	default:
		return fmt.Errorf("%w: input %d spends %x", ErrUnsupportedScript, i, prev.PkScript)
	}
	return nil
}

// verify runs each of our inputs through the script engine with its final
// witness, on its own: a segwit input's sighash does not depend on the
// other inputs' witnesses, so this holds before the others are signed.
func verify(p *btcpsbt.Packet, r Request, hashes *txscript.TxSigHashes, fetcher txscript.PrevOutputFetcher) error {
	tx := p.UnsignedTx.Copy()
	for _, in := range r.Inputs {
		w := p.Inputs[in.Index].FinalScriptWitness
		if w == nil {
			return fmt.Errorf("%w: input %d was signed but did not finalize", ErrScriptCheck, in.Index)
		}
		witness, err := readWitness(w)
		if err != nil {
			return fmt.Errorf("%w: input %d: %v", ErrScriptCheck, in.Index, err)
		}
		tx.TxIn[in.Index].Witness = witness
	}
	for _, in := range r.Inputs {
		vm, err := txscript.NewEngine(in.Prev.PkScript, tx, in.Index, txscript.StandardVerifyFlags, nil, hashes, in.Prev.Value, fetcher)
		if err != nil {
			return fmt.Errorf("%w: input %d: %v", ErrScriptCheck, in.Index, err)
		}
		if err := vm.Execute(); err != nil {
			return fmt.Errorf("%w: input %d: %v", ErrScriptCheck, in.Index, err)
		}
	}
	return nil
}

// readWitness decodes a PSBT final_scriptwitness (BIP144 serialization).
func readWitness(b []byte) (wire.TxWitness, error) {
	r := bytes.NewReader(b)
	n, err := wire.ReadVarInt(r, 0)
	if err != nil {
		return nil, fmt.Errorf("final witness: %w", err)
	}
	if n > uint64(len(b)) {
		return nil, fmt.Errorf("final witness: %d items in %d bytes", n, len(b))
	}
	w := make(wire.TxWitness, n)
	for i := range w {
		if w[i], err = wire.ReadVarBytes(r, 0, uint32(len(b)), "witness item"); err != nil {
			return nil, fmt.Errorf("final witness: %w", err)
		}
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("final witness: %d bytes left over", r.Len())
	}
	return w, nil
}
