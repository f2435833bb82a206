package keystore

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestCreateOpenRoundTrip(t *testing.T) {
	seed := loadBIP84(t).seed(t)
	fingerprint := loadBIP84(t).Fingerprint
	created := time.Date(2024, 5, 6, 7, 8, 9, 500_000_000, time.FixedZone("CEST", 2*3600))
	tests := []struct {
		name       string
		meta       Meta
		createPass []byte
		openPass   []byte
		want       Meta
	}{
		{"mainnet, time given", Meta{Network: Mainnet, Created: created}, testPassphrase, testPassphrase,
			Meta{Network: Mainnet, Fingerprint: fingerprint, Created: time.Date(2024, 5, 6, 5, 8, 9, 0, time.UTC)}},
		{"testnet, fingerprint given", Meta{Network: Testnet, Fingerprint: fingerprint, Created: created}, testPassphrase, testPassphrase,
			Meta{Network: Testnet, Fingerprint: fingerprint, Created: time.Date(2024, 5, 6, 5, 8, 9, 0, time.UTC)}},
		{"signet", Meta{Network: Signet, Created: created}, testPassphrase, testPassphrase,
			Meta{Network: Signet, Fingerprint: fingerprint, Created: time.Date(2024, 5, 6, 5, 8, 9, 0, time.UTC)}},
		{"regtest", Meta{Network: Regtest, Created: created}, testPassphrase, testPassphrase,
			Meta{Network: Regtest, Fingerprint: fingerprint, Created: time.Date(2024, 5, 6, 5, 8, 9, 0, time.UTC)}},
		{"passphrase typed composed, then decomposed", Meta{Network: Mainnet, Created: created}, []byte("pass caf\u00e9 word"), []byte("pass cafe\u0301 word"),
			Meta{Network: Mainnet, Fingerprint: fingerprint, Created: time.Date(2024, 5, 6, 5, 8, 9, 0, time.UTC)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(privateDir(t), "seed.keystore")
			if err := create(path, seed, tt.meta, tt.createPass, testKDF); err != nil {
				t.Fatalf("create: %v", err)
			}
			ks, err := open(path, tt.openPass, testLimits)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			if !bytes.Equal(ks.Seed(), seed) {
				t.Error("opened seed differs from the one stored")
			}
			if got := ks.Meta(); got != tt.want {
				t.Errorf("Meta() = %+v, want %+v", got, tt.want)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(data, tt.createPass) {
				t.Error("the file contains the passphrase")
			}
		})
	}
}

func TestCreateSetsTimeAndMode(t *testing.T) {
	before := time.Now().Truncate(time.Second)
	path, _ := createTestKeystore(t, Meta{Network: Mainnet})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode(); mode != 0o600 {
		t.Errorf("created file mode %v, want -rw-------", mode)
	}
	ks, err := open(path, testPassphrase, testLimits)
	if err != nil {
		t.Fatal(err)
	}
	if c := ks.Meta().Created; c.Before(before) || c.After(time.Now()) || c.Location() != time.UTC {
		t.Errorf("Created = %v, want now in UTC", c)
	}
	// Only the keystore is left in the directory: no temporary file.
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "seed.keystore" {
		t.Errorf("directory holds %v, want only seed.keystore", entries)
	}
}

func TestCreateRefuses(t *testing.T) {
	seed := loadBIP84(t).seed(t)
	tests := []struct {
		name     string
		seed     []byte
		meta     Meta
		pass     []byte
		setup    func(t *testing.T, dir string) string // returns the path to create
		wantErr  error
		wantText string
	}{
		{name: "short seed", seed: seed[:32], meta: Meta{Network: Mainnet}, pass: testPassphrase, wantText: "64 bytes"},
		{name: "empty passphrase", seed: seed, meta: Meta{Network: Mainnet}, pass: nil, wantText: "empty passphrase"},
		{name: "no network", seed: seed, meta: Meta{}, pass: testPassphrase, wantText: "network"},
		{name: "unknown network", seed: seed, meta: Meta{Network: "testnet4"}, pass: testPassphrase, wantText: `"testnet4"`},
		{name: "fingerprint of another seed", seed: seed, meta: Meta{Network: Mainnet, Fingerprint: "01234567"}, pass: testPassphrase, wantText: "not the seed's (73c5da0a)"},
		{name: "existing file", seed: seed, meta: Meta{Network: Mainnet}, pass: testPassphrase,
			setup: func(t *testing.T, dir string) string {
				path := filepath.Join(dir, "seed.keystore")
				if err := os.WriteFile(path, []byte("precious"), 0o600); err != nil {
					t.Fatal(err)
				}
				return path
			},
			wantErr: fs.ErrExist, wantText: "refusing to overwrite"},
		{name: "existing dangling symlink", seed: seed, meta: Meta{Network: Mainnet}, pass: testPassphrase,
			setup: func(t *testing.T, dir string) string {
				path := filepath.Join(dir, "seed.keystore")
				if err := os.Symlink(filepath.Join(dir, "elsewhere"), path); err != nil {
					t.Fatal(err)
				}
				return path
			},
			wantErr: fs.ErrExist, wantText: "refusing to overwrite"},
		{name: "world-writable directory", seed: seed, meta: Meta{Network: Mainnet}, pass: testPassphrase,
			setup: func(t *testing.T, dir string) string {
				if err := os.Chmod(dir, 0o777); err != nil {
					t.Fatal(err)
				}
				return filepath.Join(dir, "seed.keystore")
			},
			wantErr: ErrInsecurePermissions, wantText: "chmod o-w"},
		{name: "world-writable sticky directory", seed: seed, meta: Meta{Network: Mainnet}, pass: testPassphrase,
			setup: func(t *testing.T, dir string) string {
				if err := os.Chmod(dir, 0o777|os.ModeSticky); err != nil {
					t.Fatal(err)
				}
				return filepath.Join(dir, "seed.keystore")
			},
			wantErr: ErrInsecurePermissions, wantText: "writable by every user"},
		{name: "missing directory", seed: seed, meta: Meta{Network: Mainnet}, pass: testPassphrase,
			setup: func(t *testing.T, dir string) string {
				return filepath.Join(dir, "missing", "seed.keystore")
			},
			wantErr: fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := privateDir(t)
			path := filepath.Join(dir, "seed.keystore")
			if tt.setup != nil {
				path = tt.setup(t, dir)
			}
			var before []byte
			if b, err := os.ReadFile(path); err == nil {
				before = b
			}
			err := create(path, tt.seed, tt.meta, tt.pass, testKDF)
			if err == nil {
				t.Fatal("create succeeded, want an error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not say %q", err, tt.wantText)
			}
			if before != nil {
				if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
					t.Error("an existing file was changed")
				}
			}
		})
	}
}

