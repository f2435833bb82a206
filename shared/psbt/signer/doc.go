// Package signer is BIP174's Signer role, and the one path by which both
// programs sign: the air-gapped signer (offline-signer/sign, after its
// policy review) and the service's hot wallet (online/hotwallet).
//
// The caller says which inputs are its own, with the derivation path of the
// key and the coin each spends, and may hand over the keys it derived to
// check that (Keys, Input.Key) so that no key is derived twice; Sign checks
// that each key owns its coin, signs (P2WPKH with SIGHASH_ALL, P2TR key
// path with the input's sighash or SIGHASH_DEFAULT), finalizes, and runs
// every signed input through the script engine (txscript.NewEngine) before
// it returns. A signature the engine refuses is an error and the packet is
// left as it was given: nothing unverified leaves this package. Because the
// engine checks every input, btcec's own check of a Schnorr signature
// after signing is skipped.
//
// Inputs are independent once the sighash midstates are computed
// (txscript.NewTxSigHashes, once per packet, then only read), so both the
// signing and the engine check run on every core (GOMAXPROCS workers), each
// worker writing only its own inputs. Nonces are deterministic (RFC 6979, as
// btcec makes them), so the signed bytes are the same whatever the
// scheduling, and an error names the first failing input in the order given.
//
// The package imports nothing that talks to a network or a database.
package signer
