package keystore

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/cosmos/go-bip39"
	"golang.org/x/text/unicode/norm"
)

// SeedLen is the length of a BIP39 seed, the secret a keystore holds.
const SeedLen = 64

// entropyBits maps the mnemonic lengths NewMnemonic makes to their entropy.
var entropyBits = map[int]int{12: 128, 24: 256}

// NewMnemonic returns a new English BIP39 mnemonic of 12 or 24 words from
// crypto/rand. The string cannot be wiped; show it once and let it go.
func NewMnemonic(words int) (string, error) {
	bits, ok := entropyBits[words]
	if !ok {
		return "", fmt.Errorf("a new mnemonic has 12 or 24 words, not %d", words)
	}
	entropy, err := bip39.NewEntropy(bits)
	if err != nil {
		return "", fmt.Errorf("reading entropy for a new mnemonic: %w", err)
	}
	defer wipe(entropy)
	m, err := bip39.NewMnemonic(entropy)
	if err != nil {
		return "", fmt.Errorf("making a mnemonic: %w", err)
	}
	return m, nil
}

// ValidateMnemonic reports whether m is a valid English BIP39 mnemonic:
// 12, 15, 18, 21 or 24 words, each in the wordlist, with a matching
// checksum. Case and extra whitespace are ignored. The error names the
// first unknown word and its position (counting from 1), or wraps
// ErrMnemonicChecksum; it always wraps ErrInvalidMnemonic.
func ValidateMnemonic(m string) error {
	_, err := normalizeMnemonic(m)
	return err
}

// SeedFromMnemonic validates mnemonic and returns its 64-byte BIP39 seed
// with the optional BIP39 passphrase (the "25th word"; empty for none),
// which is NFKD-normalized as BIP39 requires. The caller should wipe the
// seed when done.
func SeedFromMnemonic(mnemonic string, bip39Passphrase []byte) ([]byte, error) {
	normalized, err := normalizeMnemonic(mnemonic)
	if err != nil {
		return nil, err
	}
	pass, owned := nfkd(bip39Passphrase)
	if owned {
		defer wipe(pass)
	}
	// go-bip39 takes strings; those copies cannot be wiped (see the package
	// documentation).
	seed := bip39.NewSeed(normalized, string(pass))
	if len(seed) != SeedLen {
		wipe(seed)
		return nil, fmt.Errorf("BIP39 seed has %d bytes, want %d", len(seed), SeedLen)
	}
	return seed, nil
}

// normalizeMnemonic returns m in the form BIP39 hashes (NFKD, lower case,
// words joined by single spaces) after checking it is valid.
func normalizeMnemonic(m string) (string, error) {
	words := strings.Fields(strings.ToLower(norm.NFKD.String(m)))
	switch len(words) {
	case 0:
		return "", fmt.Errorf("%w: it is empty", ErrInvalidMnemonic)
	case 12, 15, 18, 21, 24:
	default:
		return "", fmt.Errorf("%w: it has %d words; a BIP39 mnemonic has 12, 15, 18, 21 or 24", ErrInvalidMnemonic, len(words))
	}
	for i, w := range words {
		if _, ok := bip39.ReverseWordMap[w]; !ok {
			return "", fmt.Errorf("%w: unknown word %q at position %d (not in the BIP39 English wordlist)",
				ErrInvalidMnemonic, printable(w), i+1)
		}
	}
	normalized := strings.Join(words, " ")
	// With the length and words checked, the only error left is the checksum.
	entropy, err := bip39.MnemonicToByteArray(normalized)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidMnemonic, ErrMnemonicChecksum)
	}
	wipe(entropy)
	return normalized, nil
}

// printable shortens a word for an error message so pasted garbage does not
// flood the screen.
func printable(w string) string {
	const max = 32
	if utf8.RuneCountInString(w) <= max {
		return w
	}
	return string([]rune(w)[:max]) + "…"
}

// nfkd returns b in Unicode NFKD. ASCII is already normalized and is
// returned as is; otherwise the result is a new slice (owned is true) that
// the caller should wipe.
func nfkd(b []byte) (out []byte, owned bool) {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			// Append to nil always copies, unlike norm.NFKD.Bytes, which
			// returns its argument when it is already normalized: wiping
			// that would wipe the caller's passphrase.
			return norm.NFKD.Append(nil, b...), true
		}
	}
	return b, false
}

// wipe zeroes a secret once it is no longer needed (see the package
// documentation for what this cannot reach).
func wipe(b []byte) {
	clear(b)
}
