// Package cold builds the unsigned PSBTs that move coins from the cold
// wallet to the hot wallet, described so the air-gapped signer can verify
// everything itself: every input carries its full previous transaction and
// the BIP32 (or taproot BIP32) origin of its key, and the change output
// carries its origin so the signer re-derives it.
package cold