// writeNew itself never clobbers, even when the target appears after the
// early check (as when two signers race).
func TestWriteNewDoesNotClobber(t *testing.T) {
	dir := privateDir(t)
	path := filepath.Join(dir, "seed.keystore")
	if err := writeNew(path, []byte("first")); err != nil {
		t.Fatal(err)
	}
	if err := writeNew(path, []byte("second")); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second writeNew: %v, want fs.ErrExist", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "first" {
		t.Errorf("file holds %q, want %q", got, "first")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want 1 (temporary files left behind?)", len(entries))
	}
}

func TestOpenWrongPassphrase(t *testing.T) {
	path, _ := createTestKeystore(t, Meta{Network: Mainnet})
	for _, pass := range [][]byte{[]byte("correct horse battery stapl"), []byte("Correct horse battery staple"), nil} {
		ks, err := open(path, pass, testLimits)
		if !errors.Is(err, ErrWrongPassphrase) {
			t.Errorf("open with %q: %v, want ErrWrongPassphrase", pass, err)
		}
		if ks != nil {
			t.Error("open returned a keystore with an error")
		}
	}
}

// Changing any field of the file, to a value that is itself well-formed,
// must make decryption fail: the header is authenticated.
func TestOpenRefusesTamperedFields(t *testing.T) {
	_, data := createTestKeystore(t, Meta{Network: Mainnet, Created: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)})
	tests := []struct {
		field string // the JSON key changed, "kdf.x" for the KDF's
		edit  func(m map[string]any)
	}{
		{"network", func(m map[string]any) { m["network"] = "testnet" }},
		{"fingerprint", func(m map[string]any) { m["fingerprint"] = "01234567" }},
		{"created", func(m map[string]any) { m["created"] = "2024-01-02T03:04:06Z" }},
		{"kdf.memory_kib", func(m map[string]any) { kdfMap(m)["memory_kib"] = 128 }},
		{"kdf.iterations", func(m map[string]any) { kdfMap(m)["iterations"] = 2 }},
		{"kdf.parallelism", func(m map[string]any) { kdfMap(m)["parallelism"] = 2 }},
		{"kdf.salt", func(m map[string]any) { kdfMap(m)["salt"] = flipHex(kdfMap(m)["salt"].(string)) }},
		{"nonce", func(m map[string]any) { m["nonce"] = flipHex(m["nonce"].(string)) }},
		{"ciphertext", func(m map[string]any) { m["ciphertext"] = flipHex(m["ciphertext"].(string)) }},
		{"ciphertext tag", func(m map[string]any) {
			s := m["ciphertext"].(string)
			m["ciphertext"] = s[:len(s)-1] + map[bool]string{true: "1", false: "0"}[s[len(s)-1] == '0']
		}},
	}
	covered := map[string]bool{"version": true, "kdf.name": true, "cipher": true} // each has one legal value
	for _, tt := range tests {
		covered[strings.TrimSuffix(tt.field, " tag")] = true
		t.Run(tt.field, func(t *testing.T) {
			tampered := editJSON(t, data, tt.edit)
			if bytes.Equal(tampered, editJSON(t, data, func(map[string]any) {})) {
				t.Fatal("the edit changed nothing")
			}
			_, err := open(writeFile(t, tampered, 0o600), testPassphrase, testLimits)
			if !errors.Is(err, ErrWrongPassphrase) {
				t.Errorf("open: %v, want ErrWrongPassphrase", err)
			}
		})
	}
	// Every field a file has must be in the table above, so a field added
	// later without being authenticated fails here.
	for _, key := range jsonKeys(t, data) {
		if !covered[key] {
			t.Errorf("field %q of the keystore file is not tampered with by this test", key)
		}
	}
}

