package cli

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/internal/psbttest"
	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
	"github.com/cryptoassets/cryptoassets/shared/keystore"
	"github.com/cryptoassets/cryptoassets/shared/psbt"
	"github.com/cryptoassets/cryptoassets/shared/psbt/bbqr"
	"github.com/cryptoassets/cryptoassets/shared/psbt/qrimage"
)

var (
	signerBinOnce sync.Once
	signerBinPath string
	signerBinErr  error
)

// TestMain removes the signer binary the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if signerBinPath != "" {
		os.RemoveAll(filepath.Dir(signerBinPath))
	}
	os.Exit(code)
}

// signerBinary builds the real cryptoassets-signer once per test run.
func signerBinary(t *testing.T) string {
	t.Helper()
	signerBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "signer-bin-")
		if err != nil {
			signerBinErr = err
			return
		}
		signerBinPath = filepath.Join(dir, "cryptoassets-signer")
		out, err := exec.Command("go", "build", "-o", signerBinPath, "../../cmd/cryptoassets-signer").CombinedOutput()
		if err != nil {
			signerBinErr = errors.New(string(out))
		}
	})
	if signerBinErr != nil {
		t.Fatalf("building cryptoassets-signer: %v", signerBinErr)
	}
	return signerBinPath
}

// guard only keeps a hung process from blocking the whole run; it is not a
// performance assertion (BenchmarkParseWorstCase measures that).
const guard = 2 * time.Minute

// runBinary runs the signer binary with the passphrase on descriptor 3.
func runBinary(t *testing.T, pass string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	cmd := exec.CommandContext(ctx, signerBinary(t), args...)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	w.WriteString(pass + "\n")
	w.Close()
	defer r.Close()
	cmd.ExtraFiles = []*os.File{r}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("cryptoassets-signer %s did not finish within %v (killed)", args, guard)
	}
	return out.String(), err
}

// attackSetup is a signer directory with the test seed and a hot wallet.
type attackSetup struct {
	dir            string
	cold, hot, str *psbttest.Wallet
}

func newAttackSetup(t *testing.T) *attackSetup {
	dir := t.TempDir()
	hot := psbttest.NewWallet(t, psbttest.Seed(7), regtestMaster)
	restore(t, dir, hot.WPKH.Descriptor())
	seed, _ := keystore.SeedFromMnemonic(abandon, nil)
	return &attackSetup{dir: dir, cold: psbttest.NewWallet(t, seed, regtestMaster), hot: hot,
		str: psbttest.NewWallet(t, psbttest.Seed(9), regtestMaster)}
}

