package hdkeys

import (
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
)

// FuzzParseDescriptor: ParseDescriptor never panics, and whatever it accepts
// re-serializes (Descriptor) to text that parses to the same account, whose
// own Descriptor is identical.
func FuzzParseDescriptor(f *testing.F) {
	var v84 bip84Vectors
	readJSON(f, "bip84.json", &v84)
	var v86 bip86Vectors
	readJSON(f, "bip86.json", &v86)
	mMain, mReg := testMaster(f, &chaincfg.MainNetParams), testMaster(f, &chaincfg.RegressionNetParams)
	wpkh := testAccount(f, mMain, P2WPKH, 0)
	tr := testAccount(f, mReg, P2TR, 2)

	seeds := []string{
		wpkh.Descriptor(),
		tr.Descriptor(),
		v84.Account.Descriptor,
		v86.Account.Descriptor,
		v84.Account.Zpub,
		v84.Account.Xpub,
		v84.Account.Xprv,
		v84.RootXpub,
		v86.Addresses[0].Xpub,
		"tr(" + tr.Key.String() + ")",
		"wpkh([73c5da0a/84'/0'/0']" + v84.Account.Zpub + "/0/*)",
		"tr(" + v86.Account.Xpub + ",pk(" + v84.Account.Xpub + "))",
		strings.TrimSuffix(wpkh.Descriptor(), "q") + "p",
		"raw(deadbeef)#89f8spxm",
		"wpkh([73c5da0a/84h/0h/0h/]" + v84.Account.Xpub + ")",
		"wpkh(",
		"",
		"[",
		"#",
	}
	for _, s := range seeds {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, regtest bool) {
		net := &chaincfg.MainNetParams
		if regtest {
			net = &chaincfg.RegressionNetParams
		}
		a, err := ParseDescriptor(s, net)
		if err != nil {
			if a != nil {
				t.Fatal("returned an account together with an error")
			}
			return
		}
		if a.Key.IsPrivate() || a.Key.Depth() != 3 || a.Net != net {
			t.Fatalf("accepted a bad key: private %v depth %d net %s", a.Key.IsPrivate(), a.Key.Depth(), a.Net.Name)
		}
		out := a.Descriptor()
		b, err := ParseDescriptor(out, net)
		if err != nil {
			t.Fatalf("Descriptor() output %q does not parse: %v", out, err)
		}
		if diff := sameAccount(b, a); diff != "" {
			t.Fatalf("round trip through %q changed %s", out, diff)
		}
		if b.Descriptor() != out {
			t.Fatalf("Descriptor() not stable: %q then %q", out, b.Descriptor())
		}
		if _, err := a.Derive(BranchReceive, 0); err != nil {
			t.Fatalf("accepted account cannot derive: %v", err)
		}
	})
}