// jsonKeys lists the keys of a keystore file, "kdf.x" for the KDF's.
func jsonKeys(t *testing.T, data []byte) []string {
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			for sk := range sub {
				keys = append(keys, k+"."+sk)
			}
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func TestOpenRefusesMalformed(t *testing.T) {
	_, good := createTestKeystore(t, Meta{Network: Mainnet})
	edit := func(f func(m map[string]any)) []byte { return editJSON(t, good, f) }
	tests := []struct {
		name     string
		data     []byte
		wantErr  error
		wantText string
	}{
		{"empty file", nil, ErrMalformed, "empty"},
		{"garbage", []byte("\x00\x01binary garbage"), ErrMalformed, "not JSON"},
		{"truncated", good[:len(good)/2], ErrMalformed, "truncated"},
		{"JSON array", []byte("[1,2,3]"), ErrMalformed, "expected a JSON object, found array"},
		{"no version", []byte("{}"), ErrMalformed, `no "version"`},
		{"version 2", edit(func(m map[string]any) { m["version"] = 2 }), ErrUnsupported, "version 2"},
		{"version 0", edit(func(m map[string]any) { m["version"] = 0 }), ErrUnsupported, "version 0"},
		{"version as string", edit(func(m map[string]any) { m["version"] = "1" }), ErrMalformed, `field "version" has the wrong type`},
		{"scrypt", edit(func(m map[string]any) { kdfMap(m)["name"] = "scrypt" }), ErrUnsupported, `"scrypt"`},
		{"other cipher", edit(func(m map[string]any) { m["cipher"] = "aes-256-gcm" }), ErrUnsupported, `"aes-256-gcm"`},
		{"unknown field", edit(func(m map[string]any) { m["mnemonic"] = "abandon" }), ErrMalformed, `unknown field "mnemonic"`},
		{"missing ciphertext", edit(func(m map[string]any) { delete(m, "ciphertext") }), ErrMalformed, "ciphertext"},
		{"data after the object", append(bytes.Clone(good), []byte(`{"version":1}`)...), ErrMalformed, "data after"},
		{"upper-case hex", edit(func(m map[string]any) { m["nonce"] = strings.ToUpper(m["nonce"].(string)) }), ErrMalformed, "lowercase"},
		{"non-hex nonce", edit(func(m map[string]any) { m["nonce"] = "zz" + m["nonce"].(string)[2:] }), ErrMalformed, "not hex"},
		{"short salt", edit(func(m map[string]any) { kdfMap(m)["salt"] = "00" }), ErrMalformed, "kdf.salt"},
		{"long ciphertext", edit(func(m map[string]any) { m["ciphertext"] = m["ciphertext"].(string) + "00" }), ErrMalformed, "ciphertext has"},
		{"unknown network", edit(func(m map[string]any) { m["network"] = "litecoin" }), ErrMalformed, `"litecoin"`},
		{"short fingerprint", edit(func(m map[string]any) { m["fingerprint"] = "73c5da" }), ErrMalformed, "fingerprint"},
		{"upper-case fingerprint", edit(func(m map[string]any) { m["fingerprint"] = "73C5DA0A" }), ErrMalformed, "lowercase hex"},
		{"created not a time", edit(func(m map[string]any) { m["created"] = "yesterday" }), ErrMalformed, "created"},
		{"created not UTC", edit(func(m map[string]any) { m["created"] = "2024-01-02T03:04:05+01:00" }), ErrMalformed, "created"},
		{"memory negative", edit(func(m map[string]any) { kdfMap(m)["memory_kib"] = -1 }), ErrMalformed, `field "kdf.memory_kib" has the wrong type or is out of range (number -1)`},
		{"memory beyond 64 bits", edit(func(m map[string]any) { kdfMap(m)["memory_kib"] = 1e30 }), ErrMalformed, "memory_kib"},
		{"too large", append(bytes.Clone(good), bytes.Repeat([]byte(" "), maxFileSize)...), ErrMalformed, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := open(writeFile(t, tt.data, 0o600), testPassphrase, testLimits)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("open: %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not say %q", err, tt.wantText)
			}
		})
	}
}

