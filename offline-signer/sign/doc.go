// Package sign is the air-gapped signer's core: it verifies everything in a
// PSBT that it can check itself, then signs with keys re-derived from the
// seed, finalizes, and verifies the result with the script engine.
//
// The checks, in the order Review runs them (each refusal names its rule):
//
//  1. UTXO data agrees with itself; every segwit v0 input carries its full
//     previous transaction (CVE-2020-14199), so the fee shown is the fee paid.
//  2. The PSBT is not already fully signed.
//  3. Every input is ours: a derivation with our fingerprint whose path,
//     re-derived from the seed, gives the input's script and public key.
//  4. Every output claiming to be our change re-derives to its script.
//  5. Every other output goes where the policy allows (the hot wallet).
//  6. The fee is within the policy's caps; sighash types are allowed.
//
// The network is enforced by the derivation paths' coin type, which must be
// the keystore's.
package sign
