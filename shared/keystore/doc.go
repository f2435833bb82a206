// Package keystore keeps the cold wallet's BIP39 seed encrypted at rest.
//
// Its one job is the seed's life outside memory: making a mnemonic, checking
// one a person typed, turning it into the BIP39 seed, and storing that seed
// in a passphrase-protected file that only its owner can read.
//
// # File format (version 1)
//
// A keystore is one small JSON object:
//
//	{
//	  "version": 1,
//	  "kdf": {"name": "argon2id", "memory_kib": 262144, "iterations": 3,
//	          "parallelism": 4, "salt": "<16 bytes, lowercase hex>"},
//	  "cipher": "xchacha20-poly1305",
//	  "nonce": "<24 bytes, lowercase hex>",
//	  "ciphertext": "<64-byte seed + 16-byte tag, lowercase hex>",
//	  "network": "mainnet" | "testnet" | "signet" | "regtest",
//	  "fingerprint": "73c5da0a",
//	  "created": "2024-01-02T03:04:05Z"
//	}
//
// The key is Argon2id (RFC 9106) of the passphrase; 256 MiB and 3 passes take
// about half a second on a laptop, which is cheap for the owner and costly for
// anyone guessing. Every header field is bound into the AEAD's associated data
// (one "name=value" line each), so changing the network, fingerprint, date or KDF
// parameters makes decryption fail exactly as a wrong passphrase does: the
// two cannot be told apart, and ErrWrongPassphrase says so.
//
// Open refuses before doing any work: a file readable or writable by group or
// others (ErrInsecurePermissions), an unknown version, KDF or cipher
// (ErrUnsupported), KDF parameters outside a fixed range, too weak or so large
// that a hostile file could make us allocate gigabytes (ErrKDFParams), and
// anything malformed (ErrMalformed). After decrypting it checks that the seed
// really has the fingerprint the header claims.
//
// # What is encrypted: the seed, not the mnemonic
//
// Only the 64-byte BIP39 seed is stored. The mnemonic is the person's paper
// backup; keeping a second copy on disk would add a way for it to leak (and
// a reason to show it on screen) while giving nothing the seed does not:
// signing needs only the seed. A backup is checked instead by typing the
// mnemonic (and BIP39 passphrase, if any) back in: Keystore.CheckBackup
// derives the seed and compares. The keystore passphrase is never stored.
//
// # Mnemonics
//
// BIP39 itself (wordlist, checksum, PBKDF2 seed) is
// github.com/cosmos/go-bip39, checked against the published vectors in
// testdata. Only the English wordlist is supported. Input is normalized as
// BIP39 asks (Unicode NFKD), then lower-cased and split on any whitespace,
// so "Abandon  abandon\n..." is accepted. BIP39 passphrases are NFKD
// normalized; keystore passphrases too, so that the same characters typed
// on another keyboard open the file.
//
// # Wiping secrets, and its limits
//
// Keystore.Wipe, and the functions here on their own temporaries, zero the
// byte slices that held seeds, keys and entropy. Go does not let us do more:
// strings (the mnemonic, and the copies go-bip39 makes of mnemonic and BIP39
// passphrase) cannot be zeroed; the AEAD keeps its own copy of the key;
// Argon2's work area, big.Int temporaries and any slice that append or the
// runtime copied are left to the garbage collector; and the OS may write any
// page to swap or a core dump. Run the signer with encrypted or no swap and
// core dumps disabled.
//
// Error messages about a mnemonic name the offending word and its position
// so a person can fix it; they are for the screen of the air-gapped machine,
// not for logs that leave it.
//
// The package never imports networking, database or online/ code: it is
// linked into the air-gapped signer.
package keystore
