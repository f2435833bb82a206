package hdkeys

import (
	"bytes"
	"errors"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
)

func TestNewMasterRefusals(t *testing.T) {
	var v bip84Vectors
	readJSON(t, "bip84.json", &v)
	seed := mustHex(t, v.Seed)
	if _, err := NewMaster(seed, nil); err == nil {
		t.Error("accepted a nil network")
	}
	for _, n := range []int{0, 15, 65} {
		if _, err := NewMaster(make([]byte, n), &chaincfg.MainNetParams); err == nil {
			t.Errorf("accepted a %d-byte seed", n)
		}
	}
}

func TestMasterRefusals(t *testing.T) {
	m := testMaster(t, &chaincfg.MainNetParams)
	const h = hardened
	pathTests := []struct {
		name string
		path []uint32
		want error
	}{
		{"too short", []uint32{84 + h, h, h, 0}, ErrMalformed},
		{"too long", []uint32{84 + h, h, h, 0, 0, 0}, ErrMalformed},
		{"BIP44", []uint32{44 + h, h, h, 0, 0}, ErrUnsupported},
		{"unhardened purpose", []uint32{84, h, h, 0, 0}, ErrUnsupported},
		{"test coin on mainnet", []uint32{84 + h, 1 + h, h, 0, 0}, ErrWrongNetwork},
		{"unhardened coin", []uint32{84 + h, 0, h, 0, 0}, ErrWrongNetwork},
		{"unhardened account", []uint32{86 + h, h, 0, 0, 0}, ErrNotAccountKey},
		{"branch 2", []uint32{86 + h, h, h, 2, 0}, ErrBranch},
		{"hardened index", []uint32{84 + h, h, h, 0, h}, ErrHardenedIndex},
	}
	for _, tc := range pathTests {
		if _, err := m.DerivePath(tc.path); !errors.Is(err, tc.want) {
			t.Errorf("DerivePath %s: %v, want %v", tc.name, err, tc.want)
		}
		if _, err := m.SigningKey(tc.path); !errors.Is(err, tc.want) {
			t.Errorf("SigningKey %s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := m.Account(P2WPKH, hardened); !errors.Is(err, ErrMalformed) {
		t.Errorf("Account(2^31): %v", err)
	}
	if _, err := m.Account(ScriptType(0), 0); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Account(invalid type): %v", err)
	}
	if _, err := m.PrivKey(nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("PrivKey(empty path): %v", err)
	}
	if _, err := m.PrivKey(make([]uint32, maxPathLen+1)); !errors.Is(err, ErrMalformed) {
		t.Errorf("PrivKey(256 steps): %v", err)
	}
	// The refusals above must not have damaged the master key.
	if m.root.String() == "zeroed extended key" {
		t.Fatal("root was wiped by a refused call")
	}
}

// TestMasterUseDoesNotWipeRoot: every call wipes its intermediate keys; none
// of that may reach the root or keys already handed out.
func TestMasterUseDoesNotWipeRoot(t *testing.T) {
	var v bip84Vectors
	readJSON(t, "bip84.json", &v)
	m := testMaster(t, &chaincfg.MainNetParams)
	for range 3 {
		if _, err := m.Account(P2WPKH, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := m.PrivKey([]uint32{84 + hardened}); err != nil {
			t.Fatal(err)
		}
	}
	if m.root.String() != v.RootXprv {
		t.Errorf("root changed after use: %s", m.root.String())
	}
}

func TestMasterZero(t *testing.T) {
	m := testMaster(t, &chaincfg.RegressionNetParams)
	account := testAccount(t, m, P2WPKH, 0)
	before, err := account.Derive(BranchReceive, 3)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := m.PrivKey(before.Origin.Path)
	if err != nil {
		t.Fatal(err)
	}
	descriptor := account.Descriptor()
	root := m.root

	m.Zero()
	m.Zero() // twice is harmless

	if root.String() != "zeroed extended key" {
		t.Error("Zero left the root key in memory")
	}
	if _, err := m.PrivKey(before.Origin.Path); !errors.Is(err, ErrWiped) {
		t.Errorf("PrivKey after Zero: %v", err)
	}
	if _, err := m.Account(P2TR, 0); !errors.Is(err, ErrWiped) {
		t.Errorf("Account after Zero: %v", err)
	}
	if _, err := m.DerivePath(before.Origin.Path); !errors.Is(err, ErrWiped) {
		t.Errorf("DerivePath after Zero: %v", err)
	}
	if _, err := m.SigningKey(before.Origin.Path); !errors.Is(err, ErrWiped) {
		t.Errorf("SigningKey after Zero: %v", err)
	}
	// Public keys and private keys already handed out are independent copies.
	after, err := account.Derive(BranchReceive, 3)
	if err != nil {
		t.Fatal(err)
	}
	if after.Address.EncodeAddress() != before.Address.EncodeAddress() || account.Descriptor() != descriptor {
		t.Error("wiping the master changed an exported account key")
	}
	if !priv.PubKey().IsEqual(before.PubKey) {
		t.Error("wiping the master changed a private key already handed out")
	}
}

// A signing key is the address DerivePath gives and the private key
// PrivKey gives, from one derivation, whichever branch key was cached first.
func TestSigningKeyMatchesDerivePathAndPrivKey(t *testing.T) {
	for _, tc := range []struct {
		name string
		st   ScriptType
	}{
		{"p2wpkh", P2WPKH},
		{"p2tr", P2TR},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := testMaster(t, &chaincfg.RegressionNetParams)
			acct := testAccount(t, m, tc.st, 2)
			for _, bi := range [][2]uint32{{1, 7}, {0, 0}, {0, 1}, {1, 0}, {0, hardened - 1}} {
				path := append(append([]uint32(nil), acct.Origin.Path...), bi[0], bi[1])
				k, err := m.SigningKey(path)
				if err != nil {
					t.Fatal(err)
				}
				want, err := m.DerivePath(path)
				if err != nil {
					t.Fatal(err)
				}
				priv, err := m.PrivKey(path)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(k.PkScript, want.PkScript) || k.Address.EncodeAddress() != want.Address.EncodeAddress() ||
					!k.PubKey.IsEqual(want.PubKey) || !bytes.Equal(k.TaprootInternalKey, want.TaprootInternalKey) ||
					k.Origin.PathString() != want.Origin.PathString() || k.Origin.Fingerprint != want.Origin.Fingerprint {
					t.Fatalf("%v: signing key %+v, DerivePath %+v", bi, k.Derived, want)
				}
				if !bytes.Equal(k.Priv.Serialize(), priv.Serialize()) {
					t.Fatalf("%v: the signing key's private key is not PrivKey's", bi)
				}
				path[4] = 99 // the key keeps its own copy of the path
				if k.Origin.Path[4] == 99 {
					t.Fatal("the signing key shares the caller's path")
				}
				k.Zero()
				if k.Priv.Key.IsZero() != true {
					t.Fatal("Zero left the private key")
				}
			}
		})
	}
}

// Concurrent first uses of the same account and branch (run with -race):
// the cached keys are written once, under the lock, and only read after.
func TestSigningKeyConcurrentFirstUse(t *testing.T) {
	m := testMaster(t, &chaincfg.RegressionNetParams)
	acct := testAccount(t, m, P2WPKH, 0).Origin.Path
	var wg sync.WaitGroup
	keys := make([]*SigningKey, 16)
	errs := make([]error, len(keys))
	start := make(chan struct{})
	for i := range keys {
		wg.Go(func() {
			<-start
			path := append(append([]uint32(nil), acct...), uint32(i%2), uint32(i))
			if i%4 < 2 { // PrivKey first: it steps from the cached account key outside the lock
				if _, errs[i] = m.PrivKey(path); errs[i] != nil {
					return
				}
			}
			keys[i], errs[i] = m.SigningKey(path)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
		want, err := m.DerivePath(keys[i].Origin.Path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(keys[i].PkScript, want.PkScript) {
			t.Fatalf("key %d differs from DerivePath", i)
		}
	}
}
