package addresses

import (
	"github.com/btcsuite/btcd/chaincfg"

	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
)

// AccountKey adapts a parsed account-level public key (shared/hdkeys) to
// the Deriver the issuer needs.
type AccountKey struct{ key *hdkeys.AccountKey }

// ParseKey reads an account-level public key descriptor, such as
// wpkh([73c5da0a/84h/0h/0h]xpub.../<0;1>/*) or tr([...]xpub...), or a bare
// zpub/vpub. It refuses private keys, keys of another network, keys not at
// account depth and keys whose script type is ambiguous.
func ParseKey(s string, net *chaincfg.Params) (*AccountKey, error) {
	k, err := hdkeys.ParseDescriptor(s, net)
	if err != nil {
		return nil, err
	}
	return &AccountKey{key: k}, nil
}

// Descriptor implements Deriver.
func (k *AccountKey) Descriptor() string { return k.key.Descriptor() }

// ScriptType implements Deriver.
func (k *AccountKey) ScriptType() string { return k.key.Type.String() }

// Derive implements Deriver.
func (k *AccountKey) Derive(branch, index uint32) (Derived, error) {
	d, err := k.key.Derive(branch, index)
	if err != nil {
		return Derived{}, err
	}
	return Derived{Address: d.Address.EncodeAddress(), Script: d.PkScript, Path: d.Origin.PathString()}, nil
}
