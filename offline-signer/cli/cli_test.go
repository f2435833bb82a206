package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/chaincfg"

	"github.com/cryptoassets/cryptoassets/internal/psbttest"
	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
	"github.com/cryptoassets/cryptoassets/shared/keystore"
	"github.com/cryptoassets/cryptoassets/shared/psbt"
)

const abandon = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"

// passFD returns a descriptor from which the passphrase(s) can be read.
func passFD(t *testing.T, lines ...string) int {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	w.Close()
	return int(r.Fd())
}

// answerer is the person at the keyboard: it watches the output and types.
type answerer struct {
	mu      sync.Mutex
	out     bytes.Buffer
	in      *io.PipeWriter
	respond func(out string) (string, bool)
}

func (a *answerer) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.out.Write(p)
	if a.respond != nil {
		if answer, ok := a.respond(a.out.String()); ok {
			go fmt.Fprintln(a.in, answer)
		}
	}
	return len(p), nil
}

func (a *answerer) String() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.out.String()
}

func run(t *testing.T, respond func(string) (string, bool), args ...string) (string, error) {
	t.Helper()
	app := App()
	r, w := io.Pipe()
	a := &answerer{in: w, respond: respond}
	app.Reader, app.Writer, app.ErrWriter = r, a, a
	err := app.Run(append([]string{"cryptoassets-signer"}, args...))
	w.Close()
	return a.String(), err
}

var wordPrompt = regexp.MustCompile(`Type word #(\d+): $`)

