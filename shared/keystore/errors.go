package keystore

import "errors"

// Errors callers can branch on with errors.Is. Returned errors wrap them with
// the details (path, field, value).
var (
	// ErrWrongPassphrase means authenticated decryption failed: the
	// passphrase is wrong, or the file was altered or damaged (the two look
	// the same by design).
	ErrWrongPassphrase = errors.New("wrong passphrase, or the keystore file was altered or damaged")

	// ErrInsecurePermissions means a keystore file or its directory is open
	// to other users.
	ErrInsecurePermissions = errors.New("insecure permissions")

	// ErrMalformed means the file is not a well-formed keystore.
	ErrMalformed = errors.New("not a valid keystore file")

	// ErrUnsupported means a well-formed keystore of a version, KDF or cipher
	// this program does not know.
	ErrUnsupported = errors.New("unsupported keystore format")

	// ErrKDFParams means the key-derivation parameters are outside the range
	// this program accepts: too weak to protect the seed, or so costly that
	// running them could exhaust the machine.
	ErrKDFParams = errors.New("key-derivation parameters out of range")

	// ErrInvalidMnemonic means a mnemonic is not valid BIP39 English.
	ErrInvalidMnemonic = errors.New("invalid mnemonic")

	// ErrMnemonicChecksum means every word is in the wordlist but the
	// checksum does not match: a word is wrong or out of order. Errors
	// wrapping it also wrap ErrInvalidMnemonic.
	ErrMnemonicChecksum = errors.New("checksum does not match: a word is wrong or the words are out of order")

	// ErrBackupMismatch means a mnemonic and BIP39 passphrase are valid but
	// do not give the keystore's seed.
	ErrBackupMismatch = errors.New("the mnemonic and BIP39 passphrase do not give this keystore's seed")
)
