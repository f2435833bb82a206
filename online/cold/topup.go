package cold

import (
	"errors"
	"fmt"

	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
	"github.com/cryptoassets/cryptoassets/shared/psbt/updater"
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
		updater.InputKey(&p.Inputs[k], c.Key)
	}
	if change > 0 {
		updater.OutputKey(&p.Outputs[1], r.Change)
	}
	return p, nil
}
