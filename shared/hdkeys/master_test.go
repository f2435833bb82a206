package hdkeys

import (
	"errors"
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
