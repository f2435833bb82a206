package hdkeys

import (
	"errors"
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"
)

// maxDescriptorLen bounds the input; a real account descriptor is about 150
// characters.
const maxDescriptorLen = 1024

// multipathSuffix is BIP389's "receive and change" derivation, the form
// Descriptor writes.
const multipathSuffix = "/<0;1>/*"

// privateKeyPrefixes are the base58 prefixes of extended private keys; text
// starting with one is refused as a private key even if it fails to decode,
// so a mistyped xprv is not reported as a mere typo.
var privateKeyPrefixes = []string{"xprv", "tprv", "zprv", "vprv", "yprv", "uprv", "Yprv", "Zprv", "Uprv", "Vprv"}

// ParseDescriptor reads an account-level public key for net. It accepts
//
//	wpkh([73c5da0a/84h/0h/0h]xpub.../<0;1>/*)#checksum
//	tr([73c5da0a/86h/0h/0h]xpub...)
//
// with or without the [origin], with or without a /<0;1>/* or /0/* suffix,
// and with or without a #checksum (verified when present, BIP380); hardened
// steps may be written ', h or H. It also accepts a bare zpub or vpub
// (SLIP-132: P2WPKH). A bare xpub or tpub is refused with
// ErrAmbiguousScriptType, because it does not say which addresses to make:
// wrap it in wpkh() or tr().
//
// The key must be public, for net, at depth 3 with a hardened account
// number, and any origin path must be the standard one for the script type
// and network: m/84'/coin'/account' for wpkh(), m/86'/coin'/account' for
// tr(), coin 0 on mainnet and 1 on the test networks.
func ParseDescriptor(s string, net *chaincfg.Params) (*AccountKey, error) {
	if net == nil {
		return nil, errors.New("hdkeys: ParseDescriptor needs a network")
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("%w: empty descriptor", ErrMalformed)
	}
	if len(s) > maxDescriptorLen {
		return nil, fmt.Errorf("%w: descriptor is %d characters long; an account descriptor is under %d",
			ErrMalformed, len(s), maxDescriptorLen)
	}
	body, err := stripChecksum(s)
	if err != nil {
		return nil, err
	}
	scriptType, keyExpr, err := splitScript(body)
	if err != nil {
		return nil, err
	}
	origin, hasOrigin, keyText, suffix, err := splitKeyExpression(keyExpr)
	if err != nil {
		return nil, err
	}
	for _, p := range privateKeyPrefixes {
		if strings.HasPrefix(keyText, p) {
			return nil, ErrPrivateKey
		}
	}
	key, implied, err := parseExtendedPublicKey(keyText, net)
	if err != nil {
		return nil, err
	}
	switch suffix {
	case "", multipathSuffix, "/0/*":
	default:
		return nil, fmt.Errorf("%w: only /<0;1>/* or /0/* may follow the key; give the account key itself, not a branch or address below it",
			ErrUnsupported)
	}
	switch {
	case scriptType == 0 && implied == 0:
		return nil, fmt.Errorf("%w: a bare xpub or tpub does not say which addresses to make; write wpkh(KEY) for P2WPKH (BIP84) or tr(KEY) for P2TR (BIP86)",
			ErrAmbiguousScriptType)
	case scriptType == 0:
		scriptType = implied
	case implied != 0 && implied != scriptType:
		return nil, fmt.Errorf("%w: the key's version bytes (zpub/vpub) mean %v, but the descriptor is %s()",
			ErrScriptTypeMismatch, implied, scriptType.descriptorFunc())
	}
	return accountFromParts(scriptType, origin, hasOrigin, key, net)
}

// splitScript separates "wpkh(KEY)" or "tr(KEY)" into type and KEY; text
// without parentheses is a bare key (type 0).
func splitScript(body string) (ScriptType, string, error) {
	open := strings.IndexByte(body, '(')
	if open < 0 {
		if strings.IndexByte(body, ')') >= 0 {
			return 0, "", fmt.Errorf("%w: unbalanced ')'", ErrMalformed)
		}
		return 0, body, nil
	}
	name := body[:open]
	if !isFunctionName(name) {
		return 0, "", fmt.Errorf("%w: expected a descriptor such as wpkh(...) or tr(...)", ErrMalformed)
	}
	if !strings.HasSuffix(body, ")") {
		return 0, "", fmt.Errorf("%w: %s( is not closed by ')' at the end", ErrMalformed, name)
	}
	inner := body[open+1 : len(body)-1]
	var t ScriptType
	switch name {
	case "wpkh":
		t = P2WPKH
	case "tr":
		t = P2TR
		if strings.IndexByte(inner, ',') >= 0 {
			return 0, "", fmt.Errorf("%w: tr() with a script tree; only single-key taproot (BIP86) is supported", ErrUnsupported)
		}
	default:
		return 0, "", fmt.Errorf("%w: %s() descriptors; use wpkh() or tr()", ErrUnsupported, name)
	}
	if strings.ContainsAny(inner, "(),") {
		return 0, "", fmt.Errorf("%w: %s() takes exactly one key", ErrMalformed, name)
	}
	return t, inner, nil
}

