package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const hotDesc = "wpkh([73c5da0a/84h/1h/0h]tpubDC8msFGeGuwnKG9Upg7DM2b4DaRqg3CUZa5g8v2SRQ6K4NSkxUgd7HsL2XVWbVm39yBA4LAxysQAm397zwQSQoQgewGiYZqrA9DsP4zbQ1M/<0;1>/*)"

func TestExampleLoadsWithDefaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.toml")
	if err := WriteExample(path, "regtest", hotDesc); err != nil {
		t.Fatal(err)
	}
	if err := WriteExample(path, "regtest", hotDesc); err == nil {
		t.Fatal("an existing policy must not be overwritten")
	}
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if p.MaxFeeSat != DefaultMaxFeeSat || p.HotWalletLookahead != DefaultLookahead || p.Params().Name != "regtest" {
		t.Fatalf("%+v", p)
	}
}

func TestLoadRefusals(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"unknown network", `network = "main"` + "\nhot_wallet_descriptor = \"" + hotDesc + "\"", "network"},
		{"weak sighash", `network = "regtest"` + "\nhot_wallet_descriptor = \"" + hotDesc + "\"\nallowed_sighash = [\"NONE\"]", "only ALL and DEFAULT"},
		{"no destination", `network = "regtest"`, "no destination"},
		{"wrong-network hot key", `network = "mainnet"` + "\nhot_wallet_descriptor = \"" + hotDesc + "\"", "hot_wallet_descriptor"},
		{"wrong-network address", `network = "mainnet"` + "\nallowed_addresses = [\"bcrt1q6rz28mcfaxtmd6v789l9rrlrusdprr9pz3cppk\"]", "not a mainnet address"},
		{"unknown key", `network = "regtest"` + "\nhot_wallet_descriptor = \"" + hotDesc + "\"\nmax_fee = 5", "unknown key"},
		{"absurd share", `network = "regtest"` + "\nhot_wallet_descriptor = \"" + hotDesc + "\"\nmax_fee_basis_points = 20000", "fee caps"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "p.toml")
			if err := os.WriteFile(path, []byte(tc.body), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want %q, got %v", tc.want, err)
			}
		})
	}
}

func TestChecks(t *testing.T) {
	p := &Policy{Network: "regtest", HotWalletDescriptor: hotDesc, HotWalletLookahead: 20, MaxFeeSat: 10_000, MaxFeeRate: 50, MaxFeeBasisPoints: 100}
	if err := p.Init(); err != nil {
		t.Fatal(err)
	}
	d, _ := p.hot.Derive(1, 19)
	if where, err := p.Destination(d.PkScript); err != nil || !strings.Contains(where, "change branch index 19") {
		t.Fatalf("hot change address within the lookahead: %q %v", where, err)
	}
	far, _ := p.hot.Derive(0, 5000)
	if _, err := p.Destination(far.PkScript); err == nil {
		t.Fatal("beyond the lookahead must be refused")
	}
	var r *Refusal
	for _, tc := range []struct {
		fee, vsize, moved int64
		rule              string
	}{
		{10_001, 1000, 10_000_000, "max_fee_sat"},
		{6_000, 100, 10_000_000, "max_fee_rate"},
		{5_000, 1000, 100_000, "max_fee_basis_points"},
	} {
		err := p.Fee(tc.fee, tc.vsize, tc.moved)
		if !errors.As(err, &r) || r.Rule != tc.rule {
			t.Fatalf("fee %d: want %s, got %v", tc.fee, tc.rule, err)
		}
	}
	if err := p.Fee(1_000, 200, 1_000_000); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		t       uint32
		taproot bool
		ok      bool
	}{{0, false, true}, {1, false, true}, {0, true, true}, {1, true, true}, {2, false, false}, {3, true, false}, {0x81, false, false}} {
		if err := p.Sighash(tc.t, tc.taproot); (err == nil) != tc.ok {
			t.Fatalf("sighash %#x taproot %v: %v", tc.t, tc.taproot, err)
		}
	}
}

// Change goes back to an input's account, on the change branch, below
// change_lookahead; everything else is refused under its rule.
func TestChangeBoundedToWhatRecoveryFinds(t *testing.T) {
	p := &Policy{Network: "regtest", HotWalletDescriptor: hotDesc, ChangeLookahead: 100}
	if err := p.Init(); err != nil {
		t.Fatal(err)
	}
	const h = 0x80000000
	inputs := [][]uint32{{84 + h, 1 + h, 0 + h}, {86 + h, 1 + h, 0 + h}}
	for _, tc := range []struct {
		name string
		path []uint32
		rule string // "" = allowed
	}{
		{"BIP84 change within the lookahead", []uint32{84 + h, 1 + h, h, 1, 99}, ""},
		{"BIP86 change of a taproot input's account", []uint32{86 + h, 1 + h, h, 1, 0}, ""},
		{"at the lookahead", []uint32{84 + h, 1 + h, h, 1, 100}, "change_lookahead"},
		{"index 2^31-2", []uint32{84 + h, 1 + h, h, 1, 2147483646}, "change_lookahead"},
		{"receive branch", []uint32{84 + h, 1 + h, h, 0, 0}, "change"},
		{"another account", []uint32{84 + h, 1 + h, 2147483647 + h, 1, 0}, "change"},
		{"account 1", []uint32{84 + h, 1 + h, 1 + h, 1, 0}, "change"},
		{"short path", []uint32{84 + h, 1 + h, h, 1}, "change"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := p.Change(tc.path, inputs)
			if tc.rule == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var r *Refusal
			if !errors.As(err, &r) || r.Rule != tc.rule {
				t.Fatalf("want a refusal under %s, got %v", tc.rule, err)
			}
		})
	}
	if err := p.Change([]uint32{86 + h, 1 + h, h, 1, 0}, inputs[:1]); err == nil {
		t.Fatal("taproot change for BIP84-only inputs must be refused")
	}
}
