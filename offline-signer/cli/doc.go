// Package cli is the command line of the air-gapped signer,
// `cryptoassets-signer`. It runs on a machine with no network.
package cli
