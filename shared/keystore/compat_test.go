package keystore

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestOpenFilesWrittenByEarlierBuilds opens keystore files that an earlier
// build wrote (testdata/keystores, written with golang.org/x/crypto v0.7.0):
// an upgrade of the Argon2id or XChaCha20-Poly1305 code must still open them
// to the same seed and header.
func TestOpenFilesWrittenByEarlierBuilds(t *testing.T) {
	seed := loadBIP84(t).seed(t)
	created := time.Date(2026, 12, 1, 21, 30, 0, 0, time.UTC)
	for _, tt := range []struct {
		file       string
		passphrase string
		limits     kdfLimits
		network    Network
	}{
		{"v1-production-kdf.keystore", string(testPassphrase), productionLimits, Mainnet},
		// A passphrase that NFKD changes (fullwidth letters, precomposed umlauts).
		{"v1-test-kdf.keystore", "pässwörd ｆｕｌｌｗｉｄｔｈ", testLimits, Regtest},
	} {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "keystores", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			// Git does not keep the 0600 mode Open insists on.
			path := writeFile(t, data, 0o600)
			ks, err := open(path, []byte(tt.passphrase), tt.limits)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			defer ks.Wipe()
			if !bytes.Equal(ks.Seed(), seed) {
				t.Error("opened seed differs from the BIP84 vector's")
			}
			want := Meta{Network: tt.network, Fingerprint: "73c5da0a", Created: created}
			if got := ks.Meta(); got.Network != want.Network || got.Fingerprint != want.Fingerprint || !got.Created.Equal(want.Created) {
				t.Errorf("meta %+v, want %+v", got, want)
			}
		})
	}
}
