package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg"

	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
	"github.com/cryptoassets/cryptoassets/shared/keystore"
)

const hotPass = "hot keystore passphrase"

// hotConfig writes a config whose regtest asset keeps its hot seed at
// keystore, unlocked by a 0600 passphrase file, with descriptor.
func hotConfig(t *testing.T, keystorePath, descriptor string) (conf, passFile string) {
	t.Helper()
	dir := t.TempDir()
	passFile = filepath.Join(dir, "hot.pass")
	if err := os.WriteFile(passFile, []byte(hotPass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf("[database]\nurl = %q\n[http]\nlisten = \"127.0.0.1:0\"\n[assets.btc]\nnetwork = \"regtest\"\nrpc_url = \"http://127.0.0.1:1\"\nrpc_user = \"u\"\nrpc_password = \"p\"\nhot_keystore = %q\nhot_passphrase_file = %q\n",
		testenv.NewDatabase(t), keystorePath, passFile)
	if descriptor != "" {
		body += fmt.Sprintf("hot_wallet_descriptor = %q\n", descriptor)
	}
	conf = filepath.Join(dir, "c.toml")
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return conf, passFile
}

// passPipe returns a descriptor from which the passphrase can be read.
func passPipe(t *testing.T, pass string) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	if _, err := w.WriteString(pass + "\n"); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return strconv.Itoa(int(r.Fd()))
}

// typist answers the CLI's questions from what it has printed so far.
type typist struct {
	mu      sync.Mutex
	out     bytes.Buffer
	respond func(out string) string
}

func (ty *typist) Write(p []byte) (int, error) {
	ty.mu.Lock()
	defer ty.mu.Unlock()
	return ty.out.Write(p)
}

func (ty *typist) Read(p []byte) (int, error) {
	ty.mu.Lock()
	out := ty.out.String()
	ty.mu.Unlock()
	return copy(p, ty.respond(out)+"\n"), nil
}

func runTyped(t *testing.T, conf string, respond func(string) string, args ...string) (string, error) {
	t.Helper()
	app := testApp()
	ty := &typist{respond: respond}
	app.Reader, app.Writer, app.ErrWriter = ty, ty, ty
	err := app.RunContext(context.Background(), append([]string{"cryptoassets", "--config", conf}, args...))
	return ty.out.String(), err
}

var (
	hotWordPrompt = regexp.MustCompile(`Type word #(\d+): $`)
	shownWord     = regexp.MustCompile(`(?m)\s*(\d+)\. (\w+)`)
	printedDesc   = regexp.MustCompile(`hot_wallet_descriptor = "([^"]+)"`)
)

// The two words asked back, from the mnemonic shown.
func rightWords(out string) string {
	m := hotWordPrompt.FindStringSubmatch(out)
	if m == nil {
		return ""
	}
	k, _ := strconv.Atoi(m[1])
	return shownWord.FindAllStringSubmatch(out, -1)[k-1][2]
}

func TestHotkeyInitRestoreXpubThroughTheCLI(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	ksDir := t.TempDir()
	ks := filepath.Join(ksDir, "hot.keystore")
	conf, _ := hotConfig(t, ks, "")

	out, err := runTyped(t, conf, rightWords, "hotkey", "init", "--words", "12", "--passphrase-fd", passPipe(t, hotPass))
	if err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	m := printedDesc.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("init printed no descriptor:\n%s", out)
	}
	initDesc := m[1]
	if n := strings.Count(out, "Write these words down"); n != 1 {
		t.Fatalf("the mnemonic was shown %d times", n)
	}
	raw, err := os.ReadFile(ks)
	if err != nil {
		t.Fatal(err)
	}
	// A word in clear, told from chance: a short word (BIP39 has them of
	// three letters) turns up in ciphertext's encoding now and then, so
	// words of five letters or more are looked for alone, and every word
	// beside its neighbour as the phrase would hold them. Only the file's
	// values are searched: its field names hold BIP39 words ("fingerprint"
	// holds "finger", "network" is one).
	raw = keystoreValues(t, raw)
	var shown []string
	for _, w := range shownWord.FindAllStringSubmatch(out, -1) {
		shown = append(shown, w[2])
	}
	if len(shown) != 12 {
		t.Fatalf("init showed %d words, want 12:\n%s", len(shown), out)
	}
	for i, w := range shown {
		if len(w) >= 5 && bytes.Contains(raw, []byte(w)) {
			t.Fatalf("the keystore holds the word %q in clear", w)
		}
		if i > 0 && bytes.Contains(raw, []byte(shown[i-1]+" "+w)) {
			t.Fatalf("the keystore holds the words %q in clear", shown[i-1]+" "+w)
		}
	}
	if st, _ := os.Stat(ks); st.Mode().Perm() != 0o600 {
		t.Fatalf("keystore mode %v", st.Mode())
	}

	// xpub from the passphrase file, and from a descriptor: the same key.
	out, err = run(t, conf, "hotkey", "xpub")
	if err != nil || strings.TrimSpace(out) != initDesc {
		t.Fatalf("xpub from the passphrase file: %v\n%s\nwant %s", err, out, initDesc)
	}
	out, err = run(t, conf, "hotkey", "xpub", "--passphrase-fd", passPipe(t, hotPass), "--type", "p2tr")
	if err != nil || !strings.HasPrefix(strings.TrimSpace(out), "tr([") {
		t.Fatalf("xpub p2tr from a descriptor: %v\n%s", err, out)
	}
	if out, err := run(t, conf, "hotkey", "xpub", "--passphrase-fd", passPipe(t, "not it at all")); !errors.Is(err, keystore.ErrWrongPassphrase) {
		t.Fatalf("xpub with a wrong passphrase: %v\n%s", err, out)
	}

	// Never overwritten; a wrong word stores nothing.
	if _, err := runTyped(t, conf, rightWords, "hotkey", "init", "--passphrase-fd", passPipe(t, hotPass)); err == nil || !strings.Contains(err.Error(), "never overwritten") {
		t.Fatalf("second init: %v", err)
	}
	ks2 := filepath.Join(ksDir, "second.keystore")
	conf2, _ := hotConfig(t, ks2, "")
	_, err = runTyped(t, conf2, func(out string) string { return "zzz" }, "hotkey", "init", "--passphrase-fd", passPipe(t, hotPass))
	if err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("wrong word: %v", err)
	}
	if _, err := os.Stat(ks2); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a keystore was written after a failed check")
	}

	// restore: the mnemonic from standard input gives its own account key.
	const abandon = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
	out, err = runTyped(t, conf2, func(string) string { return abandon }, "hotkey", "restore", "--passphrase-fd", passPipe(t, hotPass))
	if err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	seed, _ := keystore.SeedFromMnemonic(abandon, nil)
	master, _ := hdkeys.NewMaster(seed, &chaincfg.RegressionNetParams)
	want, _ := master.Account(hdkeys.P2WPKH, 0)
	if m := printedDesc.FindStringSubmatch(out); m == nil || m[1] != want.Descriptor() {
		t.Fatalf("restore printed %v, want %s\n%s", m, want.Descriptor(), out)
	}
	if out, err := run(t, conf2, "hotkey", "xpub"); err != nil || strings.TrimSpace(out) != want.Descriptor() {
		t.Fatalf("xpub after restore: %v\n%s", err, out)
	}
	if out, err := runTyped(t, conf, func(string) string { return "abandon abandon" }, "hotkey", "restore"); err == nil {
		t.Fatalf("a bad mnemonic was accepted\n%s", out)
	}
}

