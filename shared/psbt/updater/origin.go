package updater

import (
	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"

	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
)

// origin is a key's origin in both PSBT forms; a key fills one of them.
type origin struct {
	internalKey []byte
	tap         []*btcpsbt.TaprootBip32Derivation
	bip32       []*btcpsbt.Bip32Derivation
}

func originOf(d *hdkeys.Derived) origin {
	path := append([]uint32(nil), d.Origin.Path...)
	if d.TaprootInternalKey != nil {
		return origin{internalKey: d.TaprootInternalKey, tap: []*btcpsbt.TaprootBip32Derivation{{
			XOnlyPubKey: d.TaprootInternalKey, MasterKeyFingerprint: d.Origin.Fingerprint, Bip32Path: path}}}
	}
	return origin{bip32: []*btcpsbt.Bip32Derivation{{
		PubKey: d.PubKey.SerializeCompressed(), MasterKeyFingerprint: d.Origin.Fingerprint, Bip32Path: path}}}
}

// InputKey records that input in spends a coin of key d.
func InputKey(in *btcpsbt.PInput, d *hdkeys.Derived) {
	o := originOf(d)
	in.TaprootInternalKey, in.TaprootBip32Derivation, in.Bip32Derivation = o.internalKey, o.tap, o.bip32
}

// OutputKey records that output out pays key d (change coming back).
func OutputKey(out *btcpsbt.POutput, d *hdkeys.Derived) {
	o := originOf(d)
	out.TaprootInternalKey, out.TaprootBip32Derivation, out.Bip32Derivation = o.internalKey, o.tap, o.bip32
}