// isFunctionName reports whether s looks like a descriptor function name
// (short, letters, digits and underscores), so it is safe to quote.
func isFunctionName(s string) bool {
	if s == "" || len(s) > 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// splitKeyExpression separates "[fingerprint/path]KEY/suffix".
func splitKeyExpression(expr string) (origin KeyOrigin, hasOrigin bool, keyText, suffix string, err error) {
	rest := expr
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return KeyOrigin{}, false, "", "", fmt.Errorf("%w: key origin has no closing ']'", ErrMalformed)
		}
		fpText, pathText, hasPath := strings.Cut(rest[1:end], "/")
		origin.Fingerprint, err = parseFingerprintHex(fpText)
		if err != nil {
			return KeyOrigin{}, false, "", "", err
		}
		origin.Path = []uint32{}
		if hasPath {
			if origin.Path, err = parsePathSteps(pathText); err != nil {
				return KeyOrigin{}, false, "", "", err
			}
		}
		hasOrigin = true
		rest = rest[end+1:]
	}
	if strings.ContainsAny(rest, "[]") {
		return KeyOrigin{}, false, "", "", fmt.Errorf("%w: misplaced '[' or ']'", ErrMalformed)
	}
	keyText = rest
	if slash := strings.IndexByte(rest, '/'); slash >= 0 {
		keyText, suffix = rest[:slash], rest[slash:]
	}
	return origin, hasOrigin, keyText, suffix, nil
}

// accountFromParts checks that key is an account-level key whose origin (if
// given) is the standard path for t on net, and builds the AccountKey.
func accountFromParts(t ScriptType, origin KeyOrigin, hasOrigin bool,
	key *hdkeychain.ExtendedKey, net *chaincfg.Params) (*AccountKey, error) {

	if d := key.Depth(); d != 3 {
		hint := ""
		switch {
		case d == 0:
			hint = " (this is a master key)"
		case d > 3:
			hint = " (this is a branch or address key below the account)"
		}
		return nil, fmt.Errorf("%w: the key is at depth %d%s; export the account key at depth 3, m/%d'/%d'/account'",
			ErrNotAccountKey, d, hint, t.Purpose(), net.HDCoinType)
	}
	account := key.ChildIndex()
	if account < hardened {
		return nil, fmt.Errorf("%w: the key's own child number %d is not hardened; BIP84/BIP86 accounts are m/purpose'/coin'/account'",
			ErrNotAccountKey, account)
	}
	want := standardAccountPath(t, net, account)
	if !hasOrigin {
		return newAccountKey(t, KeyOrigin{Path: want}, false, key, net)
	}
	if len(origin.Path) != 3 {
		return nil, fmt.Errorf("%w: key origin path %s has %d steps, but the key is at depth 3",
			ErrMalformed, origin.PathString(), len(origin.Path))
	}
	if got := origin.Path[0]; got != want[0] {
		if other, ok := scriptTypeForPurpose(got); ok && got >= hardened {
			return nil, fmt.Errorf("%w: the path %s is for %v (BIP%d), but the descriptor is %s(), which needs m/%d' paths",
				ErrScriptTypeMismatch, origin.PathString(), other, other.Purpose(), t.descriptorFunc(), t.Purpose())
		}
		return nil, fmt.Errorf("%w: the path %s does not start with %d' as %s() needs (BIP%d)",
			ErrScriptTypeMismatch, origin.PathString(), t.Purpose(), t.descriptorFunc(), t.Purpose())
	}
	if got := origin.Path[1]; got != want[1] {
		if got == hardened+0 || got == hardened+1 {
			return nil, fmt.Errorf("%w: the path %s has coin type %d' (%s), but the wallet is on %s (coin type %d')",
				ErrWrongNetwork, origin.PathString(), got-hardened, coinTypeNetwork(got-hardened), net.Name, net.HDCoinType)
		}
		return nil, fmt.Errorf("%w: the path %s has coin type %s; on %s it must be %d'",
			ErrNotAccountKey, origin.PathString(), formatPathSteps(origin.Path[1:2], "'")[1:], net.Name, net.HDCoinType)
	}
	if origin.Path[2] != account {
		return nil, fmt.Errorf("%w: the key origin says account %s, but the key itself is account %s",
			ErrMalformed, formatPathSteps(origin.Path[2:], "'")[1:], formatPathSteps([]uint32{account}, "'")[1:])
	}
	return newAccountKey(t, origin, true, key, net)
}

// coinTypeNetwork names the networks of the two coin types in use here.
func coinTypeNetwork(coin uint32) string {
	if coin == 0 {
		return "mainnet"
	}
	return "test networks"
}

// Descriptor returns the canonical output descriptor of the account, with
// receive and change branches and a BIP380 checksum:
//
//	wpkh([73c5da0a/84h/0h/0h]xpub.../<0;1>/*)#checksum
//
// The [origin] is left out when the fingerprint is not known.
func (a *AccountKey) Descriptor() string {
	var b strings.Builder
	b.WriteString(a.Type.descriptorFunc())
	b.WriteByte('(')
	if a.fingerprintKnown {
		b.WriteByte('[')
		b.WriteString(a.Origin.FingerprintHex())
		b.WriteString(formatPathSteps(a.Origin.Path, "h"))
		b.WriteByte(']')
	}
	b.WriteString(a.Key.String())
	b.WriteString(multipathSuffix)
	b.WriteByte(')')
	return withChecksum(b.String())
}

// String returns Descriptor().
func (a *AccountKey) String() string { return a.Descriptor() }