func (s *attackSetup) derivePath(t *testing.T, path string) *hdkeys.Derived {
	t.Helper()
	p, err := hdkeys.ParsePath(path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.cold.Master.DerivePath(p)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// withHotOrigin states a BIP32 derivation for output i, as a PSBT builder
// might for a hot-wallet output.
func withHotOrigin(p *btcpsbt.Packet, i int, d *hdkeys.Derived, fingerprint uint32, path []uint32) {
	p.Outputs[i].Bip32Derivation = []*btcpsbt.Bip32Derivation{{
		PubKey: d.PubKey.SerializeCompressed(), MasterKeyFingerprint: fingerprint, Bip32Path: path}}
}

// manyUnknownKeys is the parser blow-up: one input map holding n distinct
// unknown keys (btcutil/psbt compares each new key with every earlier one).
func manyUnknownKeys(t testing.TB, base []byte, n int) []byte {
	// The first input map starts right after the global map, whose only
	// field is the unsigned transaction; insert the keys at its start.
	c := cursorAfterGlobal(t, base)
	var b bytes.Buffer
	b.Write(base[:c])
	for i := 0; i < n; i++ {
		var k [4]byte
		binary.BigEndian.PutUint32(k[:], uint32(i))
		k[0] = 0xf0 // an unknown key type
		b.WriteByte(4)
		b.Write(k[:])
		b.WriteByte(0) // empty value
	}
	b.Write(base[c:])
	return b.Bytes()
}

// cursorAfterGlobal returns the offset of the first input map.
func cursorAfterGlobal(t testing.TB, raw []byte) int {
	off := 5
	for {
		kl, n := readCompact(raw[off:])
		off += n
		if kl == 0 {
			return off
		}
		off += int(kl)
		vl, n := readCompact(raw[off:])
		off += n + int(vl)
		if off > len(raw) {
			t.Fatal("bad base PSBT")
		}
	}
}

func readCompact(b []byte) (uint64, int) {
	switch b[0] {
	case 0xfd:
		return uint64(binary.LittleEndian.Uint16(b[1:])), 3
	case 0xfe:
		return uint64(binary.LittleEndian.Uint32(b[1:])), 5
	case 0xff:
		return binary.LittleEndian.Uint64(b[1:]), 9
	}
	return uint64(b[0]), 1
}

// Every lie of issue "signer hardening" against the real binary, with
// inspect (no keys) and sign (keys and policy): what each must say, and
// what it must never say.
func TestSignerBinaryRefusesCraftedPSBTs(t *testing.T) {
	s := newAttackSetup(t)
	in1, in2 := psbttest.Derive(t, s.cold.WPKH, 0, 0), psbttest.Derive(t, s.cold.TR, 0, 1)
	prev := psbttest.FakeFunding(map[*hdkeys.Derived]int64{in1: 700_000, in2: 300_000}, []*hdkeys.Derived{in1, in2})
	hotOut := psbttest.Derive(t, s.hot.WPKH, 1, 3)
	build := func(hot, change *hdkeys.Derived) *btcpsbt.Packet {
		return psbttest.TopUp(t, prev, map[int]*hdkeys.Derived{0: in1}, hot, change, 500_000, 1_000)
	}
	withChange := func(path string) *btcpsbt.Packet { return build(hotOut, s.derivePath(t, path)) }
	encode := func(p *btcpsbt.Packet) []byte {
		var b bytes.Buffer
		if err := p.Serialize(&b); err != nil { // not EncodeBinary: some cases are what it refuses
			t.Fatal(err)
		}
		return b.Bytes()
	}

	hugeHot := psbttest.Derive(t, s.hot.WPKH, 0, 2147483646)
	hotHuge := build(hugeHot, psbttest.Derive(t, s.cold.WPKH, 1, 0))
	withHotOrigin(hotHuge, 0, hugeHot, s.hot.Master.Fingerprint(), hugeHot.Origin.Path)

	farHot := psbttest.Derive(t, s.hot.WPKH, 1, 5000)
	hotMadeUp := build(farHot, psbttest.Derive(t, s.cold.WPKH, 1, 0))
	withHotOrigin(hotMadeUp, 0, farHot, 0x01020304, []uint32{7, 1, 5000})

	stated := build(hotOut, psbttest.Derive(t, s.cold.WPKH, 1, 0))
	withHotOrigin(stated, 0, hotOut, s.hot.Master.Fingerprint(), hotOut.Origin.Path)

	dup := psbttest.TopUpFrom(t, []psbttest.Coin{{Prev: prev, Vout: 0, Key: in1}, {Prev: prev, Vout: 0, Key: in1}},
		hotOut, psbttest.Derive(t, s.cold.WPKH, 1, 0), 1_000_000, 1_000)

	timelocked := build(hotOut, psbttest.Derive(t, s.cold.WPKH, 1, 0))
	timelocked.UnsignedTx.TxIn[0].Sequence = 144 // relative: 144 blocks
	timelocked.UnsignedTx.LockTime = 800

	partial := build(hotOut, psbttest.Derive(t, s.cold.WPKH, 1, 0))
	other := psbttest.Derive(t, s.str.WPKH, 0, 0)
	otherKey, err := s.str.Master.PrivKey(other.Origin.Path)
	if err != nil {
		t.Fatal(err)
	}
	partial.Inputs[0].PartialSigs = []*btcpsbt.PartialSig{{PubKey: other.PubKey.SerializeCompressed(),
		Signature: append(ecdsa.Sign(otherKey, bytes.Repeat([]byte{1}, 32)).Serialize(), 0x01)}}

	// Many unknown fields spread over maps, each within MaxFieldsPerMap but
	// over MaxFields in all: extra outputs to the hot wallet carry them.
	spread := build(hotOut, psbttest.Derive(t, s.cold.WPKH, 1, 0))
	for m := 0; m < 60; m++ {
		spread.UnsignedTx.AddTxOut(wire.NewTxOut(1_000, hotOut.PkScript))
		var out btcpsbt.POutput
		for k := 0; k < 400; k++ {
			out.Unknowns = append(out.Unknowns, &btcpsbt.Unknown{Key: []byte{0xf0, byte(k >> 8), byte(k)}})
		}
		spread.Outputs = append(spread.Outputs, out)
	}

	// An unsigned transaction over the 400,000 WU nodes relay.
	heavy := build(hotOut, psbttest.Derive(t, s.cold.WPKH, 1, 0))
	for m := 0; m < 3_500; m++ {
		heavy.UnsignedTx.AddTxOut(wire.NewTxOut(1_000, hotOut.PkScript))
		heavy.Outputs = append(heavy.Outputs, btcpsbt.POutput{})
	}

	// One of our two inputs already carries our own signature.
	partly := psbttest.TopUp(t, prev, map[int]*hdkeys.Derived{0: in1, 1: in2}, hotOut, psbttest.Derive(t, s.cold.WPKH, 1, 0), 900_000, 1_000)
	in1Key, err := s.cold.Master.PrivKey(in1.Origin.Path)
	if err != nil {
		t.Fatal(err)
	}
	partly.Inputs[0].PartialSigs = []*btcpsbt.PartialSig{{PubKey: in1.PubKey.SerializeCompressed(),
		Signature: append(ecdsa.Sign(in1Key, bytes.Repeat([]byte{2}, 32)).Serialize(), 0x01)}}

	tapOnly := psbttest.TopUp(t, prev, map[int]*hdkeys.Derived{1: in2}, hotOut, psbttest.Derive(t, s.cold.TR, 1, 0), 200_000, 1_000)
	tapOnly.Inputs[0].NonWitnessUtxo = nil

	base := encode(build(hotOut, psbttest.Derive(t, s.cold.WPKH, 1, 0)))

	tests := []struct {
		name string
		raw  []byte
		// inspect: substrings its output (or error) must hold and must not.
		inspectWant, inspectNot []string
		// sign: a refusal to hold, or (signWant) substrings of a success.
		signRefusal       string
		signWant, signNot []string
	}{
		{name: "1 change on the change branch at index 2^31-2",
			raw:         encode(withChange("m/84'/1'/0'/1/2147483646")),
			inspectNot:  []string{"CHANGE"},
			signRefusal: "change_lookahead"},
		{name: "1 change on the receive branch",
			raw:         encode(withChange("m/84'/1'/0'/0/2147483646")),
			inspectNot:  []string{"CHANGE"},
			signRefusal: "receive branch"},
		{name: "1 change in another account (2^31-1')",
			raw:         encode(withChange("m/84'/1'/2147483647'/1/0")),
			inspectNot:  []string{"CHANGE"},
			signRefusal: "account"},
		{name: "1 change of another script type (BIP86 for BIP84 inputs)",
			raw:         encode(withChange("m/86'/1'/0'/1/0")),
			signRefusal: "account"},
		{name: "2 hot destination at index 2^31-2 with a stated derivation",
			raw:         encode(hotHuge),
			inspectNot:  []string{"CHANGE"},
			signRefusal: "destination"},
		{name: "2 hot destination beyond the lookahead under a made-up path",
			raw:         encode(hotMadeUp),
			signRefusal: "destination"},
		{name: "2 hot destination with its derivation stated is not called change",
			raw:        encode(stated),
			inspectNot: []string{"CHANGE"},
			signWant:   []string{"output #0: hot wallet", "output #1: our change"},
			signNot:    []string{"#0 is our change"}},
		{name: "3 the same coin spent twice",
			raw:         encode(dup),
			inspectWant: []string{"twice"},
			signRefusal: "twice"},
		{name: "4 600,000 distinct unknown keys in one map",
			raw:         manyUnknownKeys(t, base, 600_000),
			inspectWant: []string{"fields"},
			signRefusal: "fields"},
		{name: "4 more fields in all than MaxFields, none over the per-map bound",
			raw:         encode(spread),
			inspectWant: []string{"fields"},
			signRefusal: "fields"},
		{name: "4 an unsigned transaction over the relay weight",
			raw:         encode(heavy),
			inspectWant: []string{"WU"},
			signRefusal: "WU"},
		{name: "5 one of our inputs already signed",
			raw:         encode(partly),
			signRefusal: "already carry a signature"},
		{name: "5 version, relative time lock and locktime are shown",
			raw:         encode(timelocked),
			inspectWant: []string{"Version    2", "sequence 144: relative time lock of 144 blocks", "Locktime   block 800"},
			signWant:    []string{"sequence 144: relative time lock of 144 blocks"}},
		{name: "5 another signer's partial signature",
			raw:         encode(partial),
			inspectWant: []string{"carries a partial signature"},
			inspectNot:  []string{"already signed"},
			signRefusal: "another signer's partial signature"},
		{name: "5 taproot input without its previous transaction",
			raw:         encode(tapOnly),
			inspectWant: []string{"not checked against its previous transaction"},
			signWant:    []string{"NOT VERIFIED against a previous transaction: input #0"},
			signNot:     []string{"complete and checked"}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(s.dir, "case"+string(rune('a'+i))+".psbt")
			if err := os.WriteFile(file, tc.raw, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := runBinary(t, "", "--dir", s.dir, "inspect", "--network", "regtest", file)
			for _, w := range tc.inspectWant {
				if !strings.Contains(out, w) {
					t.Errorf("inspect: want %q in:\n%s", w, out)
				}
			}
			for _, w := range tc.inspectNot {
				if strings.Contains(out, w) {
					t.Errorf("inspect: %q must not appear in:\n%s", w, out)
				}
			}
			if len(tc.inspectWant) == 0 && err != nil {
				t.Errorf("inspect failed: %v\n%s", err, out)
			}

			signed := filepath.Join(s.dir, "signed"+string(rune('a'+i))+".psbt")
			out, err = runBinary(t, "correct horse battery", "--dir", s.dir, "--passphrase-fd", "3", "sign", "--yes", "--out", signed, file)
			if tc.signRefusal != "" {
				if err == nil || !strings.Contains(out, tc.signRefusal) {
					t.Errorf("sign: want a refusal mentioning %q, got %v:\n%s", tc.signRefusal, err, out)
				}
				if _, serr := os.Stat(signed); !errors.Is(serr, os.ErrNotExist) {
					t.Error("a refused signing wrote output")
				}
				return
			}
			if err != nil {
				t.Fatalf("sign: %v\n%s", err, out)
			}
			for _, w := range tc.signWant {
				if !strings.Contains(out, w) {
					t.Errorf("sign: want %q in:\n%s", w, out)
				}
			}
			for _, w := range tc.signNot {
				if strings.Contains(out, w) {
					t.Errorf("sign: %q must not appear in:\n%s", w, out)
				}
			}
		})
	}
}

// The finalized network transaction comes out as hex (--tx-out) and as QR
// frames (--tx-qr-dir, BBQr type T), both the txid of the signed PSBT.
func TestSignTxOutDecodesToTheSameTxid(t *testing.T) {
	s := newAttackSetup(t)
	in1, in2 := psbttest.Derive(t, s.cold.WPKH, 0, 0), psbttest.Derive(t, s.cold.TR, 0, 1)
	prev := psbttest.FakeFunding(map[*hdkeys.Derived]int64{in1: 700_000, in2: 300_000}, []*hdkeys.Derived{in1, in2})
	p := psbttest.TopUp(t, prev, map[int]*hdkeys.Derived{0: in1, 1: in2}, psbttest.Derive(t, s.hot.WPKH, 1, 3),
		psbttest.Derive(t, s.cold.WPKH, 1, 0), 600_000, 1_000)
	raw, err := psbt.EncodeBinary(p)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(s.dir, "topup.psbt")
	if err := os.WriteFile(file, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"ur", "bbqr"} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			signed, txFile, qrDir := filepath.Join(dir, "signed.psbt"), filepath.Join(dir, "tx.hex"), filepath.Join(dir, "tx-frames")
			out, err := runBinary(t, "correct horse battery", "--dir", s.dir, "--passphrase-fd", "3", "sign", "--yes",
				"--out", signed, "--tx-out", txFile, "--tx-qr-dir", qrDir, "--format", format, file)
			if err != nil {
				t.Fatalf("sign: %v\n%s", err, out)
			}
			sraw, _ := os.ReadFile(signed)
			sp, err := psbt.Decode(sraw, psbt.DefaultMaxSize)
			if err != nil {
				t.Fatal(err)
			}
			want, err := btcpsbt.Extract(sp)
			if err != nil {
				t.Fatal(err)
			}
			hexText, _ := os.ReadFile(txFile)
			got := decodeTxHex(t, strings.TrimSpace(string(hexText)))
			if got.TxHash() != want.TxHash() || got.WitnessHash() != want.WitnessHash() {
				t.Fatalf("--tx-out: txid %s, the PSBT's %s", got.TxHash(), want.TxHash())
			}
			pngs, _ := filepath.Glob(filepath.Join(qrDir, "*.png"))
			if len(pngs) == 0 {
				t.Fatal("no transaction QR frames written")
			}
			var texts []string
			for _, png := range pngs {
				f, err := qrimage.DecodeFile(png)
				if err != nil {
					t.Fatal(err)
				}
				texts = append(texts, f...)
			}
			var txBytes []byte
			if format == "bbqr" {
				ft, data, err := bbqr.Join(texts)
				if err != nil || ft != bbqr.FileTransaction {
					t.Fatalf("bbqr: type %q, %v", ft, err)
				}
				txBytes = data
			} else {
				if len(texts) != 1 {
					t.Fatalf("want one QR of the transaction hex, got %d", len(texts))
				}
				txBytes, err = hex.DecodeString(texts[0])
				if err != nil {
					t.Fatal(err)
				}
			}
			var qtx wire.MsgTx
			if err := qtx.Deserialize(bytes.NewReader(txBytes)); err != nil {
				t.Fatal(err)
			}
			if qtx.TxHash() != want.TxHash() || qtx.WitnessHash() != want.WitnessHash() {
				t.Fatalf("QR: txid %s, the PSBT's %s", qtx.TxHash(), want.TxHash())
			}
		})
	}
}

func decodeTxHex(t *testing.T, s string) *wire.MsgTx {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("--tx-out is not hex: %v", err)
	}
	var tx wire.MsgTx
	if err := tx.Deserialize(bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	return &tx
}
