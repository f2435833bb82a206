// Package addresses hands out receive addresses derived from the hot
// wallet's account-level public key (BIP84 P2WPKH by default, BIP86 P2TR as
// the alternative). The next index is taken from the wallet's row inside the
// serializable transaction that stores the address, so an index, and so an
// address, is never handed out twice or to two accounts; the UNIQUE
// constraints on the addresses table are the last guard.
package addresses
