// Package hotwallet holds the hot wallet's keys on the server and signs the
// service's own PSBTs with them.
//
// The seed is kept encrypted at rest in the signer's keystore format
// (shared/keystore: Argon2id, XChaCha20-Poly1305). Open unlocks it with a
// passphrase read from a file private to the service's user or from an
// inherited file descriptor (shared/passphrase), never from an argument or
// the environment, and checks that the keystore's account key is exactly
// the asset's configured hot_wallet_descriptor: a keystore holding another
// seed, another account or another network is refused with both keys
// named, so the service can never sign with keys whose addresses it does
// not watch, nor watch addresses it cannot spend.
//
// Sign accepts only PSBTs that spend the hot account's own coins (every
// input's key origin re-derives to the script it spends) and signs through
// shared/psbt/signer, the Signer role the air-gapped signer uses too, which
// checks every signed input with the script engine before anything is
// returned. The service builds these PSBTs itself from coins it read from
// the node, so no policy review runs here: that is the cold signer's job.
package hotwallet