func TestOpenRefusesOpenPermissions(t *testing.T) {
	_, data := createTestKeystore(t, Meta{Network: Mainnet})
	tests := []struct {
		mode os.FileMode
		ok   bool
	}{
		{0o600, true},
		{0o400, true},
		{0o644, false},
		{0o640, false},
		{0o604, false},
		{0o660, false},
		{0o602, false},
		{0o620, false},
		{0o666, false},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			path := writeFile(t, data, tt.mode)
			ks, err := open(path, testPassphrase, testLimits)
			if tt.ok {
				if err != nil {
					t.Fatalf("open: %v", err)
				}
				ks.Wipe()
				return
			}
			if !errors.Is(err, ErrInsecurePermissions) {
				t.Fatalf("open: %v, want ErrInsecurePermissions", err)
			}
			if !strings.Contains(err.Error(), "chmod 600 "+path) {
				t.Errorf("error %q does not give the chmod fix", err)
			}
		})
	}
}

func TestOpenRefusesNonRegularFiles(t *testing.T) {
	dir := privateDir(t)
	if _, err := open(dir, testPassphrase, testLimits); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("open of a directory: %v, want a not-a-regular-file error", err)
	}
	if _, err := open(filepath.Join(dir, "missing"), testPassphrase, testLimits); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("open of a missing file: %v, want fs.ErrNotExist", err)
	}
}

// With the production limits, parameters outside the range are refused
// before any key derivation runs: a hostile file cannot make Open allocate
// 64 GiB, nor pass as a keystore this program wrote with weak parameters.
func TestOpenRefusesKDFParamsOutOfRange(t *testing.T) {
	_, data := createTestKeystore(t, Meta{Network: Mainnet})
	set := func(mem, iter, par uint64) []byte {
		return editJSON(t, data, func(m map[string]any) {
			k := kdfMap(m)
			k["memory_kib"], k["iterations"], k["parallelism"] = mem, iter, par
		})
	}
	prod := productionKDF
	tests := []struct {
		name     string
		data     []byte
		wantText string
	}{
		{"64 GiB of memory", set(64<<20, prod.Iterations, prod.Parallelism), "memory 67108864 KiB"},
		{"memory just above the ceiling", set(productionLimits.max.MemoryKiB+1, prod.Iterations, prod.Parallelism), "memory"},
		{"2^64-1 KiB of memory", set(^uint64(0), prod.Iterations, prod.Parallelism), "memory"},
		{"a million passes", set(prod.MemoryKiB, 1_000_000, prod.Parallelism), "iterations 1000000"},
		{"255 lanes", set(prod.MemoryKiB, prod.Iterations, 255), "parallelism 255"},
		{"zero lanes", set(prod.MemoryKiB, prod.Iterations, 0), "parallelism 0"},
		{"the cheap test parameters", set(testKDF.MemoryKiB, testKDF.Iterations, testKDF.Parallelism), "memory 64 KiB"},
		{"memory just below the floor", set(productionLimits.min.MemoryKiB-1, prod.Iterations, prod.Parallelism), "memory"},
		{"one pass", set(prod.MemoryKiB, 1, prod.Parallelism), "iterations 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.data, 0o600)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := Open(path, testPassphrase)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrKDFParams) {
				t.Fatalf("Open: %v, want ErrKDFParams", err)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not say %q", err, tt.wantText)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
				t.Errorf("Open allocated %d bytes before refusing; the KDF must not run", alloc)
			}
		})
	}
}

