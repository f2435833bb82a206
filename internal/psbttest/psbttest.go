// Package psbttest builds cold-to-hot top-up PSBTs for tests, the way the
// online side describes them to the signer: full previous transactions,
// BIP32 (or taproot BIP32) origins on our inputs and on our change.
package psbttest

import (
	"bytes"
	"testing"

	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
)

// Wallet is a seed's master key and its two standard accounts.
type Wallet struct {
	Master *hdkeys.Master
	WPKH   *hdkeys.AccountKey
	TR     *hdkeys.AccountKey
}

// NewWallet derives a wallet from a seed.
func NewWallet(t testing.TB, seed []byte, m func(seed []byte) (*hdkeys.Master, error)) *Wallet {
	t.Helper()
	master, err := m(seed)
	if err != nil {
		t.Fatal(err)
	}
	w := &Wallet{Master: master}
	if w.WPKH, err = master.Account(hdkeys.P2WPKH, 0); err != nil {
		t.Fatal(err)
	}
	if w.TR, err = master.Account(hdkeys.P2TR, 0); err != nil {
		t.Fatal(err)
	}
	return w
}

// Derive derives one address or fails the test.
func Derive(t testing.TB, a *hdkeys.AccountKey, branch, index uint32) *hdkeys.Derived {
	t.Helper()
	d, err := a.Derive(branch, index)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Seed is a fixed test seed filled with b.
func Seed(b byte) []byte { return bytes.Repeat([]byte{b}, 64) }

func inputOrigin(in *btcpsbt.PInput, d *hdkeys.Derived) {
	path := append([]uint32(nil), d.Origin.Path...)
	if d.TaprootInternalKey != nil {
		in.TaprootInternalKey = d.TaprootInternalKey
		in.TaprootBip32Derivation = append(in.TaprootBip32Derivation, &btcpsbt.TaprootBip32Derivation{
			XOnlyPubKey: d.TaprootInternalKey, MasterKeyFingerprint: d.Origin.Fingerprint, Bip32Path: path})
		return
	}
	in.Bip32Derivation = append(in.Bip32Derivation, &btcpsbt.Bip32Derivation{
		PubKey: d.PubKey.SerializeCompressed(), MasterKeyFingerprint: d.Origin.Fingerprint, Bip32Path: path})
}

func outputOrigin(out *btcpsbt.POutput, d *hdkeys.Derived) {
	path := append([]uint32(nil), d.Origin.Path...)
	if d.TaprootInternalKey != nil {
		out.TaprootInternalKey = d.TaprootInternalKey
		out.TaprootBip32Derivation = append(out.TaprootBip32Derivation, &btcpsbt.TaprootBip32Derivation{
			XOnlyPubKey: d.TaprootInternalKey, MasterKeyFingerprint: d.Origin.Fingerprint, Bip32Path: path})
		return
	}
	out.Bip32Derivation = append(out.Bip32Derivation, &btcpsbt.Bip32Derivation{
		PubKey: d.PubKey.SerializeCompressed(), MasterKeyFingerprint: d.Origin.Fingerprint, Bip32Path: path})
}

// Coin is an output of ours to spend.
type Coin struct {
	Prev *wire.MsgTx
	Vout int
	Key  *hdkeys.Derived
}

// TopUp spends the outputs of prev that owned maps to our keys, sends send
// to hot, and returns the rest minus fee to change.
func TopUp(t testing.TB, prev *wire.MsgTx, owned map[int]*hdkeys.Derived, hot, change *hdkeys.Derived, send, fee int64) *btcpsbt.Packet {
	t.Helper()
	var coins []Coin
	for i := range prev.TxOut {
		if owned[i] != nil {
			coins = append(coins, Coin{Prev: prev, Vout: i, Key: owned[i]})
		}
	}
	return TopUpFrom(t, coins, hot, change, send, fee)
}

// TopUpFrom spends coins, sends send to hot, and returns the rest minus fee
// to change.
func TopUpFrom(t testing.TB, coins []Coin, hot, change *hdkeys.Derived, send, fee int64) *btcpsbt.Packet {
	t.Helper()
	var ops []*wire.OutPoint
	var seqs []uint32
	var total int64
	for _, c := range coins {
		ops = append(ops, &wire.OutPoint{Hash: c.Prev.TxHash(), Index: uint32(c.Vout)})
		seqs = append(seqs, wire.MaxTxInSequenceNum-2)
		total += c.Prev.TxOut[c.Vout].Value
	}
	outs := []*wire.TxOut{wire.NewTxOut(send, hot.PkScript), wire.NewTxOut(total-send-fee, change.PkScript)}
	p, err := btcpsbt.New(ops, outs, 2, 0, seqs)
	if err != nil {
		t.Fatal(err)
	}
	for k, c := range coins {
		p.Inputs[k].WitnessUtxo = c.Prev.TxOut[c.Vout]
		p.Inputs[k].NonWitnessUtxo = c.Prev
		inputOrigin(&p.Inputs[k], c.Key)
	}
	outputOrigin(&p.Outputs[1], change)
	return p
}

// FakeFunding is a transaction paying amounts to the given addresses, as
// if a previous block had confirmed it.
func FakeFunding(pay map[*hdkeys.Derived]int64, order []*hdkeys.Derived) *wire.MsgTx {
	prev := wire.NewMsgTx(2)
	prev.AddTxIn(wire.NewTxIn(&wire.OutPoint{Index: 1}, nil, nil))
	for _, d := range order {
		prev.AddTxOut(wire.NewTxOut(pay[d], d.PkScript))
	}
	return prev
}
