package keystore

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

const (
	formatVersion = 1
	cipherName    = "xchacha20-poly1305"
	// ciphertextLen is the sealed seed: plaintext plus Poly1305 tag.
	ciphertextLen = SeedLen + chacha20poly1305.Overhead
	// maxFileSize bounds what Open reads; a real keystore is about 500 bytes.
	maxFileSize = 16 << 10
)

// fileJSON is the on-disk form of format version 1 (see the package
// documentation). Numbers are uint64 so that out-of-range values reach the
// range check and get a clear message instead of a JSON type error.
type fileJSON struct {
	Version     int     `json:"version"`
	KDF         kdfJSON `json:"kdf"`
	Cipher      string  `json:"cipher"`
	Nonce       string  `json:"nonce"`
	Ciphertext  string  `json:"ciphertext"`
	Network     string  `json:"network"`
	Fingerprint string  `json:"fingerprint"`
	Created     string  `json:"created"`
}

type kdfJSON struct {
	Name        string `json:"name"`
	MemoryKiB   uint64 `json:"memory_kib"`
	Iterations  uint64 `json:"iterations"`
	Parallelism uint64 `json:"parallelism"`
	Salt        string `json:"salt"`
}

// header is everything in a keystore file but the sealed seed; all of it is
// authenticated.
type header struct {
	kdf  kdfParams
	salt []byte
	meta Meta
}

// sealedFile is a parsed, checked keystore file, ready to decrypt.
type sealedFile struct {
	header
	nonce      []byte
	ciphertext []byte
}

// associatedData is the AEAD's associated data: every header field, one
// "name=value" line each, after a fixed label. Values are the checked,
// canonical forms (none can hold a newline), so any change to the header
// changes these bytes and decryption fails.
func (h header) associatedData() []byte {
	var b strings.Builder
	b.WriteString("cryptoassets keystore\n")
	line := func(name, value string) {
		b.WriteString(name)
		b.WriteByte('=')
		b.WriteString(value)
		b.WriteByte('\n')
	}
	line("version", strconv.Itoa(formatVersion))
	line("kdf", kdfName)
	line("memory_kib", strconv.FormatUint(h.kdf.MemoryKiB, 10))
	line("iterations", strconv.FormatUint(h.kdf.Iterations, 10))
	line("parallelism", strconv.FormatUint(h.kdf.Parallelism, 10))
	line("salt", hex.EncodeToString(h.salt))
	line("cipher", cipherName)
	line("network", string(h.meta.Network))
	line("fingerprint", h.meta.Fingerprint)
	line("created", formatCreated(h.meta.Created))
	return []byte(b.String())
}

// encode returns the file's bytes.
func (f *sealedFile) encode() ([]byte, error) {
	out, err := json.MarshalIndent(fileJSON{
		Version: formatVersion,
		KDF: kdfJSON{
			Name:        kdfName,
			MemoryKiB:   f.kdf.MemoryKiB,
			Iterations:  f.kdf.Iterations,
			Parallelism: f.kdf.Parallelism,
			Salt:        hex.EncodeToString(f.salt),
		},
		Cipher:      cipherName,
		Nonce:       hex.EncodeToString(f.nonce),
		Ciphertext:  hex.EncodeToString(f.ciphertext),
		Network:     string(f.meta.Network),
		Fingerprint: f.meta.Fingerprint,
		Created:     formatCreated(f.meta.Created),
	}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding the keystore: %w", err)
	}
	return append(out, '\n'), nil
}

// decodeFile parses and checks a keystore file without any costly work: the
// KDF parameters are checked against limits before anything runs them.
func decodeFile(data []byte, limits kdfLimits) (*sealedFile, error) {
	// Read the version alone first, so a newer file is reported as a newer
	// version rather than as unknown fields.
	var probe struct {
		Version *int `json:"version"`
	}
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&probe); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformed, jsonProblem(err))
	}
	if probe.Version == nil {
		return nil, fmt.Errorf("%w: no \"version\" field", ErrMalformed)
	}
	if *probe.Version != formatVersion {
		return nil, fmt.Errorf("%w: version %d (this program reads version %d)", ErrUnsupported, *probe.Version, formatVersion)
	}

	var j fileJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformed, jsonProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrMalformed)
	}

	if j.KDF.Name != kdfName {
		return nil, fmt.Errorf("%w: key-derivation function %q (this program knows %q)", ErrUnsupported, j.KDF.Name, kdfName)
	}
	if j.Cipher != cipherName {
		return nil, fmt.Errorf("%w: cipher %q (this program knows %q)", ErrUnsupported, j.Cipher, cipherName)
	}
	f := &sealedFile{}
	f.kdf = kdfParams{MemoryKiB: j.KDF.MemoryKiB, Iterations: j.KDF.Iterations, Parallelism: j.KDF.Parallelism}
	if err := limits.check(f.kdf); err != nil {
		return nil, err
	}
	var err error
	if f.salt, err = decodeHexField("kdf.salt", j.KDF.Salt, saltLen); err != nil {
		return nil, err
	}
	if f.nonce, err = decodeHexField("nonce", j.Nonce, chacha20poly1305.NonceSizeX); err != nil {
		return nil, err
	}
	if f.ciphertext, err = decodeHexField("ciphertext", j.Ciphertext, ciphertextLen); err != nil {
		return nil, err
	}
	f.meta.Network = Network(j.Network)
	if err := f.meta.Network.check(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if err := checkFingerprint(j.Fingerprint); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	f.meta.Fingerprint = j.Fingerprint
	if f.meta.Created, err = parseCreated(j.Created); err != nil {
		return nil, err
	}
	return f, nil
}

// decodeHexField decodes a lowercase hex field of exactly want bytes.
func decodeHexField(name, s string, want int) ([]byte, error) {
	if len(s) != 2*want {
		return nil, fmt.Errorf("%w: %s has %d hex characters, want %d", ErrMalformed, name, len(s), 2*want)
	}
	if strings.ToLower(s) != s {
		return nil, fmt.Errorf("%w: %s is not lowercase hex", ErrMalformed, name)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not hex", ErrMalformed, name)
	}
	return b, nil
}

// formatCreated is the one form of the creation time in a file: RFC 3339,
// UTC, whole seconds.
func formatCreated(t time.Time) string {
	return t.UTC().Truncate(time.Second).Format(time.RFC3339)
}

func parseCreated(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil || formatCreated(t) != s {
		return time.Time{}, fmt.Errorf("%w: created %q is not an RFC 3339 UTC time like 2024-01-02T03:04:05Z",
			ErrMalformed, printable(s))
	}
	return t, nil
}

// jsonProblem describes a JSON error briefly; encoding/json's messages can
// quote long runs of input.
func jsonProblem(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax) && syntax.Error() == "unexpected end of JSON input",
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "the file ends early (truncated?)"
	case errors.As(err, &syntax):
		return fmt.Sprintf("not JSON: syntax error at byte %d", syntax.Offset)
	case errors.As(err, &typ) && typ.Field == "":
		return fmt.Sprintf("expected a JSON object, found %s", typ.Value)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q has the wrong type or is out of range (%s)", typ.Field, printable(typ.Value))
	default:
		return printable(strings.TrimPrefix(err.Error(), "json: "))
	}
}
