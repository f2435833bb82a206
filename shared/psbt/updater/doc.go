// Package updater is BIP174's Updater role for the wallets' own keys: it
// adds to a PSBT's inputs and outputs the key origins (fingerprint and
// derivation path, in the BIP32 form for segwit v0 keys and the taproot
// form for segwit v1) a signer needs to find and check its keys.
//
// The online service's hot batches and cold top-ups are both decorated
// here, so the two signers read the same fields.
package updater