func TestInitShowsMnemonicOnceAndChecksIt(t *testing.T) {
	dir := t.TempDir()
	var asked int
	respond := func(out string) (string, bool) {
		m := wordPrompt.FindStringSubmatch(out)
		if m == nil {
			return "", false
		}
		k, _ := strconv.Atoi(m[1])
		words := regexp.MustCompile(`(?m)\s*(\d+)\. (\w+)`).FindAllStringSubmatch(out, -1)
		asked++
		return words[k-1][2], true
	}
	out, err := run(t, respond, "--dir", dir, "--passphrase-fd", strconv.Itoa(passFD(t, "correct horse battery")), "init", "--network", "regtest", "--words", "12")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if asked != 2 || !strings.Contains(out, "keystore") {
		t.Fatalf("asked %d words:\n%s", asked, out)
	}
	st, err := os.Stat(filepath.Join(dir, "keystore.json"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("keystore mode %v %v", st.Mode(), err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "keystore.json"))
	for _, w := range regexp.MustCompile(`(?m)\s*\d+\. (\w+)`).FindAllStringSubmatch(out, -1) {
		if bytes.Contains(raw, []byte(w[1]+" ")) {
			t.Fatal("the mnemonic is stored in clear")
		}
	}
	// A second init never overwrites.
	if _, err := run(t, nil, "--dir", dir, "init", "--network", "regtest"); err == nil || !strings.Contains(err.Error(), "never overwritten") {
		t.Fatalf("second init: %v", err)
	}
	// A wrong word stores nothing.
	dir2 := t.TempDir()
	_, err = run(t, func(out string) (string, bool) {
		return "zzz", wordPrompt.MatchString(out)
	}, "--dir", dir2, "--passphrase-fd", strconv.Itoa(passFD(t, "correct horse battery")), "init", "--network", "regtest")
	if err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("wrong word: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir2, "keystore.json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a keystore was written after a failed check")
	}
}

func restore(t *testing.T, dir, hotDescriptor string) {
	t.Helper()
	out, err := run(t, func(out string) (string, bool) { return abandon, strings.HasSuffix(out, "spaces): ") },
		"--dir", dir, "--passphrase-fd", strconv.Itoa(passFD(t, "correct horse battery")), "restore", "--network", "regtest",
		"--hot-wallet-descriptor", hotDescriptor)
	if err != nil || !strings.Contains(out, "fingerprint 73c5da0a") {
		t.Fatalf("restore: %v\n%s", err, out)
	}
}

func regtestMaster(seed []byte) (*hdkeys.Master, error) {
	return hdkeys.NewMaster(seed, &chaincfg.RegressionNetParams)
}

func TestRestoreXpubInspectSign(t *testing.T) {
	dir := t.TempDir()
	hot := psbttest.NewWallet(t, psbttest.Seed(7), regtestMaster)
	restore(t, dir, hot.WPKH.Descriptor())
	pass := func() string { return strconv.Itoa(passFD(t, "correct horse battery")) }

	out, err := run(t, nil, "--dir", dir, "--passphrase-fd", pass(), "xpub")
	if err != nil || !strings.HasPrefix(out, "wpkh([73c5da0a/84h/1h/0h]tpub") {
		t.Fatalf("xpub: %v %q", err, out)
	}
	if _, err := run(t, nil, "--dir", dir, "--passphrase-fd", strconv.Itoa(passFD(t, "wrong passphrase")), "xpub"); !errors.Is(err, keystore.ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}

	seed, _ := keystore.SeedFromMnemonic(abandon, nil)
	cold := psbttest.NewWallet(t, seed, regtestMaster)
	in1, in2 := psbttest.Derive(t, cold.WPKH, 0, 0), psbttest.Derive(t, cold.TR, 0, 1)
	prev := psbttest.FakeFunding(map[*hdkeys.Derived]int64{in1: 700_000, in2: 300_000}, []*hdkeys.Derived{in1, in2})
	p := psbttest.TopUp(t, prev, map[int]*hdkeys.Derived{0: in1, 1: in2}, psbttest.Derive(t, hot.WPKH, 0, 3), psbttest.Derive(t, cold.WPKH, 1, 0), 600_000, 1_000)
	b64, _ := psbt.EncodeBase64(p)
	unsigned := filepath.Join(dir, "topup.psbt.txt")
	if err := os.WriteFile(unsigned, []byte(b64), 0o644); err != nil {
		t.Fatal(err)
	}

	out, err = run(t, nil, "--dir", dir, "inspect", "--network", "regtest", unsigned)
	if err != nil || !strings.Contains(out, "0.00001000 BTC") {
		t.Fatalf("inspect: %v\n%s", err, out)
	}

	// Declining the confirmation signs nothing.
	out, err = run(t, func(o string) (string, bool) { return "no", strings.HasSuffix(o, "transaction: ") },
		"--dir", dir, "--passphrase-fd", pass(), "sign", "--out", filepath.Join(dir, "never.psbt"), unsigned)
	if err == nil || !strings.Contains(err.Error(), "did not confirm") {
		t.Fatalf("declined: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "never.psbt")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a declined signing wrote output")
	}

	// Confirmed: signed to a file and to QR frames.
	frames := filepath.Join(dir, "frames")
	out, err = run(t, func(o string) (string, bool) { return "sign", strings.HasSuffix(o, "transaction: ") },
		"--dir", dir, "--passphrase-fd", pass(), "sign", "--out", filepath.Join(dir, "signed.psbt"), "--qr-dir", frames, unsigned)
	if err != nil || !strings.Contains(out, "complete and checked") || !strings.Contains(out, "output #1: our change") {
		t.Fatalf("sign: %v\n%s", err, out)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "signed.psbt"))
	signed, err := psbt.Decode(raw, psbt.DefaultMaxSize)
	if err != nil || !signed.IsComplete() {
		t.Fatalf("signed file: %v", err)
	}
	if _, err := btcpsbt.Extract(signed); err != nil {
		t.Fatal(err)
	}
	// The QR frames carry the same signed PSBT.
	pngs, _ := filepath.Glob(filepath.Join(frames, "*.png"))
	if len(pngs) == 0 {
		t.Fatal("no frames written")
	}
	args := []string{"--dir", dir, "inspect", "--network", "regtest"}
	for _, p := range pngs {
		args = append(args, "--qr", p)
	}
	out, err = run(t, nil, args...)
	if err != nil || !strings.Contains(out, "finalized: a final script is already present") {
		t.Fatalf("inspect frames: %v\n%s", err, out)
	}
	// Signing the signed PSBT again is refused.
	if _, err := run(t, nil, "--dir", dir, "--passphrase-fd", pass(), "sign", "--yes", "--out", filepath.Join(dir, "again.psbt"), filepath.Join(dir, "signed.psbt")); err == nil || !strings.Contains(err.Error(), "already fully signed") {
		t.Fatalf("re-sign: %v", err)
	}
}

