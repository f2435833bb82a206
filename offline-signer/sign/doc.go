// Package sign is the air-gapped signer's core: it verifies everything in a
// PSBT that it can check itself, then signs with keys re-derived from the
// seed, finalizes, and verifies the result with the script engine.
//
// The checks, in the order Review runs them (each refusal names its rule):
//
//  1. The codec and the summary: fields bounded, no coin spent twice, UTXO
//     data agrees with itself; every segwit v0 input carries its full
//     previous transaction (CVE-2020-14199), so the fee shown is the fee paid.
//  2. The PSBT is not already signed, wholly or in part, and no input
//     carries another signer's partial signature (ours are single-key).
//  3. Every input is ours: a derivation with our fingerprint whose path,
//     re-derived from the seed, gives the input's script and public key.
//  4. Every output claiming to be our change re-derives to its script, and
//     sits where a restore finds it: an account the inputs spend from (so
//     their script type), the change branch, an index below the policy's
//     change_lookahead.
//  5. Every other output goes where the policy allows: an allowed address,
//     or the hot wallet's first hot_wallet_lookahead addresses of a branch.
//     A derivation the PSBT states for such an output is ignored.
//  6. The fee is within the policy's caps; sighash types are allowed.
//
// Review labels every output of the summary with what it was found to be,
// and lists the inputs whose amount is claimed rather than read from a
// previous transaction (taproot inputs without it): the script check after
// signing can only run against that claim, and the command line says so.
//
// Review derives each input's key once (on every core, through
// shared/psbt/signer.Keys) and keeps it for Sign, which signs with it and
// wipes it; a review that is not signed is wiped with Review.Wipe. Signing
// and the script check run on every core too (shared/psbt/signer).
//
// The network is enforced by the derivation paths' coin type, which must be
// the keystore's.
package sign
