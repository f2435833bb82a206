package keystore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpen feeds arbitrary file contents to open (with the cheap test KDF
// limits, so a file can get as far as decryption). It must never panic,
// never read more than maxFileSize, never run the KDF outside the limits
// (which bound its memory), and only succeed with a 64-byte seed whose
// fingerprint is the header's.
func FuzzOpen(f *testing.F) {
	_, good := createTestKeystore(f, Meta{Network: Mainnet})
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte{})
	f.Add([]byte("{}"))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`{"version":1,"kdf":{"name":"argon2id","memory_kib":68719476736,"iterations":3,"parallelism":4}}`))
	f.Add(bytes.ReplaceAll(good, []byte(`"mainnet"`), []byte(`"testnet"`)))
	f.Add(bytes.ReplaceAll(good, []byte(`"argon2id"`), []byte(`"scrypt"`)))
	f.Add(append(bytes.Clone(good), '}'))

	path := filepath.Join(privateDir(f), "seed.keystore")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		ks, err := open(path, testPassphrase, testLimits)
		if err != nil {
			if ks != nil {
				t.Fatal("open returned a keystore with an error")
			}
			if len(data) > maxFileSize && !errors.Is(err, ErrMalformed) {
				t.Fatalf("oversized file: %v", err)
			}
			return
		}
		defer ks.Wipe()
		if len(ks.Seed()) != SeedLen {
			t.Fatalf("opened a seed of %d bytes", len(ks.Seed()))
		}
		fp, err := MasterFingerprint(ks.Seed())
		if err != nil || fp != ks.Meta().Fingerprint {
			t.Fatalf("opened a seed with fingerprint %s (%v), header says %s", fp, err, ks.Meta().Fingerprint)
		}
	})
}
