package hdkeys

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"
)

// keyFamily is the group of networks an extended key's version bytes belong
// to: the test networks (testnet, regtest, signet) share theirs.
type keyFamily int

const (
	familyMain keyFamily = iota + 1
	familyTest
)

func (f keyFamily) String() string {
	if f == familyMain {
		return "mainnet"
	}
	return "test-network (testnet/regtest/signet)"
}

// keyVersion describes one set of extended public key version bytes, from
// BIP32 and SLIP-132.
type keyVersion struct {
	name        string
	family      keyFamily
	implies     ScriptType // SLIP-132 keys name their script type; 0 if not
	unsupported string     // why this wallet cannot use it; "" if it can
}

var publicKeyVersions = map[uint32]keyVersion{
	0x0488b21e: {name: "xpub", family: familyMain},
	0x04b24746: {name: "zpub", family: familyMain, implies: P2WPKH},
	0x049d7cb2: {name: "ypub", family: familyMain, unsupported: "a ypub is for P2SH-wrapped segwit (BIP49), which this wallet does not use"},
	0x0295b43f: {name: "Ypub", family: familyMain, unsupported: "a Ypub is a P2SH-P2WSH multisig key, which this wallet does not use"},
	0x02aa7ed3: {name: "Zpub", family: familyMain, unsupported: "a Zpub is a P2WSH multisig key, which this wallet does not use"},
	0x043587cf: {name: "tpub", family: familyTest},
	0x045f1cf6: {name: "vpub", family: familyTest, implies: P2WPKH},
	0x044a5262: {name: "upub", family: familyTest, unsupported: "a upub is for P2SH-wrapped segwit (BIP49), which this wallet does not use"},
}

// privateKeyVersions lists extended private key version bytes whose key data
// might still fail to be recognised as private (hdkeychain only looks at the
// leading 0x00 of the key data).
var privateKeyVersions = map[uint32]string{
	0x0488ade4: "xprv", 0x04b2430c: "zprv", 0x049d7878: "yprv",
	0x04358394: "tprv", 0x045f18bc: "vprv", 0x044a4e28: "uprv",
}

// networkFamily returns the key family a network's extended keys use, or 0
// for networks with their own version bytes (simnet).
func networkFamily(net *chaincfg.Params) keyFamily {
	switch net.HDPublicKeyID {
	case chaincfg.MainNetParams.HDPublicKeyID:
		return familyMain
	case chaincfg.TestNet3Params.HDPublicKeyID:
		return familyTest
	}
	return 0
}

// parseExtendedPublicKey decodes a base58 extended public key for net. It
// returns the key re-labelled with net's standard version bytes (so a zpub
// becomes an xpub) and the script type the version bytes imply, if any.
func parseExtendedPublicKey(s string, net *chaincfg.Params) (*hdkeychain.ExtendedKey, ScriptType, error) {
	k, err := hdkeychain.NewKeyFromString(s)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: not a valid extended public key (%v)", ErrMalformed, describeKeyError(err))
	}
	version := binary.BigEndian.Uint32(k.Version())
	if _, isPrivVersion := privateKeyVersions[version]; k.IsPrivate() || isPrivVersion {
		return nil, 0, ErrPrivateKey
	}
	var implied ScriptType
	if version != binary.BigEndian.Uint32(net.HDPublicKeyID[:]) {
		v, known := publicKeyVersions[version]
		if !known {
			return nil, 0, fmt.Errorf("%w: unknown extended key version bytes %08x", ErrMalformed, version)
		}
		if v.unsupported != "" {
			return nil, 0, fmt.Errorf("%w: %s", ErrUnsupported, v.unsupported)
		}
		if v.family != networkFamily(net) {
			return nil, 0, fmt.Errorf("%w: this is a %s key (%s), but the wallet is on %s",
				ErrWrongNetwork, v.family, v.name, net.Name)
		}
		implied = v.implies
	}
	pub, err := publicCopy(k, net)
	if err != nil {
		return nil, 0, err
	}
	return pub, implied, nil
}

// describeKeyError turns hdkeychain's decoding errors into words for a person.
func describeKeyError(err error) string {
	switch {
	case errors.Is(err, hdkeychain.ErrBadChecksum):
		return "its checksum is wrong; check for a typo"
	case errors.Is(err, hdkeychain.ErrInvalidKeyLen):
		return "wrong length; it may be truncated or not base58"
	}
	return "its key data is not a valid secp256k1 key"
}

// publicCopy returns the public extended key of k labelled with net's
// version bytes, in freshly allocated memory. hdkeychain's Neuter shares the
// chain code with the private key, and ExtendedKey.Zero would then wipe the
// public copy too.
func publicCopy(k *hdkeychain.ExtendedKey, net *chaincfg.Params) (*hdkeychain.ExtendedKey, error) {
	pub, err := k.ECPubKey()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	version := net.HDPublicKeyID // array copy: never alias the global params
	parentFP := make([]byte, 4)
	binary.BigEndian.PutUint32(parentFP, k.ParentFingerprint())
	return hdkeychain.NewExtendedKey(version[:], pub.SerializeCompressed(), k.ChainCode(),
		parentFP, k.Depth(), k.ChildIndex(), false), nil
}
