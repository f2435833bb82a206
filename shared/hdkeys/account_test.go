package hdkeys

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/txscript"
)

func TestDeriveRefusals(t *testing.T) {
	a := testAccount(t, testMaster(t, &chaincfg.MainNetParams), P2WPKH, 0)
	tests := []struct {
		name          string
		branch, index uint32
		want          error
	}{
		{"branch 2", 2, 0, ErrBranch},
		{"hardened branch", hardened, 0, ErrBranch},
		{"hardened index", BranchReceive, hardened, ErrHardenedIndex},
		{"largest index", BranchChange, 0xffffffff, ErrHardenedIndex},
	}
	for _, tc := range tests {
		if _, err := a.Derive(tc.branch, tc.index); !errors.Is(err, tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := a.Derive(BranchChange, hardened-1); err != nil {
		t.Errorf("largest non-hardened index: %v", err)
	}
	var unbuilt AccountKey
	if _, err := unbuilt.Derive(0, 0); err == nil || !strings.Contains(err.Error(), "ParseDescriptor") {
		t.Errorf("zero AccountKey: %v", err)
	}
}

// TestDeriveAddressKinds checks each network and type gives the expected
// kind of address and a script that txscript classifies the same way.
func TestDeriveAddressKinds(t *testing.T) {
	tests := []struct {
		net    *chaincfg.Params
		st     ScriptType
		prefix string
		class  txscript.ScriptClass
	}{
		{&chaincfg.MainNetParams, P2WPKH, "bc1q", txscript.WitnessV0PubKeyHashTy},
		{&chaincfg.MainNetParams, P2TR, "bc1p", txscript.WitnessV1TaprootTy},
		{&chaincfg.TestNet3Params, P2WPKH, "tb1q", txscript.WitnessV0PubKeyHashTy},
		{&chaincfg.TestNet3Params, P2TR, "tb1p", txscript.WitnessV1TaprootTy},
		{&chaincfg.SigNetParams, P2TR, "tb1p", txscript.WitnessV1TaprootTy},
		{&chaincfg.RegressionNetParams, P2WPKH, "bcrt1q", txscript.WitnessV0PubKeyHashTy},
		{&chaincfg.RegressionNetParams, P2TR, "bcrt1p", txscript.WitnessV1TaprootTy},
	}
	for _, tc := range tests {
		a := testAccount(t, testMaster(t, tc.net), tc.st, 0)
		wantCoin := uint32(1)
		if tc.net == &chaincfg.MainNetParams {
			wantCoin = 0
		}
		if a.Origin.Path[1] != wantCoin+hardened {
			t.Errorf("%s: coin type %s", tc.net.Name, a.Origin.PathString())
		}
		d, err := a.Derive(BranchReceive, 42)
		if err != nil {
			t.Fatal(err)
		}
		if addr := d.Address.EncodeAddress(); !strings.HasPrefix(addr, tc.prefix) {
			t.Errorf("%s %v: address %s, want prefix %s", tc.net.Name, tc.st, addr, tc.prefix)
		}
		if !d.Address.IsForNet(tc.net) {
			t.Errorf("%s %v: address not for its network", tc.net.Name, tc.st)
		}
		class, addrs, _, err := txscript.ExtractPkScriptAddrs(d.PkScript, tc.net)
		if err != nil || class != tc.class || len(addrs) != 1 || addrs[0].EncodeAddress() != d.Address.EncodeAddress() {
			t.Errorf("%s %v: script class %v, addresses %v, %v", tc.net.Name, tc.st, class, addrs, err)
		}
		if want := []uint32{tc.st.Purpose() + hardened, wantCoin + hardened, hardened, 0, 42}; !slicesEqual(d.Origin.Path, want) {
			t.Errorf("origin path %s", d.Origin.PathString())
		}
	}
}

func slicesEqual(a, b []uint32) bool {
	return KeyOrigin{Path: a}.equal(KeyOrigin{Path: b})
}

// TestDeriveMatchesPrivateKey: the signer's private key for a derived
// address is the key behind the address.
func TestDeriveMatchesPrivateKey(t *testing.T) {
	m := testMaster(t, &chaincfg.RegressionNetParams)
	for _, st := range []ScriptType{P2WPKH, P2TR} {
		a := testAccount(t, m, st, 5)
		for _, bi := range [][2]uint32{{0, 0}, {1, 0}, {0, 1000}, {1, hardened - 1}} {
			d, err := a.Derive(bi[0], bi[1])
			if err != nil {
				t.Fatal(err)
			}
			priv, err := m.PrivKey(d.Origin.Path)
			if err != nil {
				t.Fatal(err)
			}
			if !priv.PubKey().IsEqual(d.PubKey) {
				t.Errorf("%v %s: private key does not match", st, d.Origin.PathString())
			}
			again, err := m.DerivePath(d.Origin.Path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again.PkScript, d.PkScript) {
				t.Errorf("%v %s: DerivePath gives another script", st, d.Origin.PathString())
			}
		}
	}
}

// TestDeriveDistinct: receive and change, and neighbouring indexes, never
// collide, and the account's own origin is never modified.
func TestDeriveDistinct(t *testing.T) {
	a := testAccount(t, testMaster(t, &chaincfg.MainNetParams), P2TR, 0)
	seen := map[string]string{}
	for branch := uint32(0); branch < 2; branch++ {
		for index := uint32(0); index < 20; index++ {
			d, err := a.Derive(branch, index)
			if err != nil {
				t.Fatal(err)
			}
			addr := d.Address.EncodeAddress()
			if prev, dup := seen[addr]; dup {
				t.Fatalf("%s and %s share address %s", prev, d.Origin.PathString(), addr)
			}
			seen[addr] = d.Origin.PathString()
		}
	}
	if a.Origin.PathString() != "m/86'/0'/0'" {
		t.Errorf("account origin changed to %s", a.Origin.PathString())
	}
}

// TestDeriveConcurrent derives from one AccountKey on several goroutines
// (run with -race to check the no-shared-writes claim).
func TestDeriveConcurrent(t *testing.T) {
	a := testAccount(t, testMaster(t, &chaincfg.MainNetParams), P2WPKH, 0)
	const n = 40
	want := make([]string, n)
	for i := range want {
		d, err := a.Derive(BranchReceive, uint32(i))
		if err != nil {
			t.Fatal(err)
		}
		want[i] = d.Address.EncodeAddress()
	}
	var wg sync.WaitGroup
	errs := make(chan string, 4*n)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				d, err := a.Derive(BranchReceive, uint32(i))
				if err != nil {
					errs <- err.Error()
					return
				}
				if got := d.Address.EncodeAddress(); got != want[i] {
					errs <- got + " != " + want[i]
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// BenchmarkDerive measures one address derivation from a cached account key,
// including encoding the address string, as the address allocator does it.
func BenchmarkDerive(b *testing.B) {
	m := testMaster(b, &chaincfg.MainNetParams)
	for _, st := range []ScriptType{P2WPKH, P2TR} {
		a := testAccount(b, m, st, 0)
		b.Run(st.String(), func(b *testing.B) {
			var index uint32
			for b.Loop() {
				d, err := a.Derive(BranchReceive, index)
				if err != nil {
					b.Fatal(err)
				}
				if d.Address.EncodeAddress() == "" {
					b.Fatal("empty address")
				}
				index++
			}
		})
	}
}

func BenchmarkParseDescriptor(b *testing.B) {
	desc := testAccount(b, testMaster(b, &chaincfg.MainNetParams), P2WPKH, 0).Descriptor()
	for b.Loop() {
		if _, err := ParseDescriptor(desc, &chaincfg.MainNetParams); err != nil {
			b.Fatal(err)
		}
	}
}
