package hdkeys

import (
	"fmt"
	"strings"
)

// ScriptType is the kind of output an account pays to.
type ScriptType int

// The zero ScriptType is deliberately invalid, so a forgotten field is an
// error rather than a silent default.
const (
	// P2WPKH is native segwit v0 pay-to-witness-pubkey-hash, BIP84 paths.
	P2WPKH ScriptType = iota + 1
	// P2TR is single-key taproot (key path only), BIP86 paths.
	P2TR
)

// ParseScriptType reads "p2wpkh" or "p2tr" (any case).
func ParseScriptType(s string) (ScriptType, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "p2wpkh":
		return P2WPKH, nil
	case "p2tr":
		return P2TR, nil
	}
	return 0, fmt.Errorf("%w: unknown script type %.20q (want p2wpkh or p2tr)", ErrUnsupported, s)
}

// String returns "p2wpkh" or "p2tr", the form ParseScriptType reads.
func (t ScriptType) String() string {
	switch t {
	case P2WPKH:
		return "p2wpkh"
	case P2TR:
		return "p2tr"
	}
	return fmt.Sprintf("ScriptType(%d)", int(t))
}

// Purpose is the BIP43 purpose level of the type's standard path (84 or 86),
// unhardened; 0 for an invalid type.
func (t ScriptType) Purpose() uint32 {
	switch t {
	case P2WPKH:
		return 84
	case P2TR:
		return 86
	}
	return 0
}

// descriptorFunc is the output descriptor function for the type.
func (t ScriptType) descriptorFunc() string {
	switch t {
	case P2WPKH:
		return "wpkh"
	case P2TR:
		return "tr"
	}
	return ""
}

// scriptTypeForPurpose maps a hardened or unhardened purpose level back to
// its type; ok is false for purposes this wallet does not use.
func scriptTypeForPurpose(purpose uint32) (ScriptType, bool) {
	switch purpose &^ hardened {
	case 84:
		return P2WPKH, true
	case 86:
		return P2TR, true
	}
	return 0, false
}
