package keystore

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/cosmos/go-bip39"
)

// The published BIP39 vectors (passphrase "TREZOR"): entropy → mnemonic
// (go-bip39), mnemonic → seed (SeedFromMnemonic), seed → BIP32 root (btcd),
// all from testdata/bip39_vectors.json.
func TestBIP39PublishedVectors(t *testing.T) {
	var file struct {
		Passphrase string      `json:"passphrase"`
		English    [][4]string `json:"english"`
	}
	readJSON(t, "bip39_vectors.json", &file)
	if file.Passphrase != "TREZOR" || len(file.English) != 24 {
		t.Fatalf("testdata/bip39_vectors.json: passphrase %q, %d vectors; want TREZOR, 24", file.Passphrase, len(file.English))
	}
	for _, v := range file.English {
		entropyHex, mnemonic, seedHex, xprv := v[0], v[1], v[2], v[3]
		t.Run(entropyHex, func(t *testing.T) {
			entropy, err := hex.DecodeString(entropyHex)
			if err != nil {
				t.Fatal(err)
			}
			gotMnemonic, err := bip39.NewMnemonic(entropy)
			if err != nil {
				t.Fatal(err)
			}
			if gotMnemonic != mnemonic {
				t.Errorf("entropy → mnemonic:\n got %q\nwant %q", gotMnemonic, mnemonic)
			}
			if err := ValidateMnemonic(mnemonic); err != nil {
				t.Errorf("ValidateMnemonic: %v", err)
			}
			seed, err := SeedFromMnemonic(mnemonic, []byte(file.Passphrase))
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(seed); got != seedHex {
				t.Errorf("seed:\n got %s\nwant %s", got, seedHex)
			}
			root, err := hdkeychain.NewMaster(seed, &chaincfg.MainNetParams)
			if err != nil {
				t.Fatal(err)
			}
			if got := root.String(); got != xprv {
				t.Errorf("BIP32 root:\n got %s\nwant %s", got, xprv)
			}
		})
	}
}

// The BIP84 "abandon … about" mnemonic with an empty BIP39 passphrase, and
// its master fingerprint.
func TestBIP84SeedAndFingerprint(t *testing.T) {
	v := loadBIP84(t)
	seed, err := SeedFromMnemonic(v.Mnemonic, []byte(v.Passphrase))
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(seed); got != v.SeedHex {
		t.Errorf("seed:\n got %s\nwant %s", got, v.SeedHex)
	}
	fp, err := MasterFingerprint(seed)
	if err != nil {
		t.Fatal(err)
	}
	if fp != v.Fingerprint {
		t.Errorf("fingerprint %s, want %s", fp, v.Fingerprint)
	}
}

func TestNewMnemonic(t *testing.T) {
	for _, words := range []int{12, 24} {
		a, err := NewMnemonic(words)
		if err != nil {
			t.Fatalf("NewMnemonic(%d): %v", words, err)
		}
		b, err := NewMnemonic(words)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(strings.Fields(a)); n != words {
			t.Errorf("NewMnemonic(%d) has %d words", words, n)
		}
		if err := ValidateMnemonic(a); err != nil {
			t.Errorf("NewMnemonic(%d) is not valid: %v", words, err)
		}
		if a == b {
			t.Errorf("two NewMnemonic(%d) calls gave the same mnemonic", words)
		}
	}
	for _, words := range []int{0, 11, 13, 15, 18, 21, 25, -12} {
		if _, err := NewMnemonic(words); err == nil {
			t.Errorf("NewMnemonic(%d) succeeded, want an error", words)
		}
	}
}

func TestValidateMnemonic(t *testing.T) {
	abandon11 := strings.Repeat("abandon ", 11)
	tests := []struct {
		name     string
		mnemonic string
		wantErr  error  // nil for valid
		wantText string // in the message
	}{
		{"valid", abandon11 + "about", nil, ""},
		{"valid 24 words", strings.Repeat("abandon ", 23) + "art", nil, ""},
		{"upper case and extra whitespace", "  ABANDON\tAbandon\n" + strings.Repeat("abandon  ", 9) + "About \r\n", nil, ""},
		{"full-width letters normalize under NFKD", abandon11 + "ａｂｏｕｔ", nil, ""},
		{"empty", "", ErrInvalidMnemonic, "empty"},
		{"only whitespace", " \n\t ", ErrInvalidMnemonic, "empty"},
		{"11 words", strings.Repeat("abandon ", 10) + "about", ErrInvalidMnemonic, "11 words"},
		{"13 words", abandon11 + "abandon about", ErrInvalidMnemonic, "13 words"},
		{"unknown word", "abandon abandon abandonn" + strings.Repeat(" abandon", 8) + " about", ErrInvalidMnemonic, `unknown word "abandonn" at position 3`},
		{"unknown last word", abandon11 + "aboot", ErrInvalidMnemonic, `unknown word "aboot" at position 12`},
		{"first unknown word reported", "xx " + strings.Repeat("abandon ", 9) + "yy about", ErrInvalidMnemonic, `unknown word "xx" at position 1`},
		{"digits", abandon11 + "1", ErrInvalidMnemonic, `unknown word "1" at position 12`},
		{"long garbage is shortened", abandon11 + strings.Repeat("z", 100), ErrInvalidMnemonic, strings.Repeat("z", 32) + "…"},
		{"bad checksum", abandon11 + "abandon", ErrMnemonicChecksum, "checksum"},
		{"words out of order", "about " + abandon11, ErrMnemonicChecksum, "checksum"},
		{"bad checksum, 24 words", strings.Repeat("abandon ", 24), ErrMnemonicChecksum, "checksum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateMnemonic(tt.mnemonic)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("ValidateMnemonic: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !errors.Is(err, ErrInvalidMnemonic) {
				t.Fatalf("ValidateMnemonic error %v, want %v (and ErrInvalidMnemonic)", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not say %q", err, tt.wantText)
			}
		})
	}
}

// BIP39 passphrases are NFKD-normalized: "é" typed composed or decomposed
// gives the same seed, and the caller's slices are left as they were.
func TestSeedFromMnemonicNormalizesPassphrase(t *testing.T) {
	mnemonic := loadBIP84(t).Mnemonic
	composed := []byte("caf\u00e9")
	decomposed := []byte("cafe\u0301")
	plain := []byte("cafe")
	seeds := map[string][]byte{}
	for name, pass := range map[string][]byte{"composed": composed, "decomposed": decomposed, "plain": plain} {
		before := bytes.Clone(pass)
		seed, err := SeedFromMnemonic(mnemonic, pass)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(pass, before) {
			t.Errorf("%s passphrase was changed to %q", name, pass)
		}
		seeds[name] = seed
	}
	if !bytes.Equal(seeds["composed"], seeds["decomposed"]) {
		t.Error("composed and decomposed é give different seeds")
	}
	if bytes.Equal(seeds["composed"], seeds["plain"]) {
		t.Error("é and e give the same seed")
	}
	if _, err := SeedFromMnemonic(strings.Repeat("abandon ", 12), nil); !errors.Is(err, ErrMnemonicChecksum) {
		t.Errorf("SeedFromMnemonic of an invalid mnemonic: %v, want ErrMnemonicChecksum", err)
	}
}