// Every refusal at the command line, each with its reason, and no output
// written for any of them.
func TestSignRefusalsAtTheCommandLine(t *testing.T) {
	dir := t.TempDir()
	hot := psbttest.NewWallet(t, psbttest.Seed(7), regtestMaster)
	stranger := psbttest.NewWallet(t, psbttest.Seed(9), regtestMaster)
	restore(t, dir, hot.WPKH.Descriptor())
	seed, _ := keystore.SeedFromMnemonic(abandon, nil)
	cold := psbttest.NewWallet(t, seed, regtestMaster)
	in1 := psbttest.Derive(t, cold.WPKH, 0, 0)
	prev := psbttest.FakeFunding(map[*hdkeys.Derived]int64{in1: 700_000}, []*hdkeys.Derived{in1})
	build := func(to *hdkeys.Derived, fee int64) *btcpsbt.Packet {
		return psbttest.TopUp(t, prev, map[int]*hdkeys.Derived{0: in1}, to, psbttest.Derive(t, cold.WPKH, 1, 0), 500_000, fee)
	}
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	encode := func(p *btcpsbt.Packet) []byte { b, _ := psbt.EncodeBinary(p); return b }

	good := build(psbttest.Derive(t, hot.WPKH, 0, 1), 1_000)
	lying := build(psbttest.Derive(t, hot.WPKH, 0, 1), 1_000)
	lying.Inputs[0].WitnessUtxo.Value = 600_000
	foreign := build(psbttest.Derive(t, stranger.WPKH, 0, 0), 1_000)
	greedy := build(psbttest.Derive(t, hot.WPKH, 0, 1), 150_000)
	none := build(psbttest.Derive(t, hot.WPKH, 0, 1), 1_000)
	none.Inputs[0].SighashType = 2
	v2 := encode(good)
	v2 = append(append(append([]byte{}, v2[:5]...), 0x01, 0xfb, 0x04, 0x02, 0x00, 0x00, 0x00), v2[5:]...)

	tests := []struct {
		name, file, pass, want string
	}{
		{"fee attack", write("lying.psbt", encode(lying)), "correct horse battery", "CVE-2020-14199"},
		{"foreign destination", write("foreign.psbt", encode(foreign)), "correct horse battery", "destination"},
		{"fee over cap", write("greedy.psbt", encode(greedy)), "correct horse battery", "max_fee"},
		{"SIGHASH_NONE", write("none.psbt", encode(none)), "correct horse battery", "SIGHASH_NONE"},
		{"PSBT version 2", write("v2.psbt", v2), "correct horse battery", "version 2"},
		{"not a PSBT", write("junk.psbt", []byte("hello")), "correct horse battery", "not a PSBT"},
		{"wrong passphrase", write("good.psbt", encode(good)), "not the passphrase", "wrong passphrase"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, "out-"+strings.ReplaceAll(tc.name, " ", "-")+".psbt")
			_, err := run(t, nil, "--dir", dir, "--passphrase-fd", strconv.Itoa(passFD(t, tc.pass)), "sign", "--yes", "--out", out, tc.file)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error mentioning %q, got %v", tc.want, err)
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Fatal("a refused signing wrote output")
			}
		})
	}
}
