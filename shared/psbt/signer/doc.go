// Package signer is BIP174's Signer role, and the one path by which both
// programs sign: the air-gapped signer (offline-signer/sign, after its
// policy review) and the service's hot wallet (online/hotwallet).
//
// The caller says which inputs are its own, with the derivation path of the
// key and the coin each spends; Sign re-derives each private key from the
// master key, signs (P2WPKH with SIGHASH_ALL, P2TR key path with the
// input's sighash or SIGHASH_DEFAULT), finalizes what is complete, and runs
// every signed input through the script engine (txscript.NewEngine) before
// it returns. A signature the engine refuses is an error and the packet is
// left without it: nothing unverified leaves this package.
//
// The package imports nothing that talks to a network or a database.
package signer
