package addresses

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"

	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
)

// The published BIP84 and BIP86 vectors (testdata/, with their sources).
type vectorFile struct {
	Account struct {
		Descriptor string `json:"derived_descriptor"`
	} `json:"account_0"`
	Addresses []struct {
		Path    string `json:"path"`
		Address string `json:"address"`
		Script  string `json:"scriptPubKey"`
		Script2 string `json:"derived_scriptPubKey"`
	} `json:"addresses"`
}

func TestDerivationMatchesPublishedVectors(t *testing.T) {
	for _, file := range []string{"bip84", "bip86"} {
		t.Run(file, func(t *testing.T) {
			raw, err := os.ReadFile("testdata/" + file + ".json")
			if err != nil {
				t.Fatal(err)
			}
			var v vectorFile
			if err := json.Unmarshal(raw, &v); err != nil {
				t.Fatal(err)
			}
			if len(v.Addresses) < 3 {
				t.Fatalf("only %d vectors", len(v.Addresses))
			}
			key, err := ParseKey(v.Account.Descriptor, &chaincfg.MainNetParams)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range v.Addresses {
				parts := strings.Split(a.Path, "/")
				branch, _ := strconv.Atoi(parts[len(parts)-2])
				index, _ := strconv.Atoi(parts[len(parts)-1])
				d, err := key.Derive(uint32(branch), uint32(index))
				if err != nil {
					t.Fatal(err)
				}
				script := a.Script + a.Script2
				if d.Address != a.Address || hex.EncodeToString(d.Script) != script || d.Path != a.Path {
					t.Errorf("%s: got %s %x %s, want %s %s", a.Path, d.Address, d.Script, d.Path, a.Address, script)
				}
			}
		})
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
