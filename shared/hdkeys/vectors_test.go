package hdkeys

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"
)

// bip84Vectors is testdata/bip84.json (BIP84 test vectors).
type bip84Vectors struct {
	VersionBytes map[string]string `json:"version_bytes"`
	Seed         string            `json:"derived_bip39_seed_hex"`
	Fingerprint  string            `json:"derived_master_fingerprint"`
	RootZprv     string            `json:"rootpriv"`
	RootZpub     string            `json:"rootpub"`
	RootXprv     string            `json:"derived_root_xprv"`
	RootXpub     string            `json:"derived_root_xpub"`
	Account      struct {
		Path       string `json:"path"`
		Zprv       string `json:"xpriv"`
		Zpub       string `json:"xpub"`
		Xpub       string `json:"derived_xpub_with_xpub_version"`
		Xprv       string `json:"derived_xprv_with_xprv_version"`
		Descriptor string `json:"derived_descriptor"`
	} `json:"account_0"`
	Addresses []struct {
		Label     string `json:"label"`
		Path      string `json:"path"`
		WIF       string `json:"privkey_wif"`
		PubKey    string `json:"pubkey"`
		Address   string `json:"address"`
		PkScript  string `json:"derived_scriptPubKey"`
		SourceRef string `json:"source"`
	} `json:"addresses"`
}

// bip86Vectors is testdata/bip86.json (BIP86 test vectors).
type bip86Vectors struct {
	Seed        string `json:"derived_bip39_seed_hex"`
	Fingerprint string `json:"derived_master_fingerprint"`
	RootXprv    string `json:"rootpriv"`
	RootXpub    string `json:"rootpub"`
	Account     struct {
		Path       string `json:"path"`
		Xprv       string `json:"xprv"`
		Xpub       string `json:"xpub"`
		Descriptor string `json:"derived_descriptor"`
	} `json:"account_0"`
	Addresses []struct {
		Label       string `json:"label"`
		Path        string `json:"path"`
		Xprv        string `json:"xprv"`
		Xpub        string `json:"xpub"`
		InternalKey string `json:"internal_key"`
		OutputKey   string `json:"output_key"`
		PkScript    string `json:"scriptPubKey"`
		Address     string `json:"address"`
		WIF         string `json:"derived_privkey_wif"`
		PubKey      string `json:"derived_pubkey"`
	} `json:"addresses"`
}

