package hdkeys

import "errors"

// Errors callers may branch on. Functions wrap them with details, so test
// with errors.Is.
var (
	// ErrMalformed: the text is not a descriptor, key or path this package
	// can read.
	ErrMalformed = errors.New("malformed descriptor or key")
	// ErrChecksum: the descriptor's #checksum does not match its text.
	ErrChecksum = errors.New("descriptor checksum mismatch (the descriptor was altered or mistyped)")
	// ErrPrivateKey: an extended private key was given where a public one
	// belongs.
	ErrPrivateKey = errors.New("this is a private key; export the xpub")
	// ErrWrongNetwork: the key or path belongs to another Bitcoin network.
	ErrWrongNetwork = errors.New("key is for another network")
	// ErrNotAccountKey: the key is not an account-level key
	// (m/purpose'/coin'/account', depth 3, hardened).
	ErrNotAccountKey = errors.New("not an account-level key")
	// ErrScriptTypeMismatch: the path's purpose does not match the script
	// type (84' is P2WPKH, 86' is P2TR).
	ErrScriptTypeMismatch = errors.New("script type does not match the derivation path")
	// ErrUnsupported: a well-formed descriptor or key of a kind this wallet
	// does not use (sh(), multisig, ypub, a taproot script tree...).
	ErrUnsupported = errors.New("unsupported descriptor or key type")
	// ErrAmbiguousScriptType: a bare xpub/tpub does not say whether it is for
	// P2WPKH or P2TR addresses.
	ErrAmbiguousScriptType = errors.New("script type not stated")
	// ErrBranch: a branch other than 0 (receive) or 1 (change).
	ErrBranch = errors.New("branch must be 0 (receive) or 1 (change)")
	// ErrHardenedIndex: an address index of 2^31 or more.
	ErrHardenedIndex = errors.New("address index must be non-hardened (below 2^31)")
	// ErrWiped: the Master was used after Zero.
	ErrWiped = errors.New("master key has been wiped")
)
