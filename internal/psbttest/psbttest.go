// Package psbttest gives tests wallets, addresses and cold-to-hot top-up
// PSBTs (built by online/cold, as the online side builds them).
package psbttest

import (
	"bytes"
	"testing"

	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/online/cold"
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

// Coin is an output of ours to spend.
type Coin = cold.Coin

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
	p, err := cold.Build(cold.TopUp{Coins: coins, Hot: hot, Change: change, Send: send, Fee: fee})
	if err != nil {
		t.Fatal(err)
	}
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
