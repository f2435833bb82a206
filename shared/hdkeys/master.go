package hdkeys

import (
	"errors"
	"fmt"
	"sync"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"
)

// Master is the signer's BIP32 master private key.
//
// Its methods may be called concurrently, but not concurrently with Zero.
type Master struct {
	root        *hdkeychain.ExtendedKey
	net         *chaincfg.Params
	fingerprint uint32

	// Account- and branch-level keys, derived once with their public keys
	// (which a non-hardened child step reads): a PSBT with hundreds of
	// inputs would otherwise walk the hardened steps from the root for
	// every input, and a cached key that is only read can be shared by
	// concurrent signers.
	mu       sync.Mutex
	accounts map[[3]uint32]*hdkeychain.ExtendedKey
	branches map[[4]uint32]*hdkeychain.ExtendedKey
	publics  map[[3]uint32]*AccountKey
}

// NewMaster derives the BIP32 master key from a seed (16 to 64 bytes, e.g.
// a BIP39 seed). The seed is not kept; the caller should wipe its copy.
func NewMaster(seed []byte, net *chaincfg.Params) (*Master, error) {
	if net == nil {
		return nil, errors.New("hdkeys: NewMaster needs a network")
	}
	root, err := hdkeychain.NewMaster(seed, net)
	if err != nil {
		return nil, fmt.Errorf("deriving the master key from the seed: %w", err)
	}
	// Computing the public key here memoizes it inside root, so later
	// methods only read root and can run concurrently.
	pub, err := root.ECPubKey()
	if err != nil {
		root.Zero()
		return nil, fmt.Errorf("deriving the master public key: %w", err)
	}
	return &Master{root: root, net: net, fingerprint: fingerprintOf(pub.SerializeCompressed())}, nil
}

// Fingerprint is the master key fingerprint in KeyOrigin's representation.
func (m *Master) Fingerprint() uint32 { return m.fingerprint }

// Net is the network the master key was made for.
func (m *Master) Net() *chaincfg.Params { return m.net }

// Account returns the public account key m/purpose'/coin'/account' for t
// (BIP84 or BIP86), with coin 0 on mainnet and 1 on the test networks; this
// is what the signer exports to the online service. account is the
// unhardened account number.
func (m *Master) Account(t ScriptType, account uint32) (*AccountKey, error) {
	if t.Purpose() == 0 {
		return nil, fmt.Errorf("%w: %v", ErrUnsupported, t)
	}
	if account >= hardened {
		return nil, fmt.Errorf("%w: account number %d must be below 2^31 (it is hardened for you)", ErrMalformed, account)
	}
	path := standardAccountPath(t, m.net, account+hardened)
	priv, err := m.derive(path)
	if err != nil {
		return nil, err
	}
	defer priv.Zero()
	pub, err := publicCopy(priv, m.net)
	if err != nil {
		return nil, err
	}
	return newAccountKey(t, KeyOrigin{Fingerprint: m.fingerprint, Path: path}, true, pub, m.net)
}

// PrivKey returns the private key at path (from the master; at least one
// step) for signing. The caller should Zero it when done.
func (m *Master) PrivKey(path []uint32) (*btcec.PrivateKey, error) {
	k, err := m.derive(path)
	if err != nil {
		return nil, err
	}
	defer k.Zero()
	return k.ECPrivKey()
}

// DerivePath re-derives the address at a full standard path
// m/purpose'/coin'/account'/branch/index, as a PSBT's BIP32 derivation
// states it, so the signer can check that an input or change output is its
// own by comparing PkScript. The path must be BIP84 or BIP86 for the
// master's network.
func (m *Master) DerivePath(path []uint32) (*Derived, error) {
	t, err := m.addressPath(path)
	if err != nil {
		return nil, err
	}
	key := [3]uint32{path[0], path[1], path[2]}
	m.mu.Lock()
	acct := m.publics[key]
	m.mu.Unlock()
	if acct == nil {
		var err error
		if acct, err = m.Account(t, path[2]-hardened); err != nil {
			return nil, err
		}
		m.mu.Lock()
		if m.publics == nil {
			m.publics = map[[3]uint32]*AccountKey{}
		}
		m.publics[key] = acct
		m.mu.Unlock()
	}
	return acct.Derive(path[3], path[4])
}

// SigningKey is one address of the wallet with its private key, both from
// a single derivation: a signer checks with it that an input is its own,
// then signs the input with it.
type SigningKey struct {
	*Derived
	// Priv is the private key of Derived.PubKey (for P2TR the internal
	// key, before the BIP86 tweak).
	Priv *btcec.PrivateKey
}

// Zero wipes the private key.
func (k *SigningKey) Zero() { k.Priv.Zero() }

// SigningKey derives the private key at a full standard path (the paths
// DerivePath takes) and the address of its public key: one child step from
// the cached branch key, and one public key computed from the private one.
// The caller should Zero it when done.
func (m *Master) SigningKey(path []uint32) (*SigningKey, error) {
	t, err := m.addressPath(path)
	if err != nil {
		return nil, err
	}
	branch, err := m.branchKey(path)
	if err != nil {
		return nil, err
	}
	child, err := branch.Derive(path[4])
	if err != nil {
		return nil, fmt.Errorf("deriving %s: %w", KeyOrigin{Path: path}.PathString(), err)
	}
	priv, err := child.ECPrivKey()
	child.Zero()
	if err != nil {
		return nil, err
	}
	d := &Derived{PubKey: priv.PubKey(), Origin: KeyOrigin{Fingerprint: m.fingerprint, Path: append([]uint32(nil), path...)}}
	if err := d.fillScript(t, m.net); err != nil {
		priv.Zero()
		return nil, err
	}
	return &SigningKey{Derived: d, Priv: priv}, nil
}

