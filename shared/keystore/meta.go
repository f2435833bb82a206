package keystore

import (
	"fmt"
	"time"

	"github.com/btcsuite/btcd/chaincfg"

	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
)

// Network is the Bitcoin network a keystore's keys are for.
type Network string

// The networks a keystore can be for.
const (
	Mainnet Network = "mainnet"
	Testnet Network = "testnet" // testnet3
	Signet  Network = "signet"
	Regtest Network = "regtest"
)

// Params returns btcd's parameters for n.
func (n Network) Params() (*chaincfg.Params, error) {
	switch n {
	case Mainnet:
		return &chaincfg.MainNetParams, nil
	case Testnet:
		return &chaincfg.TestNet3Params, nil
	case Signet:
		return &chaincfg.SigNetParams, nil
	case Regtest:
		return &chaincfg.RegressionNetParams, nil
	}
	return nil, n.check()
}

func (n Network) check() error {
	switch n {
	case Mainnet, Testnet, Signet, Regtest:
		return nil
	}
	return fmt.Errorf("network %q is not one of mainnet, testnet, signet, regtest", printable(string(n)))
}

// Meta is a keystore's public header: stored in clear, authenticated.
type Meta struct {
	Network Network
	// Fingerprint is the BIP32 master key fingerprint in its usual display
	// form, 8 lowercase hex characters (e.g. "73c5da0a"). Create computes it
	// from the seed; a value given to Create must match.
	Fingerprint string
	// Created is when the keystore was made, in whole seconds. Create uses
	// the current time when it is zero.
	Created time.Time
}

// MasterFingerprint returns the BIP32 master key fingerprint of seed in
// display form ("73c5da0a"): the first four bytes of HASH160 of the master
// public key.
func MasterFingerprint(seed []byte) (string, error) {
	// The fingerprint does not depend on the network.
	m, err := hdkeys.NewMaster(seed, &chaincfg.MainNetParams)
	if err != nil {
		return "", err
	}
	defer m.Zero()
	return hdkeys.KeyOrigin{Fingerprint: m.Fingerprint()}.FingerprintHex(), nil
}

// checkFingerprint reports whether s is 8 lowercase hex characters.
func checkFingerprint(s string) error {
	if len(s) != 8 {
		return fmt.Errorf("fingerprint %q is not 8 hex characters", printable(s))
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return fmt.Errorf("fingerprint %q is not lowercase hex", s)
		}
	}
	return nil
}
