package signer

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
)

var (
	// ErrUnsupportedScript is an input of ours this signer cannot sign.
	ErrUnsupportedScript = errors.New("an input's script type cannot be signed here")
	// ErrScriptCheck is a signed input the script engine refuses.
	ErrScriptCheck = errors.New("a signed input fails its own script check")
	// ErrWrongKey is an input whose key, at the path given, does not own
	// the coin it spends.
	ErrWrongKey = errors.New("the key at an input's path does not own the coin it spends")
)

// Input is one input to sign: its index in the packet, the path of its key
// under the master key, and the coin it spends.
type Input struct {
	Index int
	Path  []uint32
	Prev  *wire.TxOut
	// Key, when set, is the key at Path as the caller derived it
	// (Master.SigningKey or Keys) to check that the input is its own:
	// Sign signs with it rather than deriving it again. The caller wipes it.
	Key *hdkeys.SigningKey
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

// Test hooks: tamper changes the packet between signing and the script
// check, as a faulty key or signer would; observe sees which worker
// handles which entry of Request.Inputs in each phase.
var (
	tamper  func(p *btcpsbt.Packet)
	observe func(phase string, worker, entry int)
)

// Sign signs every input of r.Inputs, finalizes what is complete and checks
// each signed input with the script engine. It reports whether the whole
// transaction is complete (every input, ours or not, finalized).
//
// The inputs are signed, then checked, on every core; each worker writes
// only its own inputs, and the signatures are deterministic (RFC 6979
// nonces), so the packet's bytes do not depend on the scheduling. On an
// error the packet is left as it was given, and the error names the first
// failing input in the order of r.Inputs.
func Sign(r Request) (bool, error) {
	p := r.Packet
	if len(r.Prevs) != len(p.UnsignedTx.TxIn) {
		return false, fmt.Errorf("signing: %d spent coins given for %d inputs", len(r.Prevs), len(p.UnsignedTx.TxIn))
	}
	ours := make([]bool, len(p.Inputs))
	for _, in := range r.Inputs {
		if in.Index < 0 || in.Index >= len(p.Inputs) || in.Prev == nil {
			return false, fmt.Errorf("signing: input %d is not in the packet or has no spent coin", in.Index)
		}
		if ours[in.Index] {
			return false, fmt.Errorf("signing: input %d is listed twice", in.Index)
		}
		ours[in.Index] = true
	}
	fetcher := txscript.NewMultiPrevOutFetcher(nil)
	for i, txin := range p.UnsignedTx.TxIn {
		if r.Prevs[i] != nil {
			fetcher.AddPrevOut(txin.PreviousOutPoint, r.Prevs[i])
		}
	}
	// The sighash midstates, computed once and only read by the workers.
	hashes := txscript.NewTxSigHashes(p.UnsignedTx, fetcher)

	given := make([]btcpsbt.PInput, len(r.Inputs))
	for j, in := range r.Inputs {
		given[j] = p.Inputs[in.Index]
	}
	restore := func() {
		for j, in := range r.Inputs {
			p.Inputs[in.Index] = given[j]
		}
	}
	final := make([]btcpsbt.PInput, len(r.Inputs))
	err := forEach(len(r.Inputs), func(worker, j int) error {
		if observe != nil {
			observe("sign", worker, j)
		}
		var err error
		final[j], err = signInput(p, hashes, r.Master, r.Inputs[j])
		return err
	})
	if err != nil {
		return false, err
	}
	for j, in := range r.Inputs {
		p.Inputs[in.Index] = final[j]
	}
	for i := range p.Inputs {
		if ours[i] {
			continue
		}
		// Another signer's input: finalized here if its signatures are
		// all there, as btcutil/psbt finalizes it.
		if _, err := btcpsbt.MaybeFinalize(p, i); err != nil && !errors.Is(err, btcpsbt.ErrNotFinalizable) {
			restore()
			return false, fmt.Errorf("finalizing input %d: %w", i, err)
		}
	}
	if tamper != nil {
		tamper(p)
	}
	if err := verify(p, r, hashes, fetcher); err != nil {
		restore()
		return false, err
	}
	return p.IsComplete(), nil
}

// signInput signs one input and returns it finalized, as btcutil/psbt's
// Finalize leaves it: the spent coin and the final witness, nothing else.
// It reads the packet and writes nothing, so inputs are signed in parallel
// (btcutil/psbt's Updater and Finalize check the whole packet on every
// call).
func signInput(p *btcpsbt.Packet, hashes *txscript.TxSigHashes, m *hdkeys.Master, in Input) (btcpsbt.PInput, error) {
	i, prev := in.Index, in.Prev
	p2wpkh, p2tr := txscript.IsPayToWitnessPubKeyHash(prev.PkScript), txscript.IsPayToTaproot(prev.PkScript)
	if !p2wpkh && !p2tr {
		return btcpsbt.PInput{}, fmt.Errorf("%w: input %d spends %x", ErrUnsupportedScript, i, prev.PkScript)
	}
	utxo, err := packetUTXO(p, i)
	if err != nil {
		return btcpsbt.PInput{}, err
	}
	if utxo.Value != prev.Value || !bytes.Equal(utxo.PkScript, prev.PkScript) {
		return btcpsbt.PInput{}, fmt.Errorf("signing: input %d: the packet's UTXO data (%d sat to %x) is not the coin given (%d sat to %x)",
			i, utxo.Value, utxo.PkScript, prev.Value, prev.PkScript)
	}
	key := in.Key
	if key == nil {
		if key, err = m.SigningKey(in.Path); err != nil {
			return btcpsbt.PInput{}, fmt.Errorf("input %d: %w", i, err)
		}
		defer key.Zero()
	}
	if !bytes.Equal(key.PkScript, prev.PkScript) {
		return btcpsbt.PInput{}, fmt.Errorf("%w: input %d: the key at %s pays to %x, the coin to %x",
			ErrWrongKey, i, hdkeys.KeyOrigin{Path: in.Path}.PathString(), key.PkScript, prev.PkScript)
	}
	var witness wire.TxWitness
	if p2wpkh {
		if t := p.Inputs[i].SighashType; t != 0 && t != txscript.SigHashAll {
			return btcpsbt.PInput{}, fmt.Errorf("input %d asks for sighash type %v; a P2WPKH input is signed with SIGHASH_ALL", i, t)
		}
		sig, err := txscript.RawTxInWitnessSignature(p.UnsignedTx, hashes, i, prev.Value, prev.PkScript, txscript.SigHashAll, key.Priv)
		if err != nil {
			return btcpsbt.PInput{}, fmt.Errorf("input %d: %w", i, err)
		}
		witness = wire.TxWitness{sig, key.PubKey.SerializeCompressed()}
	} else {
		hashType := txscript.SigHashDefault
		if t := p.Inputs[i].SighashType; t != 0 {
			hashType = t
		}
		sigHash, err := txscript.CalcTaprootSignatureHash(hashes, hashType, p.UnsignedTx, i, txscript.NewCannedPrevOutputFetcher(prev.PkScript, prev.Value))
		if err != nil {
			return btcpsbt.PInput{}, fmt.Errorf("input %d: %w", i, err)
		}
		tweaked := bip86PrivKey(key)
		// FastSign: btcec's own verification of the signature is skipped,
		// since the script engine checks every signed input below.
		s, err := schnorr.Sign(tweaked, sigHash, schnorr.FastSign())
		tweaked.Zero()
		if err != nil {
			return btcpsbt.PInput{}, fmt.Errorf("input %d: %w", i, err)
		}
		sig := s.Serialize()
		if hashType != txscript.SigHashDefault {
			sig = append(sig, byte(hashType))
		}
		witness = wire.TxWitness{sig}
	}
	var buf bytes.Buffer
	if err := btcpsbt.WriteTxWitness(&buf, witness); err != nil {
		return btcpsbt.PInput{}, fmt.Errorf("input %d: %w", i, err)
	}
	out := btcpsbt.NewPsbtInput(nil, utxo)
	out.FinalScriptWitness = buf.Bytes()
	return *out, nil
}

// packetUTXO is the coin input i spends according to the packet: its
// witness UTXO, or else the output of its previous transaction (which must
// be the one the input names), as btcutil/psbt reads it when signing.
func packetUTXO(p *btcpsbt.Packet, i int) (*wire.TxOut, error) {
	in := &p.Inputs[i]
	op := p.UnsignedTx.TxIn[i].PreviousOutPoint
	if in.NonWitnessUtxo != nil {
		if in.NonWitnessUtxo.TxHash() != op.Hash {
			return nil, fmt.Errorf("signing: input %d: its previous transaction is not the one it spends", i)
		}
		if in.WitnessUtxo == nil {
			if int(op.Index) >= len(in.NonWitnessUtxo.TxOut) {
				return nil, fmt.Errorf("signing: input %d: its previous transaction has no output %d", i, op.Index)
			}
			return in.NonWitnessUtxo.TxOut[op.Index], nil
		}
	}
	if in.WitnessUtxo == nil {
		return nil, fmt.Errorf("signing: input %d has no UTXO data", i)
	}
	return in.WitnessUtxo, nil
}

// bip86PrivKey is the private key of k's BIP86 output key (the internal
// key tweaked with an empty script tree), as txscript.TweakTaprootPrivKey
// computes it, but from the public key the derivation already gave rather
// than computing it again.
func bip86PrivKey(k *hdkeys.SigningKey) *btcec.PrivateKey {
	d := k.Priv.Key
	pub := k.PubKey.SerializeCompressed()
	if pub[0] == 0x03 { // odd Y: BIP340 uses the negated key
		d.Negate()
	}
	tweak := chainhash.TaggedHash(chainhash.TagTapTweak, pub[1:])
	var t btcec.ModNScalar
	t.SetBytes((*[32]byte)(tweak))
	d.Add(&t)
	return btcec.PrivKeyFromScalar(&d)
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
	// The engines share the transaction, the midstates and the coins, and
	// only read them.
	return forEach(len(r.Inputs), func(worker, j int) error {
		if observe != nil {
			observe("verify", worker, j)
		}
		in := r.Inputs[j]
		vm, err := txscript.NewEngine(in.Prev.PkScript, tx, in.Index, txscript.StandardVerifyFlags, nil, hashes, in.Prev.Value, fetcher)
		if err != nil {
			return fmt.Errorf("%w: input %d: %v", ErrScriptCheck, in.Index, err)
		}
		if err := vm.Execute(); err != nil {
			return fmt.Errorf("%w: input %d: %v", ErrScriptCheck, in.Index, err)
		}
		return nil
	})
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
