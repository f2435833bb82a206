package sign

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/psbttest"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/offline-signer/policy"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
	"github.com/cryptoassets/cryptoassets/shared/psbt"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The BIP84/BIP86 test mnemonic's seed ("abandon ... about"): the cold wallet.
const coldSeedHex = "5eb00bbddcf069084889a8ab9155568165f5c453ccb85e70811aaed6f6da5fc19a5ac40b389cd370d086206dec8aa6c43daea6690f20ad3d8d48b2d2ce9e38e4"

var net = &chaincfg.RegressionNetParams

type wallet = psbttest.Wallet

func regtestMaster(seed []byte) (*hdkeys.Master, error) { return hdkeys.NewMaster(seed, net) }

func coldWallet(t testing.TB) *wallet {
	seed, _ := hex.DecodeString(coldSeedHex)
	return psbttest.NewWallet(t, seed, regtestMaster)
}

func hotWallet(t testing.TB) *wallet { return psbttest.NewWallet(t, psbttest.Seed(7), regtestMaster) }

var derive = psbttest.Derive

func testPolicy(t testing.TB, hot *wallet, mutate func(*policy.Policy)) *policy.Policy {
	t.Helper()
	p := &policy.Policy{Network: "regtest", HotWalletDescriptor: hot.WPKH.Descriptor(), HotWalletLookahead: 50, ChangeLookahead: 50}
	if mutate != nil {
		mutate(p)
	}
	if err := p.Init(); err != nil {
		t.Fatal(err)
	}
	return p
}

