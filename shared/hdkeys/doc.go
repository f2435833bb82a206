// Package hdkeys turns BIP32 keys into this wallet's addresses and back.
//
// Its one job is hierarchical-deterministic key handling shared by both
// halves of the system:
//
//   - the online service parses the hot and cold wallets' account-level
//     public keys (output descriptors such as
//     wpkh([73c5da0a/84h/0h/0h]xpub.../<0;1>/*), or bare xpub/zpub strings)
//     with ParseDescriptor, and derives receive (branch 0) and change
//     (branch 1) addresses from them with AccountKey.Derive;
//   - the air-gapped signer holds a Master built from its seed, exports the
//     account keys (Master.Account, AccountKey.Descriptor), re-derives the
//     inputs and change outputs of a PSBT to check they are its own
//     (Master.DerivePath), and gets the private keys to sign with
//     (Master.PrivKey).
//
// Two script types are supported, each with its standard path:
// P2WPKH (BIP84, m/84'/coin'/account') and single-key P2TR (BIP86,
// m/86'/coin'/account', output key = internal key tweaked with an empty
// script tree). The coin type is 0 on mainnet and 1 on the test networks.
//
// All cryptography is btcd's (hdkeychain, btcec, txscript); this package
// only parses, checks and wires it together. Parsing refuses anything that
// could silently put money somewhere the wallet does not expect: private
// keys, keys for another network, keys that are not at account depth, and
// descriptors whose path disagrees with their script type. Error messages
// never repeat the key text given, since it may be a secret.
//
// Master fingerprints follow btcd's psbt package: the uint32 is the first
// four bytes of hash160(master public key) read little-endian, and
// KeyOrigin.FingerprintHex prints them in the usual order ("73c5da0a").
package hdkeys