func readJSON(t testing.TB, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustParsePath(t testing.TB, s string) []uint32 {
	t.Helper()
	p, err := ParsePath(s)
	if err != nil {
		t.Fatalf("ParsePath(%q): %v", s, err)
	}
	return p
}

// withVersion re-serializes k with other version bytes (given as hex).
func withVersion(t testing.TB, k *hdkeychain.ExtendedKey, versionHex string) string {
	t.Helper()
	c, err := k.CloneWithVersion(mustHex(t, versionHex))
	if err != nil {
		t.Fatal(err)
	}
	return c.String()
}

// privAt returns the extended private key at path, for comparing with the
// published xprvs; the caller owns it.
func privAt(t testing.TB, m *Master, path []uint32) *hdkeychain.ExtendedKey {
	t.Helper()
	k, err := m.derive(path)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pubOf(t testing.TB, k *hdkeychain.ExtendedKey, net *chaincfg.Params) *hdkeychain.ExtendedKey {
	t.Helper()
	p, err := publicCopy(k, net)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func checkEqual(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s:\n got %s\nwant %s", what, got, want)
	}
}

func TestBIP84Vectors(t *testing.T) {
	var v bip84Vectors
	readJSON(t, "bip84.json", &v)
	net := &chaincfg.MainNetParams
	m, err := NewMaster(mustHex(t, v.Seed), net)
	if err != nil {
		t.Fatal(err)
	}
	zprv, zpub := v.VersionBytes["zprv"], v.VersionBytes["zpub"]

	checkEqual(t, "master fingerprint", KeyOrigin{Fingerprint: m.Fingerprint()}.FingerprintHex(), v.Fingerprint)
	checkEqual(t, "root xprv", m.root.String(), v.RootXprv)
	checkEqual(t, "root zprv", withVersion(t, m.root, zprv), v.RootZprv)
	rootPub := pubOf(t, m.root, net)
	checkEqual(t, "root xpub", rootPub.String(), v.RootXpub)
	checkEqual(t, "root zpub", withVersion(t, rootPub, zpub), v.RootZpub)

	accountPath := mustParsePath(t, v.Account.Path)
	accountPriv := privAt(t, m, accountPath)
	checkEqual(t, "account xprv", accountPriv.String(), v.Account.Xprv)
	checkEqual(t, "account zprv", withVersion(t, accountPriv, zprv), v.Account.Zprv)

	fromSeed, err := m.Account(P2WPKH, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkEqual(t, "account xpub", fromSeed.Key.String(), v.Account.Xpub)
	checkEqual(t, "account zpub", withVersion(t, fromSeed.Key, zpub), v.Account.Zpub)
	checkEqual(t, "account path", fromSeed.Origin.PathString(), v.Account.Path)
	checkEqual(t, "account fingerprint", fromSeed.Origin.FingerprintHex(), v.Fingerprint)

	// The same account reached from every published form of its public key.
	fromZpub := mustParseDescriptor(t, v.Account.Zpub, net)
	accounts := map[string]*AccountKey{
		"Master.Account":        fromSeed,
		"published zpub":        fromZpub,
		"published descriptor":  mustParseDescriptor(t, v.Account.Descriptor, net),
		"Descriptor round trip": mustParseDescriptor(t, fromSeed.Descriptor(), net),
	}
	for name, a := range accounts {
		if a.Type != P2WPKH || a.Key.String() != v.Account.Xpub || a.Origin.PathString() != v.Account.Path {
			t.Errorf("%s: got %v %s %s", name, a.Type, a.Key, a.Origin.PathString())
		}
	}
	if fromZpub.FingerprintKnown() {
		t.Error("a bare zpub carries no master fingerprint, but FingerprintKnown is true")
	}

	for _, want := range v.Addresses {
		t.Run(want.Label, func(t *testing.T) {
			path := mustParsePath(t, want.Path)
			for name, a := range accounts {
				d, err := a.Derive(path[3], path[4])
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				checkEqual(t, name+" address", d.Address.EncodeAddress(), want.Address)
				checkEqual(t, name+" scriptPubKey", hex.EncodeToString(d.PkScript), want.PkScript)
				checkEqual(t, name+" pubkey", hex.EncodeToString(d.PubKey.SerializeCompressed()), want.PubKey)
				checkEqual(t, name+" path", d.Origin.PathString(), want.Path)
				if d.TaprootInternalKey != nil {
					t.Errorf("%s: P2WPKH address has a taproot internal key", name)
				}
				if a.FingerprintKnown() {
					checkEqual(t, name+" fingerprint", d.Origin.FingerprintHex(), v.Fingerprint)
				}
			}
			d, err := m.DerivePath(path)
			if err != nil {
				t.Fatal(err)
			}
			checkEqual(t, "DerivePath address", d.Address.EncodeAddress(), want.Address)

			priv, err := m.PrivKey(path)
			if err != nil {
				t.Fatal(err)
			}
			wif, err := btcutil.NewWIF(priv, net, true)
			if err != nil {
				t.Fatal(err)
			}
			checkEqual(t, "private key WIF", wif.String(), want.WIF)
		})
	}
}

func TestBIP86Vectors(t *testing.T) {
	var v bip86Vectors
	readJSON(t, "bip86.json", &v)
	net := &chaincfg.MainNetParams
	m, err := NewMaster(mustHex(t, v.Seed), net)
	if err != nil {
		t.Fatal(err)
	}
	checkEqual(t, "master fingerprint", KeyOrigin{Fingerprint: m.Fingerprint()}.FingerprintHex(), v.Fingerprint)
	checkEqual(t, "root xprv", m.root.String(), v.RootXprv)
	checkEqual(t, "root xpub", pubOf(t, m.root, net).String(), v.RootXpub)

	accountPath := mustParsePath(t, v.Account.Path)
	checkEqual(t, "account xprv", privAt(t, m, accountPath).String(), v.Account.Xprv)
	fromSeed, err := m.Account(P2TR, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkEqual(t, "account xpub", fromSeed.Key.String(), v.Account.Xpub)
	checkEqual(t, "account path", fromSeed.Origin.PathString(), v.Account.Path)
	checkEqual(t, "account fingerprint", fromSeed.Origin.FingerprintHex(), v.Fingerprint)

	accounts := map[string]*AccountKey{
		"Master.Account":        fromSeed,
		"published descriptor":  mustParseDescriptor(t, v.Account.Descriptor, net),
		"Descriptor round trip": mustParseDescriptor(t, fromSeed.Descriptor(), net),
		"tr() without origin":   mustParseDescriptor(t, "tr("+v.Account.Xpub+")", net),
	}
	for name, a := range accounts {
		if a.Type != P2TR || a.Key.String() != v.Account.Xpub || a.Origin.PathString() != v.Account.Path {
			t.Errorf("%s: got %v %s %s", name, a.Type, a.Key, a.Origin.PathString())
		}
	}

	for _, want := range v.Addresses {
		t.Run(want.Label, func(t *testing.T) {
			path := mustParsePath(t, want.Path)
			priv := privAt(t, m, path)
			checkEqual(t, "address-level xprv", priv.String(), want.Xprv)
			checkEqual(t, "address-level xpub", pubOf(t, priv, net).String(), want.Xpub)

			for name, a := range accounts {
				d, err := a.Derive(path[3], path[4])
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				checkEqual(t, name+" address", d.Address.EncodeAddress(), want.Address)
				checkEqual(t, name+" scriptPubKey", hex.EncodeToString(d.PkScript), want.PkScript)
				checkEqual(t, name+" output key", hex.EncodeToString(d.PkScript[2:]), want.OutputKey)
				checkEqual(t, name+" internal key", hex.EncodeToString(d.TaprootInternalKey), want.InternalKey)
				checkEqual(t, name+" internal key from PubKey",
					hex.EncodeToString(schnorr.SerializePubKey(d.PubKey)), want.InternalKey)
				checkEqual(t, name+" pubkey", hex.EncodeToString(d.PubKey.SerializeCompressed()), want.PubKey)
				checkEqual(t, name+" path", d.Origin.PathString(), want.Path)
			}
			d, err := m.DerivePath(path)
			if err != nil {
				t.Fatal(err)
			}
			checkEqual(t, "DerivePath address", d.Address.EncodeAddress(), want.Address)

			key, err := m.PrivKey(path)
			if err != nil {
				t.Fatal(err)
			}
			wif, err := btcutil.NewWIF(key, net, true)
			if err != nil {
				t.Fatal(err)
			}
			checkEqual(t, "private key WIF", wif.String(), want.WIF)
		})
	}
}

func mustParseDescriptor(t testing.TB, s string, net *chaincfg.Params) *AccountKey {
	t.Helper()
	a, err := ParseDescriptor(s, net)
	if err != nil {
		t.Fatalf("ParseDescriptor(%.40q...): %v", s, err)
	}
	return a
}
