package keystore

import (
	"path/filepath"
	"testing"
)

// BenchmarkOpenProductionKDF times Open of a keystore written by Create:
// almost all of it is Argon2id with the production parameters, the delay a
// person waits after typing the passphrase.
func BenchmarkOpenProductionKDF(b *testing.B) {
	path := filepath.Join(privateDir(b), "seed.keystore")
	if err := Create(path, loadBIP84(b).seed(b), Meta{Network: Mainnet}, testPassphrase); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		ks, err := Open(path, testPassphrase)
		if err != nil {
			b.Fatal(err)
		}
		ks.Wipe()
	}
}
