package addresses

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/txscript"
)

// AccountKey is a wallet's account-level public key (depth 3, e.g.
// m/84'/0'/0') with its script type. It derives receive (branch 0) and
// change (branch 1) addresses.
type AccountKey struct {
	scriptType string
	origin     string // "[fingerprint/84h/0h/0h]" or ""
	xpub       string
	net        *chaincfg.Params
	branches   [2]*hdkeychain.ExtendedKey
}

var descriptorForm = regexp.MustCompile(`^(wpkh|tr)\((\[[0-9a-fA-F]{8}(?:/[0-9]+[hH']?)*\])?([1-9A-HJ-NP-Za-km-z]+)(/<0;1>/\*|/0/\*)?\)(#[a-z0-9]{8})?$`)

// ParseKey reads an account-level public key: a descriptor such as
// wpkh([73c5da0a/84h/0h/0h]xpub.../<0;1>/*) or tr([...]xpub...), or a bare
// xpub/tpub (P2WPKH). It refuses private keys, keys of another network and
// keys that are not at account depth.
func ParseKey(s string, net *chaincfg.Params) (*AccountKey, error) {
	s = strings.TrimSpace(s)
	k := &AccountKey{scriptType: "p2wpkh", net: net}
	key := s
	if m := descriptorForm.FindStringSubmatch(s); m != nil {
		if m[1] == "tr" {
			k.scriptType = "p2tr"
		}
		k.origin, key = m[2], m[3]
	} else if strings.ContainsAny(s, "()[]") {
		return nil, errors.New("not a descriptor this service reads: use wpkh([fingerprint/84h/0h/0h]xpub...) or tr([fingerprint/86h/0h/0h]xpub...)")
	}
	ext, err := hdkeychain.NewKeyFromString(key)
	if err != nil {
		return nil, fmt.Errorf("extended key: %w", err)
	}
	if ext.IsPrivate() {
		return nil, errors.New("this is a private key: the online service takes only the account's public key (xpub/tpub)")
	}
	if !ext.IsForNet(net) {
		return nil, fmt.Errorf("the key is not for %s: export the account key of the right network", net.Name)
	}
	if ext.Depth() != 3 {
		return nil, fmt.Errorf("the key is at depth %d: export the account-level key (depth 3, like m/84'/0'/0')", ext.Depth())
	}
	if k.origin != "" {
		purpose := strings.Split(strings.Trim(k.origin, "[]"), "/")
		if len(purpose) != 4 {
			return nil, errors.New("key origin: want [fingerprint/purpose'/coin'/account']")
		}
		want := map[string]string{"p2wpkh": "84", "p2tr": "86"}[k.scriptType]
		if strings.TrimRight(purpose[1], "hH'") != want {
			return nil, fmt.Errorf("key origin %s does not match %s (purpose %s')", k.origin, k.scriptType, want)
		}
	}
	k.xpub = key
	for b := uint32(0); b < 2; b++ {
		if k.branches[b], err = ext.Derive(b); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// Descriptor implements Deriver.
func (k *AccountKey) Descriptor() string {
	fn := map[string]string{"p2wpkh": "wpkh", "p2tr": "tr"}[k.scriptType]
	return fn + "(" + k.origin + k.xpub + "/<0;1>/*)"
}

// ScriptType implements Deriver.
func (k *AccountKey) ScriptType() string { return k.scriptType }

// Derive implements Deriver.
func (k *AccountKey) Derive(branch, index uint32) (Derived, error) {
	if branch > 1 || index >= hdkeychain.HardenedKeyStart {
		return Derived{}, fmt.Errorf("derive %d/%d: branch must be 0 or 1 and the index below 2^31", branch, index)
	}
	child, err := k.branches[branch].Derive(index)
	if err != nil {
		return Derived{}, err
	}
	pub, err := child.ECPubKey()
	if err != nil {
		return Derived{}, err
	}
	var addr btcutil.Address
	if k.scriptType == "p2tr" {
		out := txscript.ComputeTaprootKeyNoScript(pub)
		addr, err = btcutil.NewAddressTaproot(schnorr.SerializePubKey(out), k.net)
	} else {
		addr, err = btcutil.NewAddressWitnessPubKeyHash(btcutil.Hash160(pub.SerializeCompressed()), k.net)
	}
	if err != nil {
		return Derived{}, err
	}
	script, err := txscript.PayToAddrScript(addr)
	if err != nil {
		return Derived{}, err
	}
	path := ""
	if k.origin != "" {
		parts := strings.Split(strings.Trim(k.origin, "[]"), "/")[1:]
		for i, p := range parts {
			parts[i] = strings.TrimRight(p, "hH'") + "'"
		}
		path = "m/" + strings.Join(parts, "/") + "/" + strconv.Itoa(int(branch)) + "/" + strconv.FormatUint(uint64(index), 10)
	}
	return Derived{Address: addr.EncodeAddress(), Script: script, Path: path}, nil
}
