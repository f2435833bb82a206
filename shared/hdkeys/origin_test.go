package hdkeys

import (
	"errors"
	"slices"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
)

func TestParsePath(t *testing.T) {
	const h = hardened
	tests := []struct {
		in      string
		want    []uint32
		wantErr bool
	}{
		{in: "m", want: []uint32{}},
		{in: "m/84'/0'/0'", want: []uint32{84 + h, h, h}},
		{in: "m/84h/1H/0'/0/5", want: []uint32{84 + h, 1 + h, h, 0, 5}},
		{in: "m/2147483647", want: []uint32{2147483647}},
		{in: "m/2147483647'", want: []uint32{0xffffffff}},
		{in: "m/007", want: []uint32{7}},
		{in: "", wantErr: true},
		{in: "M/0", wantErr: true},
		{in: "84'/0'/0'", wantErr: true},
		{in: "/84'", wantErr: true},
		{in: "m/", wantErr: true},
		{in: "m//1", wantErr: true},
		{in: "m/1/", wantErr: true},
		{in: "m/-1", wantErr: true},
		{in: "m/+1", wantErr: true},
		{in: "m/ 1", wantErr: true},
		{in: "m/0x10", wantErr: true},
		{in: "m/1''", wantErr: true},
		{in: "m/1h'", wantErr: true},
		{in: "m/'", wantErr: true},
		{in: "m/2147483648", wantErr: true},
		{in: "m/4294967295", wantErr: true},
		{in: "m/99999999999", wantErr: true},
		{in: "m/*", wantErr: true},
	}
	for _, tc := range tests {
		got, err := ParsePath(tc.in)
		if tc.wantErr {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("ParsePath(%q) = %v, %v; want ErrMalformed", tc.in, got, err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParsePath(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestParsePathLengthLimit(t *testing.T) {
	long := "m"
	for range maxPathLen {
		long += "/1"
	}
	if p, err := ParsePath(long); err != nil || len(p) != maxPathLen {
		t.Fatalf("%d steps: %v", maxPathLen, err)
	}
	if _, err := ParsePath(long + "/1"); !errors.Is(err, ErrMalformed) {
		t.Errorf("%d steps accepted: %v", maxPathLen+1, err)
	}
}

func TestPathStringRoundTrip(t *testing.T) {
	for _, path := range [][]uint32{{}, {84 + hardened, hardened, hardened, 1, 9}, {0xffffffff, 0, hardened - 1}} {
		s := KeyOrigin{Path: path}.PathString()
		back, err := ParsePath(s)
		if err != nil || !slices.Equal(back, path) {
			t.Errorf("%v -> %q -> %v, %v", path, s, back, err)
		}
	}
	if got := (KeyOrigin{Path: []uint32{86 + hardened, 1 + hardened, hardened, 1, 0}}).PathString(); got != "m/86'/1'/0'/1/0" {
		t.Errorf("PathString = %q", got)
	}
}

// TestFingerprintRepresentation pins the byte order: btcd's psbt stores the
// fingerprint as the little-endian reading of hash160's first four bytes, so
// the display form 73c5da0a (bytes 73 c5 da 0a) is the uint32 0x0adac573.
func TestFingerprintRepresentation(t *testing.T) {
	var v bip84Vectors
	readJSON(t, "bip84.json", &v)
	m := testMaster(t, &chaincfg.MainNetParams)
	if m.Fingerprint() != 0x0adac573 {
		t.Errorf("Fingerprint() = %#08x, want 0x0adac573", m.Fingerprint())
	}
	if got := (KeyOrigin{Fingerprint: 0x0adac573}).FingerprintHex(); got != v.Fingerprint {
		t.Errorf("FingerprintHex = %q, want %q", got, v.Fingerprint)
	}
	for _, s := range []string{"73c5da0a", "00000000", "ffffffff", "deadbeef"} {
		fp, err := parseFingerprintHex(s)
		if err != nil || (KeyOrigin{Fingerprint: fp}).FingerprintHex() != s {
			t.Errorf("%s: %#x, %v", s, fp, err)
		}
	}
	for _, s := range []string{"", "73c5da0", "73c5da0a0", "73c5da0g", "0x73c5da"} {
		if _, err := parseFingerprintHex(s); !errors.Is(err, ErrMalformed) {
			t.Errorf("parseFingerprintHex(%q) = %v", s, err)
		}
	}
}

func TestKeyOriginChildDoesNotAlias(t *testing.T) {
	parent := KeyOrigin{Fingerprint: 1, Path: make([]uint32, 3, 10)}
	a := parent.child(0, 1)
	b := parent.child(1, 2)
	if !slices.Equal(a.Path, []uint32{0, 0, 0, 0, 1}) || !slices.Equal(b.Path, []uint32{0, 0, 0, 1, 2}) {
		t.Errorf("children share memory: %v %v", a.Path, b.Path)
	}
	if len(parent.Path) != 3 {
		t.Errorf("parent path changed: %v", parent.Path)
	}
}

func TestScriptType(t *testing.T) {
	tests := []struct {
		in      string
		want    ScriptType
		purpose uint32
		fn      string
	}{
		{"p2wpkh", P2WPKH, 84, "wpkh"},
		{"P2WPKH", P2WPKH, 84, "wpkh"},
		{" p2tr\n", P2TR, 86, "tr"},
	}
	for _, tc := range tests {
		got, err := ParseScriptType(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseScriptType(%q) = %v, %v", tc.in, got, err)
			continue
		}
		if got.Purpose() != tc.purpose || got.descriptorFunc() != tc.fn {
			t.Errorf("%v: purpose %d, func %q", got, got.Purpose(), got.descriptorFunc())
		}
		back, err := ParseScriptType(got.String())
		if err != nil || back != got {
			t.Errorf("String round trip of %v: %v, %v", got, back, err)
		}
		if st, ok := scriptTypeForPurpose(tc.purpose + hardened); !ok || st != tc.want {
			t.Errorf("scriptTypeForPurpose(%d') = %v, %v", tc.purpose, st, ok)
		}
	}
	for _, bad := range []string{"", "p2pkh", "p2sh-p2wpkh", "wpkh", "tr"} {
		if _, err := ParseScriptType(bad); !errors.Is(err, ErrUnsupported) {
			t.Errorf("ParseScriptType(%q) = %v", bad, err)
		}
	}
	var zero ScriptType
	if zero.Purpose() != 0 || zero.String() != "ScriptType(0)" {
		t.Errorf("zero ScriptType: purpose %d, %q", zero.Purpose(), zero.String())
	}
	if _, ok := scriptTypeForPurpose(44 + hardened); ok {
		t.Error("purpose 44 mapped to a script type")
	}
}