// addressPath checks that path is a standard address path for the
// master's network, m/purpose'/coin'/account'/branch/index, and returns
// its script type.
func (m *Master) addressPath(path []uint32) (ScriptType, error) {
	if len(path) != 5 {
		return 0, fmt.Errorf("%w: path %s has %d steps; a wallet address path has 5 (m/purpose'/coin'/account'/branch/index)",
			ErrMalformed, KeyOrigin{Path: path}.PathString(), len(path))
	}
	t, ok := scriptTypeForPurpose(path[0])
	if !ok || path[0] < hardened {
		return 0, fmt.Errorf("%w: path %s is neither BIP84 (84') nor BIP86 (86')",
			ErrUnsupported, KeyOrigin{Path: path}.PathString())
	}
	if path[1] != m.net.HDCoinType+hardened {
		return 0, fmt.Errorf("%w: path %s has the wrong coin type for %s (want %d')",
			ErrWrongNetwork, KeyOrigin{Path: path}.PathString(), m.net.Name, m.net.HDCoinType)
	}
	if path[2] < hardened {
		return 0, fmt.Errorf("%w: path %s has an unhardened account", ErrNotAccountKey, KeyOrigin{Path: path}.PathString())
	}
	if path[3] > BranchChange {
		return 0, fmt.Errorf("%w: got %d", ErrBranch, path[3])
	}
	if path[4] >= hardened {
		return 0, fmt.Errorf("%w: got %d", ErrHardenedIndex, path[4])
	}
	return t, nil
}

// derive walks path from the root, wiping each intermediate private key.
// The result is always a new key the caller must Zero; an empty path is
// refused so the root itself is never handed out.
func (m *Master) derive(path []uint32) (*hdkeychain.ExtendedKey, error) {
	if m.root == nil {
		return nil, ErrWiped
	}
	if len(path) == 0 {
		return nil, fmt.Errorf("%w: empty derivation path; refusing to hand out the master key", ErrMalformed)
	}
	if len(path) > maxPathLen {
		return nil, fmt.Errorf("%w: path has %d steps; BIP32 allows at most %d", ErrMalformed, len(path), maxPathLen)
	}
	k, start := m.root, 0
	if acct := m.accountKey(path); acct != nil {
		k, start = acct, 3
	}
	for i := start; i < len(path); i++ {
		step := path[i]
		child, err := k.Derive(step)
		if i > start || (start == 0 && k != m.root) {
			k.Zero()
		}
		if err != nil {
			return nil, fmt.Errorf("deriving step %d of %s: %w", i+1, KeyOrigin{Path: path}.PathString(), err)
		}
		k = child
	}
	return k, nil
}

// accountKey returns the cached account-level private key for a path of at
// least three hardened steps, deriving it on first use. The cached key is
// the master's, never handed out.
func (m *Master) accountKey(path []uint32) *hdkeychain.ExtendedKey {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.accountKeyLocked(path)
}

func (m *Master) accountKeyLocked(path []uint32) *hdkeychain.ExtendedKey {
	if m.root == nil || len(path) < 4 || path[0] < hardened || path[1] < hardened || path[2] < hardened {
		return nil
	}
	key := [3]uint32{path[0], path[1], path[2]}
	if k, ok := m.accounts[key]; ok {
		return k
	}
	k := m.root
	for _, step := range key {
		child, err := k.Derive(step)
		if k != m.root {
			k.Zero()
		}
		if err != nil {
			return nil
		}
		k = child
	}
	// Memoized now, under the lock: deriving a child later only reads it.
	if _, err := k.ECPubKey(); err != nil {
		k.Zero()
		return nil
	}
	if m.accounts == nil {
		m.accounts = map[[3]uint32]*hdkeychain.ExtendedKey{}
	}
	m.accounts[key] = k
	return k
}

// branchKey returns the cached private key m/purpose'/coin'/account'/branch
// of an address path addressPath accepted, deriving it on first use.
func (m *Master) branchKey(path []uint32) (*hdkeychain.ExtendedKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.root == nil {
		return nil, ErrWiped
	}
	key := [4]uint32{path[0], path[1], path[2], path[3]}
	if k, ok := m.branches[key]; ok {
		return k, nil
	}
	acct := m.accountKeyLocked(path)
	if acct == nil {
		return nil, fmt.Errorf("%w: cannot derive the account key of %s", ErrMalformed, KeyOrigin{Path: path}.PathString())
	}
	k, err := acct.Derive(path[3])
	if err != nil {
		return nil, fmt.Errorf("deriving the branch of %s: %w", KeyOrigin{Path: path}.PathString(), err)
	}
	if _, err := k.ECPubKey(); err != nil {
		k.Zero()
		return nil, err
	}
	if m.branches == nil {
		m.branches = map[[4]uint32]*hdkeychain.ExtendedKey{}
	}
	m.branches[key] = k
	return k, nil
}

// Zero wipes the master private key and chain code from memory. Keys already
// handed out (PrivKey results) are the caller's to wipe. Every later call
// that needs the key returns ErrWiped.
func (m *Master) Zero() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range m.accounts {
		k.Zero()
	}
	for _, k := range m.branches {
		k.Zero()
	}
	m.accounts, m.branches, m.publics = nil, nil, nil
	if m.root != nil {
		m.root.Zero()
		m.root = nil
	}
}
