package psbt

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/btcutil"
	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
)

func key(n byte) *btcec.PrivateKey {
	k, _ := btcec.PrivKeyFromBytes(bytes.Repeat([]byte{n}, 32))
	return k
}

func p2wpkh(k *btcec.PrivateKey) []byte {
	a, _ := btcutil.NewAddressWitnessPubKeyHash(btcutil.Hash160(k.PubKey().SerializeCompressed()), &chaincfg.RegressionNetParams)
	s, _ := txscript.PayToAddrScript(a)
	return s
}

func p2tr(k *btcec.PrivateKey) []byte {
	a, _ := btcutil.NewAddressTaproot(schnorr.SerializePubKey(txscript.ComputeTaprootKeyNoScript(k.PubKey())), &chaincfg.RegressionNetParams)
	s, _ := txscript.PayToAddrScript(a)
	return s
}

// fixture builds a PSBT spending a p2wpkh output (100,000 sat) and a p2tr
// output (50,000 sat) of one previous transaction, paying 120,000 to an
// address and 29,000 change with a claimed origin: fee 1,000.
func fixture(t testing.TB, inputs int) (*btcpsbt.Packet, *wire.MsgTx) {
	t.Helper()
	prev := wire.NewMsgTx(2)
	prev.AddTxIn(wire.NewTxIn(&wire.OutPoint{Index: 0}, nil, nil))
	for i := 0; i < inputs; i++ {
		if i%2 == 0 {
			prev.AddTxOut(wire.NewTxOut(100_000, p2wpkh(key(1))))
		} else {
			prev.AddTxOut(wire.NewTxOut(50_000, p2tr(key(2))))
		}
	}
	var ops []*wire.OutPoint
	var seqs []uint32
	var total int64
	for i := 0; i < inputs; i++ {
		ops = append(ops, &wire.OutPoint{Hash: prev.TxHash(), Index: uint32(i)})
		seqs = append(seqs, wire.MaxTxInSequenceNum-2)
		total += prev.TxOut[i].Value
	}
	outs := []*wire.TxOut{wire.NewTxOut(120_000, p2wpkh(key(3))), wire.NewTxOut(total-120_000-1000, p2wpkh(key(4)))}
	p, err := btcpsbt.New(ops, outs, 2, 0, seqs)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := btcpsbt.NewUpdater(p)
	for i := 0; i < inputs; i++ {
		if err := u.AddInWitnessUtxo(prev.TxOut[i], i); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if err := u.AddInNonWitnessUtxo(prev, i); err != nil {
				t.Fatal(err)
			}
			if err := u.AddInBip32Derivation(0x0adac573, []uint32{0x80000054, 0x80000001, 0x80000000, 0, uint32(i)}, key(1).PubKey().SerializeCompressed(), i); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := u.AddOutBip32Derivation(0x0adac573, []uint32{0x80000054, 0x80000001, 0x80000000, 1, 0}, key(4).PubKey().SerializeCompressed(), 1); err != nil {
		t.Fatal(err)
	}
	return p, prev
}

func encode(t testing.TB, p *btcpsbt.Packet) []byte {
	t.Helper()
	b, err := EncodeBinary(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeForms(t *testing.T) {
	p, _ := fixture(t, 2)
	raw := encode(t, p)
	b64 := base64.StdEncoding.EncodeToString(raw)
	for name, in := range map[string][]byte{
		"binary":    raw,
		"base64":    []byte(b64),
		"base64 ws": []byte("\n  " + b64 + "\n"),
		"hex":       []byte(hex.EncodeToString(raw)),
		"hex upper": []byte(strings.ToUpper(hex.EncodeToString(raw))),
	} {
		got, err := Decode(in, DefaultMaxSize)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(encode(t, got), raw) {
			t.Fatalf("%s: does not round-trip", name)
		}
	}
	s, err := EncodeBase64(p)
	if err != nil || s != b64 {
		t.Fatalf("EncodeBase64: %v", err)
	}
}

// mapsOf splits a serialized PSBT into its maps, to craft bad ones.
func mapsOf(t *testing.T, raw []byte) [][]kv {
	t.Helper()
	r := &reader{b: raw, off: len(magic)}
	var out [][]kv
	for r.off < len(raw) {
		m, err := r.readMap("x")
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func join(maps [][]kv) []byte {
	var b bytes.Buffer
	b.Write(magic)
	for _, m := range maps {
		for _, e := range m {
			_ = wire.WriteVarBytes(&b, 0, e.key)
			_ = wire.WriteVarBytes(&b, 0, e.value)
		}
		b.WriteByte(0)
	}
	return b.Bytes()
}

func TestDecodeRefusals(t *testing.T) {
	p, _ := fixture(t, 2)
	raw := encode(t, p)
	maps := mapsOf(t, raw) // global, 2 inputs, 2 outputs
	with := func(f func(m [][]kv) [][]kv) []byte {
		cp := make([][]kv, len(maps))
		for i := range maps {
			cp[i] = append([]kv(nil), maps[i]...)
		}
		return join(f(cp))
	}
	version := func(v uint32) kv {
		b := make([]byte, 4)
		binary.LittleEndian.PutUint32(b, v)
		return kv{[]byte{globalVersion}, b}
	}
	signedTx := func() []byte {
		tx := p.UnsignedTx.Copy()
		tx.TxIn[0].SignatureScript = []byte{1, 2}
		var b bytes.Buffer
		_ = tx.SerializeNoWitness(&b)
		return b.Bytes()
	}
	tests := []struct {
		name string
		in   []byte
		want error
		msg  string
	}{
		{"version 2", with(func(m [][]kv) [][]kv { m[0] = append(m[0], version(2)); return m }), ErrVersion2, "version 2"},
		{"v2 field in global", with(func(m [][]kv) [][]kv { m[0] = append(m[0], kv{[]byte{0x04}, []byte{2}}); return m }), ErrVersion2, "INPUT_COUNT"},
		{"v2 field in input", with(func(m [][]kv) [][]kv { m[1] = append(m[1], kv{[]byte{0x0e}, make([]byte, 32)}); return m }), ErrVersion2, "PREVIOUS_TXID"},
		{"v2 field in output", with(func(m [][]kv) [][]kv { m[3] = append(m[3], kv{[]byte{0x03}, make([]byte, 8)}); return m }), ErrVersion2, "AMOUNT"},
		{"duplicate key", with(func(m [][]kv) [][]kv { m[1] = append(m[1], m[1][0]); return m }), ErrDuplicateKey, "input 0"},
		{"trailing bytes", append(append([]byte{}, raw...), 0x00, 0x01), ErrTrailingData, "2 bytes"},
		{"missing output map", with(func(m [][]kv) [][]kv { return m[:4] }), ErrMalformed, "output 1"},
		{"no unsigned tx", with(func(m [][]kv) [][]kv { m[0] = m[0][1:]; return m }), ErrMalformed, "no unsigned transaction"},
		{"signed unsigned tx", with(func(m [][]kv) [][]kv { m[0][0] = kv{m[0][0].key, signedTx()}; return m }), ErrMalformed, "carries a signature"},
		{"truncated", raw[:len(raw)-10], ErrMalformed, "past the end"},
		{"not a PSBT", []byte("hello"), ErrMalformed, "not a PSBT"},
		{"bad base64", []byte("cHNidP!!!!"), ErrMalformed, "base64"},
		{"oversized", append(append([]byte{}, raw...), make([]byte, 200)...), ErrTooLarge, "limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			limit := DefaultMaxSize
			if tc.name == "oversized" {
				limit = len(raw) + 10
			}
			_, err := Decode(tc.in, limit)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("want %v containing %q, got %v", tc.want, tc.msg, err)
			}
		})
	}
	// A version field of 0 is fine.
	if _, err := Decode(with(func(m [][]kv) [][]kv { m[0] = append(m[0], version(0)); return m }), DefaultMaxSize); err != nil {
		t.Fatalf("explicit version 0: %v", err)
	}
}

func TestSummary(t *testing.T) {
	p, _ := fixture(t, 2)
	s, err := Summarize(p, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	if s.Fee != 1000 || !s.FeeKnown || !s.FeeVerified || s.InputTotal != 150_000 {
		t.Fatalf("fee %d known %v verified %v total %d", s.Fee, s.FeeKnown, s.FeeVerified, s.InputTotal)
	}
	if s.Inputs[0].ScriptType != "p2wpkh" || s.Inputs[1].ScriptType != "p2tr" || !s.Inputs[1].Verified {
		t.Fatalf("inputs %+v", s.Inputs)
	}
	if s.Inputs[0].Origins[0].FingerprintHex() != "73c5da0a" || s.Inputs[0].Origins[0].PathString() != "m/84'/1'/0'/0/0" {
		t.Fatalf("origin %s %s", s.Inputs[0].Origins[0].FingerprintHex(), s.Inputs[0].Origins[0].PathString())
	}
	if !strings.HasPrefix(s.Outputs[0].Address, "bcrt1q") || s.Outputs[0].ClaimedChange || !s.Outputs[1].ClaimedChange {
		t.Fatalf("outputs %+v", s.Outputs)
	}
	// 10.5 + 68 + 57.5 + 2*31 = 198 vB, give or take rounding.
	if s.VSize < 195 || s.VSize > 201 {
		t.Fatalf("vsize %d", s.VSize)
	}
	if len(s.Warnings) != 0 {
		t.Fatalf("warnings %v", s.Warnings)
	}
	text := s.Text()
	for _, want := range []string{"0.00001000 BTC (1000 sat)", "73c5da0a", "claims to be ours", "sat/vB"} {
		if !strings.Contains(text, want) {
			t.Fatalf("summary text lacks %q:\n%s", want, text)
		}
	}
	main, err := Summarize(p, &chaincfg.MainNetParams)
	if err != nil || !strings.HasPrefix(main.Outputs[0].Address, "bc1q") {
		t.Fatalf("the same script on mainnet: %v %v", main.Outputs[0].Address, err)
	}
}

func TestSummaryRefusesLyingUTXOs(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(p *btcpsbt.Packet, prev *wire.MsgTx)
		want   string
	}{
		{"fee attack: witness utxo lies about the amount", func(p *btcpsbt.Packet, prev *wire.MsgTx) {
			p.Inputs[0].WitnessUtxo = wire.NewTxOut(10_000, prev.TxOut[0].PkScript)
		}, "CVE-2020-14199"},
		{"witness utxo names another script", func(p *btcpsbt.Packet, prev *wire.MsgTx) {
			p.Inputs[0].WitnessUtxo = wire.NewTxOut(100_000, p2wpkh(key(9)))
		}, "fee attack"},
		{"previous transaction is not the one spent", func(p *btcpsbt.Packet, prev *wire.MsgTx) {
			other := prev.Copy()
			other.LockTime = 7
			p.Inputs[0].NonWitnessUtxo = other
		}, "hashes to"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, prev := fixture(t, 2)
			tc.tamper(p, prev)
			// It must survive serialization, as it would on its way to the signer.
			again, err := Decode(encode(t, p), DefaultMaxSize)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Summarize(again, &chaincfg.RegressionNetParams)
			if !errors.Is(err, ErrUTXOMismatch) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want ErrUTXOMismatch containing %q, got %v", tc.want, err)
			}
		})
	}
}

func TestSummaryWarnsWhatItCannotCheck(t *testing.T) {
	p, _ := fixture(t, 2)
	p.Inputs[0].NonWitnessUtxo = nil
	s, err := Summarize(p, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	if s.FeeVerified || !s.FeeKnown || len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], "cannot be cross-checked") {
		t.Fatalf("verified %v warnings %v", s.FeeVerified, s.Warnings)
	}
	if !strings.Contains(s.Text(), "NOT VERIFIED") {
		t.Fatal("the text must show the unverified amount")
	}
	p.Inputs[0].WitnessUtxo = nil
	s, err = Summarize(p, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	if s.FeeKnown || !strings.Contains(s.Text(), "UNKNOWN") {
		t.Fatalf("fee known %v", s.FeeKnown)
	}
}

func seeds(f *testing.F) {
	for _, n := range []int{1, 2, 5} {
		p, _ := fixture(f, n)
		raw := encode(f, p)
		f.Add(raw)
		f.Add([]byte(base64.StdEncoding.EncodeToString(raw)))
		f.Add(raw[:len(raw)/2])
	}
	f.Add([]byte("psbt\xff\x00"))
	f.Add([]byte("70736274ff01"))
}

func FuzzDecode(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Decode(data, 1<<16)
		if err != nil {
			return
		}
		raw, err := EncodeBinary(p)
		if err != nil {
			return // btcutil/psbt refuses to write some packets it reads
		}
		again, err := Decode(raw, 1<<17)
		if err != nil {
			t.Fatalf("a decoded PSBT re-encodes to something Decode refuses: %v", err)
		}
		raw2, _ := EncodeBinary(again)
		if !bytes.Equal(raw, raw2) {
			t.Fatal("encoding is not stable")
		}
	})
}

func FuzzSummarize(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Decode(data, 1<<16)
		if err != nil {
			return
		}
		s, err := Summarize(p, &chaincfg.MainNetParams)
		if err != nil {
			return
		}
		if s.FeeKnown && s.Fee < 0 {
			t.Fatalf("negative fee %d", s.Fee)
		}
		_ = s.Text()
	})
}

func BenchmarkDecodeSummarize(b *testing.B) {
	p, _ := fixture(b, 100)
	raw := encode(b, p)
	b.SetBytes(int64(len(raw)))
	for i := 0; i < b.N; i++ {
		q, err := Decode(raw, DefaultMaxSize)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Summarize(q, &chaincfg.RegressionNetParams); err != nil {
			b.Fatal(err)
		}
	}
}
