package keystore

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// Keystore is an opened keystore: the decrypted seed and its header.
// Call Wipe when done with it.
type Keystore struct {
	seed []byte
	meta Meta
}

// Seed returns the 64-byte BIP39 seed. The slice is the keystore's own, so
// Wipe clears it too: do not keep or modify it. It is nil after Wipe.
func (k *Keystore) Seed() []byte { return k.seed }

// Meta returns the keystore's header.
func (k *Keystore) Meta() Meta { return k.meta }

// Wipe zeroes the seed and forgets it.
func (k *Keystore) Wipe() {
	wipe(k.seed)
	k.seed = nil
}

// CheckBackup reports whether a written-down mnemonic and BIP39 passphrase
// (empty for none) give this keystore's seed: nil if they do,
// ErrBackupMismatch if they do not, or the mnemonic's validation error.
func (k *Keystore) CheckBackup(mnemonic string, bip39Passphrase []byte) error {
	if k.seed == nil {
		return errors.New("the keystore has been wiped")
	}
	seed, err := SeedFromMnemonic(mnemonic, bip39Passphrase)
	if err != nil {
		return err
	}
	defer wipe(seed)
	if subtle.ConstantTimeCompare(seed, k.seed) != 1 {
		return ErrBackupMismatch
	}
	return nil
}

// Create encrypts seed under passphrase and writes a new keystore at path
// with mode 0600. It never overwrites: if path exists it fails with an error
// wrapping fs.ErrExist. The directory must not be writable by every user.
// meta.Fingerprint is computed from the seed (a non-empty value must match);
// a zero meta.Created means now.
//
// The passphrase is used as given (after Unicode NFKD normalization); its
// length policy is the caller's (see package passphrase).
func Create(path string, seed []byte, meta Meta, passphrase []byte) error {
	return create(path, seed, meta, passphrase, productionKDF)
}

// Open reads the keystore at path and decrypts its seed with passphrase.
// A wrong passphrase or an altered file gives ErrWrongPassphrase; see the
// package documentation for what else it refuses.
func Open(path string, passphrase []byte) (*Keystore, error) {
	return open(path, passphrase, productionLimits)
}

func create(path string, seed []byte, meta Meta, passphrase []byte, params kdfParams) error {
	if len(seed) != SeedLen {
		return fmt.Errorf("keystore: a BIP39 seed has %d bytes, got %d", SeedLen, len(seed))
	}
	if len(passphrase) == 0 {
		return errors.New("keystore: refusing an empty passphrase")
	}
	if err := meta.Network.check(); err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	fingerprint, err := MasterFingerprint(seed)
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	if meta.Fingerprint != "" && meta.Fingerprint != fingerprint {
		return fmt.Errorf("keystore: the given fingerprint %q is not the seed's (%s)", printable(meta.Fingerprint), fingerprint)
	}
	meta.Fingerprint = fingerprint
	if meta.Created.IsZero() {
		meta.Created = time.Now()
	}
	meta.Created = meta.Created.UTC().Truncate(time.Second)

	// Fail before the costly KDF if the file could not be written anyway.
	if err := checkCreatable(path); err != nil {
		return err
	}

	f, err := seal(seed, meta, passphrase, params)
	if err != nil {
		return err
	}
	data, err := f.encode()
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	return writeNew(path, data)
}

// seal encrypts seed under passphrase with a fresh salt and nonce, binding
// meta and params. It trusts its arguments; create checks them.
func seal(seed []byte, meta Meta, passphrase []byte, params kdfParams) (*sealedFile, error) {
	f := &sealedFile{
		header: header{
			kdf:  params,
			salt: make([]byte, saltLen),
			meta: meta,
		},
		nonce: make([]byte, chacha20poly1305.NonceSizeX),
	}
	if _, err := rand.Read(f.salt); err != nil {
		return nil, fmt.Errorf("keystore: reading random salt: %w", err)
	}
	if _, err := rand.Read(f.nonce); err != nil {
		return nil, fmt.Errorf("keystore: reading random nonce: %w", err)
	}
	key := deriveKey(passphrase, f.salt, params)
	defer wipe(key)
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	f.ciphertext = aead.Seal(nil, f.nonce, seed, f.associatedData())
	return f, nil
}

func open(path string, passphrase []byte, limits kdfLimits) (*Keystore, error) {
	data, err := readPrivateFile(path)
	if err != nil {
		return nil, err
	}
	f, err := decodeFile(data, limits)
	if err != nil {
		return nil, fmt.Errorf("keystore %s: %w", path, err)
	}
	key := deriveKey(passphrase, f.salt, f.kdf)
	defer wipe(key)
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("keystore %s: %w", path, err)
	}
	seed, err := aead.Open(nil, f.nonce, f.ciphertext, f.associatedData())
	if err != nil {
		return nil, fmt.Errorf("keystore %s: %w", path, ErrWrongPassphrase)
	}
	// The header is authenticated, so this fails only if the writer put a
	// wrong fingerprint in it; a signer must not trust such a file.
	fingerprint, err := MasterFingerprint(seed)
	if err != nil || fingerprint != f.meta.Fingerprint {
		wipe(seed)
		return nil, fmt.Errorf("keystore %s: %w: the seed's fingerprint is not the header's %s",
			path, ErrMalformed, f.meta.Fingerprint)
	}
	return &Keystore{seed: seed, meta: f.meta}, nil
}