// A file whose header names another seed's fingerprint, though correctly
// sealed, is refused: the signer would otherwise claim keys it does not hold.
func TestOpenRefusesFingerprintNotOfSeed(t *testing.T) {
	seed := loadBIP84(t).seed(t)
	f, err := seal(seed, Meta{Network: Mainnet, Fingerprint: "01234567", Created: time.Unix(0, 0)}, testPassphrase, testKDF)
	if err != nil {
		t.Fatal(err)
	}
	data, err := f.encode()
	if err != nil {
		t.Fatal(err)
	}
	_, err = open(writeFile(t, data, 0o600), testPassphrase, testLimits)
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "fingerprint") {
		t.Errorf("open: %v, want ErrMalformed about the fingerprint", err)
	}
}

func TestWipe(t *testing.T) {
	path, _ := createTestKeystore(t, Meta{Network: Mainnet})
	ks, err := open(path, testPassphrase, testLimits)
	if err != nil {
		t.Fatal(err)
	}
	seed := ks.Seed()
	ks.Wipe()
	if ks.Seed() != nil {
		t.Error("Seed() is not nil after Wipe")
	}
	if !bytes.Equal(seed, make([]byte, SeedLen)) {
		t.Error("the seed's memory was not zeroed")
	}
	if err := ks.CheckBackup(loadBIP84(t).Mnemonic, nil); err == nil {
		t.Error("CheckBackup after Wipe succeeded")
	}
	ks.Wipe() // twice is harmless
}

func TestCheckBackup(t *testing.T) {
	v := loadBIP84(t)
	path, _ := createTestKeystore(t, Meta{Network: Mainnet})
	ks, err := open(path, testPassphrase, testLimits)
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Wipe()
	tests := []struct {
		name     string
		mnemonic string
		bip39    string
		wantErr  error
	}{
		{"the backup", v.Mnemonic, "", nil},
		{"the backup, typed loosely", strings.ToUpper(v.Mnemonic) + "\n", "", nil},
		{"a BIP39 passphrase the wallet does not use", v.Mnemonic, "TREZOR", ErrBackupMismatch},
		{"another mnemonic", "legal winner thank year wave sausage worth useful legal winner thank yellow", "", ErrBackupMismatch},
		{"a bad checksum", strings.Repeat("abandon ", 12), "", ErrMnemonicChecksum},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ks.CheckBackup(tt.mnemonic, []byte(tt.bip39))
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("CheckBackup: %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestNetworkParams(t *testing.T) {
	for _, tt := range []struct {
		n    Network
		want string
	}{{Mainnet, "mainnet"}, {Testnet, "testnet3"}, {Signet, "signet"}, {Regtest, "regtest"}} {
		p, err := tt.n.Params()
		if err != nil || p.Name != tt.want {
			t.Errorf("%s.Params() = %v, %v; want %s", tt.n, p, err, tt.want)
		}
	}
	if _, err := Network("bitcoin").Params(); err == nil {
		t.Error(`Network("bitcoin").Params() succeeded`)
	}
}

// The exported Create and Open, with the production KDF (about a second).
func TestCreateOpenProductionKDF(t *testing.T) {
	seed := loadBIP84(t).seed(t)
	path := filepath.Join(privateDir(t), "seed.keystore")
	if err := Create(path, seed, Meta{Network: Mainnet}, testPassphrase); err != nil {
		t.Fatalf("Create: %v", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var j fileJSON
	if err := json.Unmarshal(data, &j); err != nil {
		t.Fatal(err)
	}
	if got := (kdfParams{j.KDF.MemoryKiB, j.KDF.Iterations, j.KDF.Parallelism}); got != productionKDF {
		t.Errorf("file's KDF parameters %+v, want %+v", got, productionKDF)
	}
	if err := productionLimits.check(productionKDF); err != nil {
		t.Errorf("the production parameters are outside the production limits: %v", err)
	}
	ks, err := Open(path, testPassphrase)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer ks.Wipe()
	if !bytes.Equal(ks.Seed(), seed) {
		t.Error("opened seed differs")
	}
}