// serve unlocks a hot keystore whose account key is the configured
// descriptor, and refuses, naming both keys, one that is not.
func TestServeRefusesAHotKeystoreOfAnotherDescriptor(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	ks := filepath.Join(t.TempDir(), "hot.keystore")
	seed := bytes.Repeat([]byte{7}, 64)
	if err := keystore.Create(ks, seed, keystore.Meta{Network: keystore.Regtest}, []byte(hotPass)); err != nil {
		t.Fatal(err)
	}
	m, _ := hdkeys.NewMaster(seed, &chaincfg.RegressionNetParams)
	ours, _ := m.Account(hdkeys.P2WPKH, 0)
	other, _ := hdkeys.NewMaster(bytes.Repeat([]byte{8}, 64), &chaincfg.RegressionNetParams)
	theirs, _ := other.Account(hdkeys.P2WPKH, 0)

	conf, _ := hotConfig(t, ks, theirs.Descriptor())
	if out, err := run(t, conf, "migrate"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	out, err := run(t, conf, "serve")
	if err == nil || !strings.Contains(err.Error(), theirs.Descriptor()) || !strings.Contains(err.Error(), ours.Descriptor()) {
		t.Fatalf("serve with another seed's descriptor: %v\n%s", err, out)
	}
	t.Logf("refused: %v", err)

	// The matching descriptor starts, with the passphrase from a descriptor.
	conf, _ = hotConfig(t, ks, ours.Descriptor())
	body, _ := os.ReadFile(conf)
	noFile := regexp.MustCompile(`(?m)^hot_passphrase_file = .*\n`).ReplaceAll(body, nil)
	if err := os.WriteFile(conf, noFile, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, conf, "migrate"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	app := testApp()
	ty := &typist{respond: func(string) string { return "" }}
	app.Writer, app.ErrWriter = ty, ty
	done := make(chan error, 1)
	go func() {
		done <- app.RunContext(ctx, []string{"cryptoassets", "--config", conf, "serve", "--hot-passphrase-fd", passPipe(t, hotPass)})
	}()
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		ty.mu.Lock()
		log := ty.out.String()
		ty.mu.Unlock()
		if strings.Contains(log, "API listening") {
			if !strings.Contains(log, "hot keystore unlocked") {
				t.Fatalf("serve started without unlocking the hot keystore:\n%s", log)
			}
			break
		}
		select {
		case err := <-done:
			t.Fatalf("serve stopped: %v\n%s", err, log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s", log)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
}

// keystoreValues is every string value of a keystore file, field names left
// out, one per line.
func keystoreValues(t *testing.T, raw []byte) []byte {
	t.Helper()
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("the keystore is not JSON: %v", err)
	}
	var out []byte
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			out = append(append(out, v...), '\n')
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(doc)
	if len(out) == 0 {
		t.Fatal("the keystore holds no string values")
	}
	return out
}