// A PSBT signed here finalizes and is accepted and mined by a real node.
func TestSignedPSBTIsMinedByRegtestNode(t *testing.T) {
	ctx := testenv.Ctx(t, 3*time.Minute)
	node := testenv.NewNode(t, devenv.BtcdOptions{})
	cn := chain.NewRPCNode(node.Client)
	cold, hot := coldWallet(t), hotWallet(t)
	in1, in2 := derive(t, cold.WPKH, 0, 3), derive(t, cold.TR, 0, 8)
	fund, err := devenv.NewFaucet(cn).Pay(ctx,
		devenv.Payment{Address: in1.Address.EncodeAddress(), Amount: 3_000_000},
		devenv.Payment{Address: in2.Address.EncodeAddress(), Amount: 2_000_000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := node.Generate(ctx, 1); err != nil {
		t.Fatal(err)
	}
	p := psbttest.TopUp(t, fund, map[int]*hdkeys.Derived{0: in1, 1: in2}, derive(t, hot.WPKH, 0, 0), derive(t, cold.WPKH, 1, 0), 4_000_000, 2_000)
	// Through the wire format, as it travels to the signer.
	raw, _ := psbt.EncodeBinary(p)
	p, err = psbt.Decode(raw, psbt.DefaultMaxSize)
	if err != nil {
		t.Fatal(err)
	}
	s := &Signer{Master: cold.Master, Policy: testPolicy(t, hot, nil)}
	review, err := s.Review(p)
	if err != nil {
		t.Fatal(err)
	}
	if review.Moved != 4_000_000 || !review.Change[1] || review.Summary.Fee != 2_000 {
		t.Fatalf("review: moved %d change %v fee %d", review.Moved, review.Change, review.Summary.Fee)
	}
	complete, err := s.Sign(p, review)
	if err != nil || !complete {
		t.Fatalf("sign: complete %v, %v", complete, err)
	}
	tx, err := btcpsbt.Extract(p)
	if err != nil {
		t.Fatal(err)
	}
	txid, err := cn.Broadcast(ctx, tx)
	if err != nil {
		t.Fatalf("the node refused the signed transaction: %v", err)
	}
	hashes, err := node.Generate(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := cn.Block(ctx, mustHash(t, hashes[0]))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, btx := range blk.Transactions {
		found = found || btx.TxHash() == txid
	}
	if !found {
		t.Fatal("the signed transaction was not mined")
	}
	// Signing it again is refused.
	if _, err := s.Review(p); !errors.Is(err, ErrAlreadySigned) {
		t.Fatalf("second review: %v", err)
	}
}

func TestRefusals(t *testing.T) {
	cold, hot := coldWallet(t), hotWallet(t)
	in1, in2 := derive(t, cold.WPKH, 0, 1), derive(t, cold.TR, 0, 2)
	prev := wire.NewMsgTx(2)
	prev.AddTxIn(wire.NewTxIn(&wire.OutPoint{Index: 1}, nil, nil))
	prev.AddTxOut(wire.NewTxOut(1_000_000, in1.PkScript))
	prev.AddTxOut(wire.NewTxOut(500_000, in2.PkScript))
	hotAddr, change := derive(t, hot.WPKH, 0, 5), derive(t, cold.WPKH, 1, 4)
	build := func() *btcpsbt.Packet {
		return psbttest.TopUp(t, prev, map[int]*hdkeys.Derived{0: in1, 1: in2}, hotAddr, change, 1_200_000, 1_500)
	}
	strangerAcct := psbttest.NewWallet(t, psbttest.Seed(9), regtestMaster).WPKH

	tests := []struct {
		name   string
		tamper func(p *btcpsbt.Packet)
		policy func(*policy.Policy)
		want   error
		rule   string
	}{
		{"fee attack: witness utxo lies", func(p *btcpsbt.Packet) { p.Inputs[0].WitnessUtxo = wire.NewTxOut(900_000, in1.PkScript) }, nil, psbt.ErrUTXOMismatch, ""},
		{"segwit v0 without previous transaction", func(p *btcpsbt.Packet) { p.Inputs[0].NonWitnessUtxo = nil }, nil, ErrUnverifiedAmount, ""},
		{"substituted change", func(p *btcpsbt.Packet) { p.UnsignedTx.TxOut[1].PkScript = derive(t, strangerAcct, 1, 4).PkScript }, nil, ErrChangeMismatch, ""},
		{"output to a foreign address", func(p *btcpsbt.Packet) { p.UnsignedTx.TxOut[0].PkScript = derive(t, strangerAcct, 0, 0).PkScript }, nil, nil, "destination"},
		{"wrong network", func(p *btcpsbt.Packet) {
			p.Inputs[0].Bip32Derivation[0].Bip32Path = []uint32{0x80000054, 0x80000000, 0x80000000, 0, 1}
		}, nil, hdkeys.ErrWrongNetwork, ""},
		{"SIGHASH_NONE", func(p *btcpsbt.Packet) { p.Inputs[0].SighashType = txscript.SigHashNone }, nil, nil, "allowed_sighash"},
		{"SIGHASH_SINGLE|ANYONECANPAY on taproot", func(p *btcpsbt.Packet) {
			p.Inputs[1].SighashType = txscript.SigHashSingle | txscript.SigHashAnyOneCanPay
		}, nil, nil, "allowed_sighash"},
		{"fee over the absolute cap", nil, func(p *policy.Policy) { p.MaxFeeSat = 1_000 }, nil, "max_fee_sat"},
		{"fee over the rate cap", nil, func(p *policy.Policy) { p.MaxFeeRate = 2 }, nil, "max_fee_rate"},
		{"fee over the share cap", nil, func(p *policy.Policy) { p.MaxFeeBasisPoints = 1 }, nil, "max_fee_basis_points"},
		{"no input of ours", func(p *btcpsbt.Packet) {
			for i := range p.Inputs {
				for _, d := range p.Inputs[i].Bip32Derivation {
					d.MasterKeyFingerprint++
				}
				for _, d := range p.Inputs[i].TaprootBip32Derivation {
					d.MasterKeyFingerprint++
				}
			}
		}, nil, ErrNoInputOfOurs, ""},
		{"an input claims our key but is not", func(p *btcpsbt.Packet) { p.Inputs[0].Bip32Derivation[0].Bip32Path[4] = 99 }, nil, ErrNotOurs, ""},
		{"change on the change branch beyond change_lookahead", func(p *btcpsbt.Packet) { restateChange(t, cold, p, 1, 50) }, nil, nil, "change_lookahead"},
		{"change on the receive branch", func(p *btcpsbt.Packet) { restateChange(t, cold, p, 0, 4) }, nil, nil, "change"},
		{"change in another account", func(p *btcpsbt.Packet) {
			d, err := cold.Master.DerivePath([]uint32{0x80000054, 0x80000001, 0xffffffff, 1, 0})
			if err != nil {
				t.Fatal(err)
			}
			p.UnsignedTx.TxOut[1].PkScript = d.PkScript
			p.Outputs[1].Bip32Derivation[0].PubKey = d.PubKey.SerializeCompressed()
			p.Outputs[1].Bip32Derivation[0].Bip32Path = d.Origin.Path
		}, nil, nil, "change"},
		{"hot destination beyond the lookahead with its derivation stated", func(p *btcpsbt.Packet) {
			far := derive(t, hot.WPKH, 0, 2147483646)
			p.UnsignedTx.TxOut[0].PkScript = far.PkScript
			p.Outputs[0].Bip32Derivation = []*btcpsbt.Bip32Derivation{{PubKey: far.PubKey.SerializeCompressed(),
				MasterKeyFingerprint: hot.Master.Fingerprint(), Bip32Path: far.Origin.Path}}
		}, nil, nil, "destination"},
		{"another signer's partial signature", func(p *btcpsbt.Packet) {
			p.Inputs[0].PartialSigs = []*btcpsbt.PartialSig{{PubKey: derive(t, strangerAcct, 0, 0).PubKey.SerializeCompressed(), Signature: []byte{0x30, 0x01}}}
		}, nil, ErrForeignSignature, ""},
		{"one input already signed", func(p *btcpsbt.Packet) { p.Inputs[1].TaprootKeySpendSig = bytes.Repeat([]byte{1}, 64) }, nil, ErrPartlySigned, ""},
		{"the same coin spent twice", func(p *btcpsbt.Packet) {
			p.UnsignedTx.TxIn[1].PreviousOutPoint = p.UnsignedTx.TxIn[0].PreviousOutPoint
			p.Inputs[1] = p.Inputs[0]
		}, nil, psbt.ErrMalformed, ""},
		{"already signed", func(p *btcpsbt.Packet) {
			for i := range p.Inputs {
				p.Inputs[i].FinalScriptWitness = []byte{0x01, 0x00}
			}
		}, nil, ErrAlreadySigned, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := build()
			if tc.tamper != nil {
				tc.tamper(p)
			}
			s := &Signer{Master: cold.Master, Policy: testPolicy(t, hot, tc.policy)}
			before, _ := psbt.EncodeBinary(p)
			_, err := s.Review(p)
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("want %v, got %v", tc.want, err)
			}
			if tc.rule != "" {
				var r *policy.Refusal
				if !errors.As(err, &r) || r.Rule != tc.rule {
					t.Fatalf("want a refusal under rule %s, got %v", tc.rule, err)
				}
			}
			if err == nil || strings.TrimSpace(err.Error()) == "" {
				t.Fatal("no reason given")
			}
			after, _ := psbt.EncodeBinary(p)
			if !bytes.Equal(before, after) {
				t.Fatal("a refused review changed the PSBT")
			}
		})
	}
	// The untampered PSBT passes: the table above fails only for its reason.
	s := &Signer{Master: cold.Master, Policy: testPolicy(t, hot, nil)}
	if _, err := s.Review(build()); err != nil {
		t.Fatalf("the honest PSBT: %v", err)
	}
}

// restateChange moves output 1 to our key at branch/index of the BIP84
// account, with a matching derivation, so only the change rules can refuse it.
func restateChange(t *testing.T, w *wallet, p *btcpsbt.Packet, branch, index uint32) {
	t.Helper()
	d := derive(t, w.WPKH, branch, index)
	p.UnsignedTx.TxOut[1].PkScript = d.PkScript
	p.Outputs[1].Bip32Derivation[0].PubKey = d.PubKey.SerializeCompressed()
	p.Outputs[1].Bip32Derivation[0].Bip32Path = d.Origin.Path
}

func TestVersion2Refused(t *testing.T) {
	cold, hot := coldWallet(t), hotWallet(t)
	_ = hot
	in1 := derive(t, cold.WPKH, 0, 1)
	prev := wire.NewMsgTx(2)
	prev.AddTxIn(wire.NewTxIn(&wire.OutPoint{Index: 1}, nil, nil))
	prev.AddTxOut(wire.NewTxOut(1_000_000, in1.PkScript))
	p := psbttest.TopUp(t, prev, map[int]*hdkeys.Derived{0: in1}, derive(t, hot.WPKH, 0, 0), derive(t, cold.WPKH, 1, 0), 500_000, 1000)
	raw, _ := psbt.EncodeBinary(p)
	// Insert PSBT_GLOBAL_VERSION = 2 right after the magic's global map start.
	v2 := append(append([]byte{}, raw[:5]...), append([]byte{0x01, 0xfb, 0x04, 0x02, 0x00, 0x00, 0x00}, raw[5:]...)...)
	if _, err := psbt.Decode(v2, psbt.DefaultMaxSize); !errors.Is(err, psbt.ErrVersion2) {
		t.Fatalf("want ErrVersion2, got %v", err)
	}
}

func mustHash(t testing.TB, s string) (h [32]byte) {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		t.Fatalf("hash %q", s)
	}
	for i := range b {
		h[i] = b[31-i]
	}
	return h
}

