package hotwallet

import (
	"bytes"
	"errors"
	"fmt"

	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
	"github.com/cryptoassets/cryptoassets/shared/keystore"
	"github.com/cryptoassets/cryptoassets/shared/passphrase"
	"github.com/cryptoassets/cryptoassets/shared/psbt/signer"
)

var (
	// ErrDescriptorMismatch is a keystore whose account key is not the
	// configured hot_wallet_descriptor.
	ErrDescriptorMismatch = errors.New("the hot keystore's account key is not the configured hot_wallet_descriptor")
	// ErrWrongNetwork is a keystore made for another network.
	ErrWrongNetwork = errors.New("the hot keystore is for another network")
	// ErrNotOurs is a PSBT input the hot account does not own.
	ErrNotOurs = errors.New("an input does not belong to the hot wallet's account")
	// ErrIncomplete is a PSBT that is not fully signed after signing.
	ErrIncomplete = errors.New("the PSBT is not complete after signing")
)

// Unlock says where the keystore and its passphrase are. Exactly one of
// PassphraseFile and PassphraseFD (0 or more) is set.
type Unlock struct {
	Keystore       string
	PassphraseFile string
	PassphraseFD   int // -1: not set
}

func (u Unlock) options() (passphrase.Options, error) {
	switch {
	case u.PassphraseFile != "" && u.PassphraseFD >= 0:
		return passphrase.Options{}, errors.New("hot passphrase: give either a passphrase file or a descriptor, not both")
	case u.PassphraseFile != "":
		return passphrase.Options{File: u.PassphraseFile}, nil
	case u.PassphraseFD >= 0:
		return passphrase.Options{FromFD: true, FD: u.PassphraseFD}, nil
	}
	return passphrase.Options{}, errors.New("hot passphrase: set hot_passphrase_file, or start serve with --hot-passphrase-fd N")
}

// Signer signs with the hot account's keys. Close wipes them.
type Signer struct {
	master  *hdkeys.Master
	account *hdkeys.AccountKey
}

// Open reads the passphrase, unlocks the keystore, and returns a signer if
// its account key is descriptor (on net); otherwise nothing is kept.
func Open(u Unlock, descriptor string, net *chaincfg.Params) (*Signer, error) {
	want, err := hdkeys.ParseDescriptor(descriptor, net)
	if err != nil {
		return nil, fmt.Errorf("hot_wallet_descriptor: %w", err)
	}
	opts, err := u.options()
	if err != nil {
		return nil, err
	}
	pass, err := passphrase.Read("Hot keystore passphrase: ", opts)
	if err != nil {
		return nil, fmt.Errorf("hot passphrase: %w", err)
	}
	ks, err := keystore.Open(u.Keystore, pass)
	clear(pass)
	if err != nil {
		return nil, fmt.Errorf("hot keystore: %w", err)
	}
	defer ks.Wipe()
	if got := ks.Meta().Network; got != Network(net) {
		return nil, fmt.Errorf("%w: %s is for %s, the asset is on %s", ErrWrongNetwork, u.Keystore, got, Network(net))
	}
	m, err := hdkeys.NewMaster(ks.Seed(), net)
	if err != nil {
		return nil, fmt.Errorf("hot keystore: %w", err)
	}
	s, err := New(m, want)
	if err != nil {
		m.Zero()
		return nil, err
	}
	return s, nil
}

// New returns a signer for the account want of m, or ErrDescriptorMismatch
// naming both keys when m does not hold want.
func New(m *hdkeys.Master, want *hdkeys.AccountKey) (*Signer, error) {
	path := want.Origin.Path
	var have *hdkeys.AccountKey
	var err error
	if len(path) == 3 && path[2] >= 1<<31 {
		have, err = m.Account(want.Type, path[2]-1<<31)
	}
	if err != nil || have == nil || have.Key.String() != want.Key.String() ||
		(want.FingerprintKnown() && want.Origin.Fingerprint != m.Fingerprint()) {
		held := "(none)"
		if acct, err := m.Account(want.Type, 0); err == nil {
			held = acct.Descriptor()
		}
		return nil, fmt.Errorf("%w: hot_wallet_descriptor is %s, the keystore's account 0 is %s; refusing to start the withdrawal workers (run `cryptoassets hotkey xpub` and set hot_wallet_descriptor to what it prints, or point hot_keystore at the seed of this descriptor)",
			ErrDescriptorMismatch, want.Descriptor(), held)
	}
	return &Signer{master: m, account: have}, nil
}

