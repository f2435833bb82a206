package hdkeys

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"
)

// testMaster is the master key of the BIP84/BIP86 test mnemonic on net.
func testMaster(t testing.TB, net *chaincfg.Params) *Master {
	t.Helper()
	var v bip84Vectors
	readJSON(t, "bip84.json", &v)
	m, err := NewMaster(mustHex(t, v.Seed), net)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func testAccount(t testing.TB, m *Master, st ScriptType, account uint32) *AccountKey {
	t.Helper()
	a, err := m.Account(st, account)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// sameAccount reports how two account keys differ, or "" if they do not.
func sameAccount(got, want *AccountKey) string {
	switch {
	case got.Type != want.Type:
		return "script type " + got.Type.String() + ", want " + want.Type.String()
	case got.Key.String() != want.Key.String():
		return "key " + got.Key.String() + ", want " + want.Key.String()
	case !got.Origin.equal(want.Origin):
		return "origin " + got.Origin.FingerprintHex() + got.Origin.PathString() +
			", want " + want.Origin.FingerprintHex() + want.Origin.PathString()
	case got.FingerprintKnown() != want.FingerprintKnown():
		return "FingerprintKnown differs"
	case got.Net != want.Net:
		return "network " + got.Net.Name + ", want " + want.Net.Name
	}
	return ""
}

type checksumVectors struct {
	Vectors []struct {
		Descriptor string `json:"descriptor"`
		Source     string `json:"source"`
	} `json:"vectors"`
}

func TestDescriptorChecksumPublishedVectors(t *testing.T) {
	var v checksumVectors
	readJSON(t, "descriptor_checksums.json", &v)
	if len(v.Vectors) == 0 {
		t.Fatal("no vectors")
	}
	for _, tc := range v.Vectors {
		body, want, ok := strings.Cut(tc.Descriptor, "#")
		if !ok {
			t.Fatalf("vector without checksum: %s", tc.Descriptor)
		}
		got, err := descriptorChecksum(body)
		if err != nil {
			t.Errorf("%s: %v", tc.Source, err)
			continue
		}
		if got != want {
			t.Errorf("%s: checksum %s, want %s", tc.Source, got, want)
		}
		if _, err := stripChecksum(tc.Descriptor); err != nil {
			t.Errorf("%s: stripChecksum: %v", tc.Source, err)
		}
	}
}

// TestStripChecksumBIP380 runs BIP380's checksum test vectors.
func TestStripChecksumBIP380(t *testing.T) {
	tests := []struct {
		name, in string
		want     error // nil: accepted, returning the part before '#'
	}{
		{"valid checksum", "raw(deadbeef)#89f8spxm", nil},
		{"no checksum", "raw(deadbeef)", nil},
		{"missing checksum", "raw(deadbeef)#", ErrMalformed},
		{"too long checksum", "raw(deadbeef)#89f8spxmx", ErrMalformed},
		{"too short checksum", "raw(deadbeef)#89f8spx", ErrMalformed},
		{"error in payload", "raw(deedbeef)#89f8spxm", ErrChecksum},
		{"error in checksum", "raw(deedbeef)##9f8spxm", ErrMalformed},
		{"invalid characters in payload", "raw(Ü)#00000000", ErrMalformed},
		{"checksum character outside the bech32 set", "raw(deadbeef)#89f8spxb", ErrChecksum},
		{"upper-case checksum", "raw(deadbeef)#89F8SPXM", ErrChecksum},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body, err := stripChecksum(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if tc.want == nil && body != "raw(deadbeef)" {
				t.Errorf("body %q", body)
			}
		})
	}
}

// TestDescriptorChecksumDetectsEveryOneCharacterChange mutates the canonical
// descriptor of a real account: BIP380 guarantees any one-symbol error is
// caught.
func TestDescriptorChecksumDetectsEveryOneCharacterChange(t *testing.T) {
	desc := testAccount(t, testMaster(t, &chaincfg.MainNetParams), P2WPKH, 0).Descriptor()
	body, sum, _ := strings.Cut(desc, "#")
	for i := 0; i < len(body); i++ {
		for _, c := range []byte{'0', 'a', 'Z', '/'} {
			if body[i] == c {
				continue
			}
			mutated := body[:i] + string(c) + body[i+1:]
			if got, _ := descriptorChecksum(mutated); got == sum {
				t.Fatalf("changing position %d to %q kept checksum %s", i, c, sum)
			}
		}
	}
}

var canonicalDescriptor = regexp.MustCompile(
	`^(wpkh|tr)\(\[[0-9a-f]{8}/(84|86)h/[01]h/[0-9]+h\][xt]pub[1-9A-HJ-NP-Za-km-z]{107}/<0;1>/\*\)#[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{8}$`)

func TestDescriptorRoundTrip(t *testing.T) {
	for _, net := range []*chaincfg.Params{&chaincfg.MainNetParams, &chaincfg.TestNet3Params, &chaincfg.RegressionNetParams, &chaincfg.SigNetParams} {
		m := testMaster(t, net)
		for _, st := range []ScriptType{P2WPKH, P2TR} {
			for _, account := range []uint32{0, 1, hardened - 1} {
				a := testAccount(t, m, st, account)
				desc := a.Descriptor()
				if !canonicalDescriptor.MatchString(desc) {
					t.Errorf("%s %v %d: not canonical: %s", net.Name, st, account, desc)
				}
				if a.String() != desc {
					t.Errorf("String() %q differs from Descriptor() %q", a.String(), desc)
				}
				back, err := ParseDescriptor(desc, net)
				if err != nil {
					t.Fatalf("%s %v %d: %v", net.Name, st, account, err)
				}
				if diff := sameAccount(back, a); diff != "" {
					t.Errorf("%s %v %d: round trip changed %s", net.Name, st, account, diff)
				}
			}
		}
	}
}

func TestDescriptorCanonicalForm(t *testing.T) {
	var v bip84Vectors
	readJSON(t, "bip84.json", &v)
	a := testAccount(t, testMaster(t, &chaincfg.MainNetParams), P2WPKH, 0)
	wantBody := "wpkh([73c5da0a/84h/0h/0h]" + v.Account.Xpub + "/<0;1>/*)"
	sum, err := descriptorChecksum(wantBody)
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Descriptor(); got != wantBody+"#"+sum {
		t.Errorf("Descriptor()\n got %s\nwant %s#%s", got, wantBody, sum)
	}
}

// TestParseDescriptorAcceptedForms writes the same account in every form
// ParseDescriptor accepts.
func TestParseDescriptorAcceptedForms(t *testing.T) {
	var v84 bip84Vectors
	readJSON(t, "bip84.json", &v84)
	mainnet, regtest := &chaincfg.MainNetParams, &chaincfg.RegressionNetParams
	mMain, mReg := testMaster(t, mainnet), testMaster(t, regtest)

	wpkhMain := testAccount(t, mMain, P2WPKH, 0)
	trMain := testAccount(t, mMain, P2TR, 0)
	wpkhReg := testAccount(t, mReg, P2WPKH, 3)
	trReg := testAccount(t, mReg, P2TR, 0)
	// What a key without [origin] parses to: the standard path, fingerprint
	// unknown.
	noOrigin := func(a *AccountKey) *AccountKey {
		c := *a
		c.Origin.Fingerprint, c.fingerprintKnown = 0, false
		return &c
	}
	vpub := withVersion(t, wpkhReg.Key, "045f1cf6")
	tpubReg, xpubTR := wpkhReg.Key.String(), trMain.Key.String()

	tests := []struct {
		name string
		in   string
		net  *chaincfg.Params
		want *AccountKey
	}{
		{"canonical wpkh", wpkhMain.Descriptor(), mainnet, wpkhMain},
		{"canonical tr", trMain.Descriptor(), mainnet, trMain},
		{"published BIP84 form with ' and /0/*", v84.Account.Descriptor, mainnet, wpkhMain},
		{"no suffix", "tr([73c5da0a/86'/0'/0']" + xpubTR + ")", mainnet, trMain},
		{"H as hardened marker", "tr([73c5da0a/86H/0H/0H]" + xpubTR + "/0/*)", mainnet, trMain},
		{"mixed hardened markers", "tr([73c5da0a/86h/0'/0H]" + xpubTR + ")", mainnet, trMain},
		{"upper-case fingerprint", "tr([73C5DA0A/86h/0h/0h]" + xpubTR + ")", mainnet, trMain},
		{"surrounding whitespace", " \n" + trMain.Descriptor() + "\n", mainnet, trMain},
		{"checksum of a non-canonical form", withChecksum("tr([73c5da0a/86'/0'/0']" + xpubTR + "/0/*)"), mainnet, trMain},
		{"no origin", "tr(" + xpubTR + "/<0;1>/*)", mainnet, noOrigin(trMain)},
		{"bare zpub", v84.Account.Zpub, mainnet, noOrigin(wpkhMain)},
		{"zpub inside wpkh()", "wpkh(" + v84.Account.Zpub + ")", mainnet, noOrigin(wpkhMain)},
		{"zpub with origin", "[73c5da0a/84h/0h/0h]" + v84.Account.Zpub, mainnet, wpkhMain},
		{"regtest canonical wpkh", wpkhReg.Descriptor(), regtest, wpkhReg},
		{"regtest canonical tr", trReg.Descriptor(), regtest, trReg},
		{"bare vpub on regtest", vpub, regtest, noOrigin(wpkhReg)},
		{"tpub in wpkh() on regtest", "wpkh(" + tpubReg + "/0/*)", regtest, noOrigin(wpkhReg)},
		{"regtest key on testnet3 (same version bytes)", wpkhReg.Descriptor(), &chaincfg.TestNet3Params, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseDescriptor(tc.in, tc.net)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if want == nil { // same key, other test network
				c := *wpkhReg
				c.Net = tc.net
				want = &c
			}
			if diff := sameAccount(got, want); diff != "" {
				t.Error(diff)
			}
			// Whatever was read, the addresses are the account's.
			d, err := got.Derive(BranchChange, 7)
			if err != nil {
				t.Fatal(err)
			}
			w, err := want.Derive(BranchChange, 7)
			if err != nil {
				t.Fatal(err)
			}
			if d.Address.EncodeAddress() != w.Address.EncodeAddress() {
				t.Errorf("address %s, want %s", d.Address.EncodeAddress(), w.Address.EncodeAddress())
			}
		})
	}
}