// A review holds the keys it derived for Sign, which signs with them once
// and wipes them; a wiped review signs nothing.
func TestReviewSignsOnce(t *testing.T) {
	cold, hot := coldWallet(t), hotWallet(t)
	in1, in2 := derive(t, cold.WPKH, 0, 1), derive(t, cold.TR, 0, 2)
	prev := psbttest.FakeFunding(map[*hdkeys.Derived]int64{in1: 1_000_000, in2: 500_000}, []*hdkeys.Derived{in1, in2})
	build := func() *btcpsbt.Packet {
		return psbttest.TopUp(t, prev, map[int]*hdkeys.Derived{0: in1, 1: in2}, derive(t, hot.WPKH, 0, 5), derive(t, cold.WPKH, 1, 4), 1_200_000, 1_500)
	}
	s := &Signer{Master: cold.Master, Policy: testPolicy(t, hot, nil)}
	p := build()
	r, err := s.Review(p)
	if err != nil {
		t.Fatal(err)
	}
	keys := append([]*hdkeys.SigningKey(nil), r.keys...)
	if complete, err := s.Sign(p, r); err != nil || !complete {
		t.Fatalf("complete %v, %v", complete, err)
	}
	for i, k := range keys {
		if k == nil || !k.Priv.Key.IsZero() {
			t.Fatalf("input %d: the review's key was not wiped after signing", i)
		}
	}
	again := build()
	if _, err := s.Sign(again, r); !errors.Is(err, ErrReviewUsed) {
		t.Fatalf("a second signing with one review: %v", err)
	}
	r, err = s.Review(again)
	if err != nil {
		t.Fatal(err)
	}
	r.Wipe()
	before, _ := psbt.EncodeBinary(again)
	if _, err := s.Sign(again, r); !errors.Is(err, ErrReviewUsed) {
		t.Fatalf("signing with a wiped review: %v", err)
	}
	if after, _ := psbt.EncodeBinary(again); !bytes.Equal(before, after) {
		t.Fatal("a refused signing changed the PSBT")
	}
}
