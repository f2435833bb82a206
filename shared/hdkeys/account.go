package hdkeys

import (
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/txscript"
)

// Branches under an account key (BIP44's "change" level).
const (
	BranchReceive uint32 = 0
	BranchChange  uint32 = 1
)

// AccountKey is an account-level extended public key
// (m/purpose'/coin'/account') with the script type its addresses use.
//
// Build it with ParseDescriptor or Master.Account: they check it and cache
// the two branch keys Derive needs. It is safe for concurrent use.
type AccountKey struct {
	Type ScriptType
	// Origin is the master fingerprint and the path of this key. When the
	// input carried no fingerprint (a bare zpub, or a descriptor without
	// [origin]), Fingerprint is 0, FingerprintKnown reports false, and Path
	// is the standard path for the type, network and account number.
	Origin KeyOrigin
	// Key is public, labelled with Net's standard version bytes (xpub/tpub).
	Key *hdkeychain.ExtendedKey
	Net *chaincfg.Params

	fingerprintKnown bool
	// branches holds the extended keys of m/.../0 and m/.../1, so each
	// Derive is a single child derivation.
	branches [2]*hdkeychain.ExtendedKey
}

// Derived is one address of an account with everything needed to watch it
// and to describe it in a PSBT.
type Derived struct {
	Address  btcutil.Address
	PkScript []byte
	// PubKey is the derived BIP32 key. For P2TR it is the internal key,
	// before the BIP86 tweak.
	PubKey *btcec.PublicKey
	// Origin is the full path, account path + branch + index.
	Origin KeyOrigin
	// TaprootInternalKey is PubKey x-only serialized (32 bytes), for the
	// PSBT's tap_internal_key and tap_bip32_derivation; nil for P2WPKH.
	TaprootInternalKey []byte
}

// newAccountKey checks the fields that make an account key and caches its
// branch keys. key must be public and at depth 3.
func newAccountKey(t ScriptType, origin KeyOrigin, fingerprintKnown bool,
	key *hdkeychain.ExtendedKey, net *chaincfg.Params) (*AccountKey, error) {

	a := &AccountKey{Type: t, Origin: origin, Key: key, Net: net, fingerprintKnown: fingerprintKnown}
	for _, branch := range []uint32{BranchReceive, BranchChange} {
		k, err := key.Derive(branch)
		if err != nil {
			// Probability below 2^-127; such an account cannot follow BIP44.
			return nil, fmt.Errorf("deriving branch %d of the account key: %w", branch, err)
		}
		a.branches[branch] = k
	}
	return a, nil
}

// FingerprintKnown reports whether Origin.Fingerprint came from the input
// (or the seed) rather than being unknown. A signer recognises its inputs by
// fingerprint, so PSBTs built from a key without one cannot be signed.
func (a *AccountKey) FingerprintKnown() bool { return a.fingerprintKnown }

// Derive returns the address at m/.../branch/index: branch 0 receives,
// branch 1 is change; index must be below 2^31.
//
// In fewer than one case in 2^127 an index has no valid key; the error then
// wraps hdkeychain.ErrInvalidChild and the caller must skip that index.
func (a *AccountKey) Derive(branch, index uint32) (*Derived, error) {
	if branch > BranchChange {
		return nil, fmt.Errorf("%w: got %d", ErrBranch, branch)
	}
	if index >= hardened {
		return nil, fmt.Errorf("%w: got %d", ErrHardenedIndex, index)
	}
	parent := a.branches[branch]
	if parent == nil {
		return nil, errors.New("hdkeys: AccountKey was not built by ParseDescriptor or Master.Account")
	}
	child, err := parent.Derive(index)
	if err != nil {
		return nil, fmt.Errorf("deriving %s/%d/%d: %w", a.Origin.PathString(), branch, index, err)
	}
	pub, err := child.ECPubKey()
	if err != nil {
		return nil, fmt.Errorf("deriving %s/%d/%d: %w", a.Origin.PathString(), branch, index, err)
	}
	d := &Derived{PubKey: pub, Origin: a.Origin.child(branch, index)}
	if err := d.fillScript(a.Type, a.Net); err != nil {
		return nil, err
	}
	return d, nil
}

// fillScript sets Address and PkScript (and the taproot internal key) for
// d.PubKey.
func (d *Derived) fillScript(t ScriptType, net *chaincfg.Params) error {
	var err error
	switch t {
	case P2WPKH:
		d.Address, err = btcutil.NewAddressWitnessPubKeyHash(
			btcutil.Hash160(d.PubKey.SerializeCompressed()), net)
	case P2TR:
		// BIP86: the output key commits to an empty script tree, so the
		// output can only be spent with the key.
		outputKey := txscript.ComputeTaprootKeyNoScript(d.PubKey)
		d.Address, err = btcutil.NewAddressTaproot(schnorr.SerializePubKey(outputKey), net)
		d.TaprootInternalKey = schnorr.SerializePubKey(d.PubKey)
	default:
		return fmt.Errorf("%w: %v", ErrUnsupported, t)
	}
	if err != nil {
		return fmt.Errorf("encoding %v address: %w", t, err)
	}
	d.PkScript, err = txscript.PayToAddrScript(d.Address)
	if err != nil {
		return fmt.Errorf("building %v output script: %w", t, err)
	}
	return nil
}

// standardAccountPath is m/purpose'/coin'/account' for t on net; account is
// the hardened child number.
func standardAccountPath(t ScriptType, net *chaincfg.Params, account uint32) []uint32 {
	return []uint32{t.Purpose() + hardened, net.HDCoinType + hardened, account}
}