// Network is the keystore's name of a chain.
func Network(net *chaincfg.Params) keystore.Network {
	switch net.Name {
	case chaincfg.MainNetParams.Name:
		return "mainnet"
	case chaincfg.TestNet3Params.Name:
		return "testnet"
	case chaincfg.SigNetParams.Name:
		return "signet"
	case chaincfg.RegressionNetParams.Name:
		return "regtest"
	}
	return keystore.Network(net.Name)
}

// Account is the hot account key the signer holds.
func (s *Signer) Account() *hdkeys.AccountKey { return s.account }

// Close wipes the keys.
func (s *Signer) Close() { s.master.Zero() }

// Sign signs every input of p, all of which must spend coins of the hot
// account, and returns the finished transaction, every input checked by
// the script engine. p carries the signatures afterwards. Each input's key
// is derived once, on every core, to check the input is ours and then to
// sign it.
func (s *Signer) Sign(p *btcpsbt.Packet) (*wire.MsgTx, error) {
	req := signer.Request{Packet: p, Master: s.master, Prevs: make([]*wire.TxOut, len(p.Inputs))}
	acct := s.account.Origin.Path
	paths := make([][]uint32, len(p.Inputs))
	for i := range p.Inputs {
		prev := spent(p, i)
		if prev == nil {
			return nil, fmt.Errorf("%w: input %d has no UTXO data", ErrNotOurs, i)
		}
		req.Prevs[i] = prev
		path := s.ourPath(&p.Inputs[i])
		if len(path) != 5 || path[0] != acct[0] || path[1] != acct[1] || path[2] != acct[2] || path[3] > 1 {
			return nil, fmt.Errorf("%w: input %d has no key origin under %s", ErrNotOurs, i, s.account.Descriptor())
		}
		paths[i] = path
	}
	keys, errs := signer.Keys(s.master, paths)
	defer func() {
		for _, k := range keys {
			if k != nil {
				k.Zero()
			}
		}
	}()
	for i, k := range keys {
		if errs[i] != nil {
			return nil, fmt.Errorf("input %d: %w", i, errs[i])
		}
		if !bytes.Equal(k.PkScript, req.Prevs[i].PkScript) {
			return nil, fmt.Errorf("%w: input %d claims our key at %s but spends another script", ErrNotOurs, i, k.Origin.PathString())
		}
		req.Inputs = append(req.Inputs, signer.Input{Index: i, Path: paths[i], Prev: req.Prevs[i], Key: k})
	}
	complete, err := signer.Sign(req)
	if err != nil {
		return nil, err
	}
	if !complete {
		return nil, ErrIncomplete
	}
	return btcpsbt.Extract(p)
}

func (s *Signer) ourPath(in *btcpsbt.PInput) []uint32 {
	fp := s.master.Fingerprint()
	for _, d := range in.Bip32Derivation {
		if d.MasterKeyFingerprint == fp {
			return d.Bip32Path
		}
	}
	for _, d := range in.TaprootBip32Derivation {
		if d.MasterKeyFingerprint == fp {
			return d.Bip32Path
		}
	}
	return nil
}

// spent is the coin input i spends, from its UTXO data.
func spent(p *btcpsbt.Packet, i int) *wire.TxOut {
	in := &p.Inputs[i]
	if in.NonWitnessUtxo != nil {
		op := p.UnsignedTx.TxIn[i].PreviousOutPoint
		if in.NonWitnessUtxo.TxHash() == op.Hash && int(op.Index) < len(in.NonWitnessUtxo.TxOut) {
			return in.NonWitnessUtxo.TxOut[op.Index]
		}
		return nil
	}
	return in.WitnessUtxo
}
