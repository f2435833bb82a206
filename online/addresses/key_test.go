package addresses

import (
	"encoding/hex"
	"errors"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"

	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
)

// The adapter gives what shared/hdkeys derives (checked there against every
// BIP84/BIP86 vector) in the issuer's form: BIP84's first published address.
func TestAdapterGivesPublishedAddress(t *testing.T) {
	key, err := ParseKey("wpkh([73c5da0a/84'/0'/0']xpub6CatWdiZiodmUeTDp8LT5or8nmbKNcuyvz7WyksVFkKB4RHwCD3XyuvPEbvqAQY3rAPshWcMLoP2fMFMKHPJ4ZeZXYVUhLv1VMrjPC7PW6V/0/*)", &chaincfg.MainNetParams)
	if err != nil {
		t.Fatal(err)
	}
	d, err := key.Derive(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if d.Address != "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu" || hex.EncodeToString(d.Script) != "0014c0cebcd6c3d3ca8c75dc5ec62ebe55330ef910e2" ||
		d.Path != "m/84'/0'/0'/0/0" || key.ScriptType() != "p2wpkh" {
		t.Fatalf("got %s %x %s %s", d.Address, d.Script, d.Path, key.ScriptType())
	}
}

func TestParseKeyRefusals(t *testing.T) {
	const xpub84 = "xpub6CatWdiZiodmUeTDp8LT5or8nmbKNcuyvz7WyksVFkKB4RHwCD3XyuvPEbvqAQY3rAPshWcMLoP2fMFMKHPJ4ZeZXYVUhLv1VMrjPC7PW6V"
	tests := []struct {
		name, in string
		net      *chaincfg.Params
		want     error
	}{
		{"private key", "xprv9ybY78BftS5UGANki6oSifuQEjkpyAC8ZmBvBNTshQnCBcxnefjHS7buPMkkqhcRzmoGZ5bokx7GuyDAiktd5HemohAU4wV1ZPMDRmLpBMm", &chaincfg.MainNetParams, hdkeys.ErrPrivateKey},
		{"wrong network", "wpkh([73c5da0a/84'/0'/0']" + xpub84 + "/0/*)", &chaincfg.RegressionNetParams, hdkeys.ErrWrongNetwork},
		{"bare xpub says no script type", xpub84, &chaincfg.MainNetParams, hdkeys.ErrAmbiguousScriptType},
		{"purpose mismatch", "tr([73c5da0a/84'/0'/0']" + xpub84 + ")", &chaincfg.MainNetParams, hdkeys.ErrScriptTypeMismatch},
		{"unsupported", "wsh(multi(2,x,y))", &chaincfg.MainNetParams, hdkeys.ErrUnsupported},
		{"bad base58 checksum", "wpkh(" + xpub84[:len(xpub84)-1] + "7)", &chaincfg.MainNetParams, hdkeys.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseKey(tc.in, tc.net)
			if !errors.Is(err, tc.want) {
				t.Fatalf("want %v, got %v", tc.want, err)
			}
		})
	}
}

func FuzzParseKey(f *testing.F) {
	f.Add("wpkh([73c5da0a/84'/0'/0']xpub6CatWdiZiodmUeTDp8LT5or8nmbKNcuyvz7WyksVFkKB4RHwCD3XyuvPEbvqAQY3rAPshWcMLoP2fMFMKHPJ4ZeZXYVUhLv1VMrjPC7PW6V/0/*)")
	f.Add("tr([73c5da0a/86'/0'/0']xpub6BgBgsespWvERF3LHQu6CnqdvfEvtMcQjYrcRzx53QJjSxarj2afYWcLteoGVky7D3UKDP9QyrLprQ3VCECoY49yfdDEHGCtMMj92pReUsQ/<0;1>/*)")
	f.Add("xpub")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKey(s, &chaincfg.MainNetParams)
		if err != nil {
			return
		}
		again, err := ParseKey(k.Descriptor(), &chaincfg.MainNetParams)
		if err != nil || again.Descriptor() != k.Descriptor() {
			t.Fatalf("%q: descriptor %q does not parse back: %v", s, k.Descriptor(), err)
		}
	})
}