// base58Run finds a run of base58 characters as long as a key fragment.
var base58Run = regexp.MustCompile(`[1-9A-HJ-NP-Za-km-z]{16,}`)

func TestParseDescriptorRefusals(t *testing.T) {
	var v84 bip84Vectors
	readJSON(t, "bip84.json", &v84)
	var v86 bip86Vectors
	readJSON(t, "bip86.json", &v86)
	mainnet, regtest, testnet := &chaincfg.MainNetParams, &chaincfg.RegressionNetParams, &chaincfg.TestNet3Params
	mMain, mReg := testMaster(t, mainnet), testMaster(t, regtest)

	xpub84 := v84.Account.Xpub
	xpub86 := v86.Account.Xpub
	tpub84 := testAccount(t, mReg, P2WPKH, 0).Key.String()
	tprv84 := privAt(t, mReg, []uint32{84 + hardened, 1 + hardened, hardened}).String()
	ypub := withVersion(t, testAccount(t, mMain, P2WPKH, 0).Key, "049d7cb2")
	// An xprv with one character changed no longer decodes, but is still
	// refused as a private key.
	typoXprv := v84.Account.Xprv[:40] + "Z" + v84.Account.Xprv[41:]
	// Depth-3 key whose last step is not hardened: m/84'/0'/0.
	unhardened := pubOf(t, privAt(t, mMain, []uint32{84 + hardened, hardened, 0}), mainnet).String()
	depth2 := pubOf(t, privAt(t, mMain, []uint32{84 + hardened, hardened}), mainnet).String()
	// Key data starting 0x00 under public version bytes: a private key in
	// disguise.
	privUnderXpub := func() string {
		k := privAt(t, mMain, []uint32{84 + hardened, hardened, hardened})
		c, err := k.CloneWithVersion(chaincfg.MainNetParams.HDPublicKeyID[:])
		if err != nil {
			t.Fatal(err)
		}
		return c.String()
	}()
	badBase58Checksum := xpub84[:50] + map[bool]string{true: "b", false: "a"}[xpub84[50] == 'a'] + xpub84[51:]
	goodBody := "wpkh([73c5da0a/84h/0h/0h]" + xpub84 + "/<0;1>/*)"

	tests := []struct {
		name    string
		in      string
		net     *chaincfg.Params
		want    error
		wantMsg []string
	}{
		// Private keys.
		{"bare root xprv", v84.RootXprv, mainnet, ErrPrivateKey, []string{"this is a private key; export the xpub"}},
		{"account xprv in wpkh()", "wpkh([73c5da0a/84h/0h/0h]" + v84.Account.Xprv + "/<0;1>/*)", mainnet, ErrPrivateKey, []string{"export the xpub"}},
		{"account zprv", v84.Account.Zprv, mainnet, ErrPrivateKey, []string{"export the xpub"}},
		{"tprv in tr() on regtest", "tr(" + tprv84 + ")", regtest, ErrPrivateKey, []string{"export the xpub"}},
		{"xprv with a typo", typoXprv, mainnet, ErrPrivateKey, []string{"export the xpub"}},
		{"private key data under xpub version bytes", "wpkh(" + privUnderXpub + ")", mainnet, ErrPrivateKey, []string{"export the xpub"}},

		// Wrong network.
		{"mainnet xpub on regtest", "wpkh([73c5da0a/84h/0h/0h]" + xpub84 + ")", regtest, ErrWrongNetwork, []string{"mainnet", "regtest", "xpub"}},
		{"zpub on testnet", v84.Account.Zpub, testnet, ErrWrongNetwork, []string{"mainnet", "testnet3", "zpub"}},
		{"tpub on mainnet", "wpkh(" + tpub84 + ")", mainnet, ErrWrongNetwork, []string{"test-network", "mainnet", "tpub"}},
		{"vpub on mainnet", withVersion(t, testAccount(t, mReg, P2WPKH, 0).Key, "045f1cf6"), mainnet, ErrWrongNetwork, []string{"test-network", "mainnet", "vpub"}},
		{"tpub on simnet", "wpkh(" + tpub84 + ")", &chaincfg.SimNetParams, ErrWrongNetwork, []string{"simnet"}},
		{"mainnet coin type in the origin of a tpub", "wpkh([73c5da0a/84h/0h/0h]" + tpub84 + ")", regtest, ErrWrongNetwork, []string{"coin type 0' (mainnet)", "regtest"}},
		{"test coin type in the origin of an xpub", "wpkh([73c5da0a/84h/1h/0h]" + xpub84 + ")", mainnet, ErrWrongNetwork, []string{"coin type 1' (test networks)", "mainnet"}},
		{"nonstandard coin type", "wpkh([73c5da0a/84h/2h/0h]" + xpub84 + ")", mainnet, ErrNotAccountKey, []string{"coin type 2'"}},

		// Not an account key.
		{"root xpub", "wpkh(" + v84.RootXpub + ")", mainnet, ErrNotAccountKey, []string{"depth 0", "master key"}},
		{"depth-2 key", "wpkh(" + depth2 + ")", mainnet, ErrNotAccountKey, []string{"depth 2"}},
		{"address-level xpub", "tr(" + v86.Addresses[0].Xpub + ")", mainnet, ErrNotAccountKey, []string{"depth 5", "below the account"}},
		{"unhardened account step", "wpkh(" + unhardened + ")", mainnet, ErrNotAccountKey, []string{"not hardened"}},
		{"origin of the wrong length", "wpkh([73c5da0a/84h/0h]" + xpub84 + ")", mainnet, ErrMalformed, []string{"2 steps", "depth 3"}},
		{"origin with a different account", "wpkh([73c5da0a/84h/0h/1h]" + xpub84 + ")", mainnet, ErrMalformed, []string{"account 1'", "account 0'"}},

		// Purpose against script type.
		{"BIP86 path in wpkh()", "wpkh([73c5da0a/86h/0h/0h]" + xpub86 + ")", mainnet, ErrScriptTypeMismatch, []string{"p2tr", "BIP86", "wpkh()"}},
		{"BIP84 path in tr()", "tr([73c5da0a/84h/0h/0h]" + xpub84 + ")", mainnet, ErrScriptTypeMismatch, []string{"p2wpkh", "BIP84", "tr()"}},
		{"BIP44 path in wpkh()", "wpkh([73c5da0a/44h/0h/0h]" + xpub84 + ")", mainnet, ErrScriptTypeMismatch, []string{"84'"}},
		{"unhardened purpose", "wpkh([73c5da0a/84/0h/0h]" + xpub84 + ")", mainnet, ErrScriptTypeMismatch, []string{"84'"}},
		{"zpub in tr()", "tr(" + v84.Account.Zpub + ")", mainnet, ErrScriptTypeMismatch, []string{"p2wpkh", "tr()"}},

		// Not stated or not supported.
		{"bare xpub", xpub84, mainnet, ErrAmbiguousScriptType, []string{"wpkh(KEY)", "tr(KEY)"}},
		{"bare tpub with origin", "[73c5da0a/84h/1h/0h]" + tpub84, regtest, ErrAmbiguousScriptType, nil},
		{"ypub", ypub, mainnet, ErrUnsupported, []string{"BIP49"}},
		{"sh(wpkh())", "sh(wpkh(" + xpub84 + "))", mainnet, ErrUnsupported, []string{"sh()"}},
		{"pkh()", "pkh(" + xpub84 + ")", mainnet, ErrUnsupported, []string{"pkh()"}},
		{"tr() with a script tree", "tr(" + xpub86 + ",pk(" + xpub84 + "))", mainnet, ErrUnsupported, []string{"script tree"}},
		{"change branch only", "wpkh(" + v84.Account.Zpub + "/1/*)", mainnet, ErrUnsupported, []string{"/<0;1>/*"}},
		{"hardened wildcard", "wpkh([73c5da0a/84h/0h/0h]" + xpub84 + "/0/*h)", mainnet, ErrUnsupported, nil},
		{"extra derivation", "wpkh([73c5da0a/84h/0h/0h]" + xpub84 + "/<0;1>/*/5)", mainnet, ErrUnsupported, nil},
		{"single address", "wpkh([73c5da0a/84h/0h/0h]" + xpub84 + "/0/5)", mainnet, ErrUnsupported, nil},

		// Checksums.
		{"wrong checksum", goodBody + "#qqqqqqqq", mainnet, ErrChecksum, []string{"checksum"}},
		{"checksum of another descriptor", strings.Replace(withChecksum(goodBody), "84h/0h/0h", "84h/0h/1h", 1), mainnet, ErrChecksum, nil},
		{"short checksum", goodBody + "#qqqq", mainnet, ErrMalformed, []string{"8 characters"}},
		{"two checksums", withChecksum(goodBody) + "#qqqqqqqq", mainnet, ErrMalformed, []string{"'#'"}},

		// Malformed.
		{"empty", "", mainnet, ErrMalformed, []string{"empty"}},
		{"blank", " \t\n", mainnet, ErrMalformed, []string{"empty"}},
		{"too long", strings.Repeat("a", maxDescriptorLen+1), mainnet, ErrMalformed, []string{"long"}},
		{"unclosed", "wpkh(" + xpub84, mainnet, ErrMalformed, []string{"not closed"}},
		{"empty wpkh()", "wpkh()", mainnet, ErrMalformed, nil},
		{"nested wpkh()", "wpkh(wpkh(" + xpub84 + "))", mainnet, ErrMalformed, []string{"one key"}},
		{"two keys in wpkh()", "wpkh(" + xpub84 + "," + xpub84 + ")", mainnet, ErrMalformed, []string{"one key"}},
		{"not a descriptor", "hello world", mainnet, ErrMalformed, nil},
		{"stray parenthesis", xpub84 + ")", mainnet, ErrMalformed, nil},
		{"base58 checksum error", "wpkh(" + badBase58Checksum + ")", mainnet, ErrMalformed, []string{"checksum is wrong"}},
		{"truncated key", "wpkh(" + xpub84[:100] + ")", mainnet, ErrMalformed, []string{"length"}},
		{"unknown version bytes", withVersion(t, testAccount(t, mMain, P2WPKH, 0).Key, "01020304"), mainnet, ErrMalformed, []string{"01020304"}},
		{"unclosed origin", "wpkh([73c5da0a/84h/0h/0h" + xpub84 + ")", mainnet, ErrMalformed, []string{"']'"}},
		{"short fingerprint", "wpkh([73c5da0/84h/0h/0h]" + xpub84 + ")", mainnet, ErrMalformed, []string{"8 hex"}},
		{"non-hex fingerprint", "wpkh([73c5da0g/84h/0h/0h]" + xpub84 + ")", mainnet, ErrMalformed, []string{"hex"}},
		{"origin trailing slash", "wpkh([73c5da0a/84h/0h/0h/]" + xpub84 + ")", mainnet, ErrMalformed, []string{"not a number"}},
		{"origin children", "wpkh([73c5da0a/84h/0h/0h/*]" + xpub84 + ")", mainnet, ErrMalformed, []string{"not a number"}},
		{"origin step out of range", "wpkh([73c5da0a/2147483648h/0h/0h]" + xpub84 + ")", mainnet, ErrMalformed, []string{"out of range"}},
		{"second origin", "wpkh([73c5da0a/84h/0h/0h][73c5da0a]" + xpub84 + ")", mainnet, ErrMalformed, nil},
		{"character outside the descriptor set", "wpkh(é)#qqqqqqqq", mainnet, ErrMalformed, []string{"not allowed"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ParseDescriptor(tc.in, tc.net)
			if err == nil {
				t.Fatalf("accepted as %s", a.Descriptor())
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %q, want %q", err, tc.want)
			}
			for _, s := range tc.wantMsg {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			if run := base58Run.FindString(err.Error()); run != "" {
				t.Errorf("error %q repeats key text %q", err, run)
			}
		})
	}
}

func TestParseDescriptorNeedsNetwork(t *testing.T) {
	var v bip84Vectors
	readJSON(t, "bip84.json", &v)
	if _, err := ParseDescriptor(v.Account.Descriptor, nil); err == nil {
		t.Error("accepted a nil network")
	}
}

// TestSLIP132VersionBytesMatchBIP84 pins the zpub/vpub table against the
// version bytes BIP84 publishes.
func TestSLIP132VersionBytesMatchBIP84(t *testing.T) {
	var v bip84Vectors
	readJSON(t, "bip84.json", &v)
	for name, key := range map[string]string{"zpub": "zpub", "vpub(testnet)": "vpub"} {
		version := mustHex(t, v.VersionBytes[name])
		info, ok := publicKeyVersions[uint32(version[0])<<24|uint32(version[1])<<16|uint32(version[2])<<8|uint32(version[3])]
		if !ok || info.name != key || info.implies != P2WPKH {
			t.Errorf("%s %x: table has %+v", name, version, info)
		}
	}
	for name, key := range map[string]string{"zprv": "zprv", "vprv(testnet)": "vprv"} {
		version := mustHex(t, v.VersionBytes[name])
		if got := privateKeyVersions[uint32(version[0])<<24|uint32(version[1])<<16|uint32(version[2])<<8|uint32(version[3])]; got != key {
			t.Errorf("%s %x: table has %q", name, version, got)
		}
	}
}

// TestParsedKeyIsPublic: whatever was parsed, the key held is public.
func TestParsedKeyIsPublic(t *testing.T) {
	var v bip84Vectors
	readJSON(t, "bip84.json", &v)
	a := mustParseDescriptor(t, v.Account.Descriptor, &chaincfg.MainNetParams)
	if a.Key.IsPrivate() {
		t.Fatal("parsed key is private")
	}
	if _, err := a.Key.Derive(hdkeychain.HardenedKeyStart); err == nil {
		t.Error("a public key derived a hardened child")
	}
}
