package cold

import (
	"errors"
	"fmt"

	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
)

// Coin is a cold-wallet output to spend, with its previous transaction and
// the key that owns it.
type Coin struct {
	Prev *wire.MsgTx
	Vout int
	Key  *hdkeys.Derived
}

// TopUp is the request: send to the hot wallet's address, the rest minus
// fee back to the cold wallet's change address.
type TopUp struct {
	Coins  []Coin
	Hot    *hdkeys.Derived
	Change *hdkeys.Derived
	Send   int64
	Fee    int64
}

// Build returns the unsigned PSBT.
func Build(r TopUp) (*btcpsbt.Packet, error) {
	if len(r.Coins) == 0 {
		return nil, errors.New("top-up: no coins to spend")
	}
	var ops []*wire.OutPoint
	var seqs []uint32
	var total int64
	for i, c := range r.Coins {
		if c.Prev == nil || c.Key == nil || c.Vout < 0 || c.Vout >= len(c.Prev.TxOut) {
			return nil, fmt.Errorf("top-up: coin %d is incomplete", i)
		}
		if string(c.Prev.TxOut[c.Vout].PkScript) != string(c.Key.PkScript) {
			return nil, fmt.Errorf("top-up: coin %d is not paid to its key's script", i)
		}
		ops = append(ops, &wire.OutPoint{Hash: c.Prev.TxHash(), Index: uint32(c.Vout)})
		seqs = append(seqs, wire.MaxTxInSequenceNum-2) // replaceable: a stuck top-up can be bumped
		total += c.Prev.TxOut[c.Vout].Value
	}
	change := total - r.Send - r.Fee
	if r.Send <= 0 || r.Fee < 0 || change < 0 {
		return nil, fmt.Errorf("top-up: %d sat of coins cannot send %d sat and pay %d sat fee", total, r.Send, r.Fee)
	}
	outs := []*wire.TxOut{wire.NewTxOut(r.Send, r.Hot.PkScript)}
	if change > 0 {
		outs = append(outs, wire.NewTxOut(change, r.Change.PkScript))
	}
	p, err := btcpsbt.New(ops, outs, 2, 0, seqs)
	if err != nil {
		return nil, err
	}
	for k, c := range r.Coins {
		spent := c.Prev.TxOut[c.Vout]
		// A copy: the witness UTXO must not alias the previous transaction.
		p.Inputs[k].WitnessUtxo = wire.NewTxOut(spent.Value, append([]byte(nil), spent.PkScript...))
		p.Inputs[k].NonWitnessUtxo = c.Prev
		inputOrigin(&p.Inputs[k], c.Key)
	}
	if change > 0 {
		outputOrigin(&p.Outputs[1], r.Change)
	}
	return p, nil
}

// origin is a key's origin in both PSBT forms; a key fills one of them.
type origin struct {
	internalKey []byte
	tap         []*btcpsbt.TaprootBip32Derivation
	bip32       []*btcpsbt.Bip32Derivation
}

func originOf(d *hdkeys.Derived) origin {
	path := append([]uint32(nil), d.Origin.Path...)
	if d.TaprootInternalKey != nil {
		return origin{internalKey: d.TaprootInternalKey, tap: []*btcpsbt.TaprootBip32Derivation{{
			XOnlyPubKey: d.TaprootInternalKey, MasterKeyFingerprint: d.Origin.Fingerprint, Bip32Path: path}}}
	}
	return origin{bip32: []*btcpsbt.Bip32Derivation{{
		PubKey: d.PubKey.SerializeCompressed(), MasterKeyFingerprint: d.Origin.Fingerprint, Bip32Path: path}}}
}

func inputOrigin(in *btcpsbt.PInput, d *hdkeys.Derived) {
	o := originOf(d)
	in.TaprootInternalKey, in.TaprootBip32Derivation, in.Bip32Derivation = o.internalKey, o.tap, o.bip32
}

func outputOrigin(out *btcpsbt.POutput, d *hdkeys.Derived) {
	o := originOf(d)
	out.TaprootInternalKey, out.TaprootBip32Derivation, out.Bip32Derivation = o.internalKey, o.tap, o.bip32
}
