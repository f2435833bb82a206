package keystore

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// Cheap Argon2id parameters so tests and fuzzing run fast; production
// parameters are exercised by TestCreateOpenProductionKDF and the benchmark.
var (
	testKDF    = kdfParams{MemoryKiB: 64, Iterations: 1, Parallelism: 1}
	testLimits = kdfLimits{
		min: kdfParams{MemoryKiB: 8, Iterations: 1, Parallelism: 1},
		max: kdfParams{MemoryKiB: 1024, Iterations: 4, Parallelism: 4},
	}
)

var testPassphrase = []byte("correct horse battery staple")

// bip84Vector is the part of testdata/bip84.json these tests use: the
// "abandon … about" mnemonic, its BIP39 seed and master fingerprint.
type bip84Vector struct {
	Mnemonic    string `json:"mnemonic"`
	Passphrase  string `json:"passphrase"`
	SeedHex     string `json:"derived_bip39_seed_hex"`
	Fingerprint string `json:"derived_master_fingerprint"`
}

func loadBIP84(t testing.TB) bip84Vector {
	t.Helper()
	var v bip84Vector
	readJSON(t, "bip84.json", &v)
	if v.Mnemonic == "" || v.SeedHex == "" || v.Fingerprint == "" {
		t.Fatalf("testdata/bip84.json lacks the fields this test needs: %+v", v)
	}
	return v
}

func (v bip84Vector) seed(t testing.TB) []byte {
	t.Helper()
	b, err := hex.DecodeString(v.SeedHex)
	if err != nil || len(b) != SeedLen {
		t.Fatalf("bad seed in testdata/bip84.json: %v", err)
	}
	return b
}

func readJSON(t testing.TB, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("testdata/%s: %v", name, err)
	}
}

// privateDir returns a fresh directory only the owner can use.
func privateDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// createTestKeystore writes a keystore of the BIP84 seed with cheap KDF
// parameters and returns its path and bytes.
func createTestKeystore(t testing.TB, meta Meta) (string, []byte) {
	t.Helper()
	path := filepath.Join(privateDir(t), "seed.keystore")
	if err := create(path, loadBIP84(t).seed(t), meta, testPassphrase, testKDF); err != nil {
		t.Fatalf("create: %v", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, data
}

// writeFile writes data to a new file in a private directory with mode.
func writeFile(t testing.TB, data []byte, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(privateDir(t), "seed.keystore")
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // WriteFile's mode is subject to umask
		t.Fatal(err)
	}
	return path
}

// editJSON decodes a keystore file into a generic map, lets edit change it,
// and encodes it again.
func editJSON(t testing.TB, data []byte, edit func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func kdfMap(m map[string]any) map[string]any { return m["kdf"].(map[string]any) }

// flipHex changes the first hex digit of a hex string to another digit.
func flipHex(s string) string {
	c := byte('0')
	if s[0] == '0' {
		c = '1'
	}
	return string(c) + s[1:]
}
