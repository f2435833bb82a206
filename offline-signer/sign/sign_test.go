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

type wallet struct {
	master *hdkeys.Master
	wpkh   *hdkeys.AccountKey
	tr     *hdkeys.AccountKey
}

func newWallet(t testing.TB, seed []byte) *wallet {
	t.Helper()
	m, err := hdkeys.NewMaster(seed, net)
	if err != nil {
		t.Fatal(err)
	}
	w := &wallet{master: m}
	if w.wpkh, err = m.Account(hdkeys.P2WPKH, 0); err != nil {
		t.Fatal(err)
	}
	if w.tr, err = m.Account(hdkeys.P2TR, 0); err != nil {
		t.Fatal(err)
	}
	return w
}

func coldWallet(t testing.TB) *wallet {
	seed, _ := hex.DecodeString(coldSeedHex)
	return newWallet(t, seed)
}

func hotWallet(t testing.TB) *wallet { return newWallet(t, bytes.Repeat([]byte{7}, 64)) }

func derive(t testing.TB, a *hdkeys.AccountKey, branch, index uint32) *hdkeys.Derived {
	t.Helper()
	d, err := a.Derive(branch, index)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// addOrigin attaches a derivation to an input or output, as the online
// side's PSBT builder does.
func inputOrigin(in *btcpsbt.PInput, d *hdkeys.Derived) {
	if d.TaprootInternalKey != nil {
		in.TaprootInternalKey = d.TaprootInternalKey
		in.TaprootBip32Derivation = append(in.TaprootBip32Derivation, &btcpsbt.TaprootBip32Derivation{
			XOnlyPubKey: d.TaprootInternalKey, MasterKeyFingerprint: d.Origin.Fingerprint, Bip32Path: append([]uint32(nil), d.Origin.Path...)})
		return
	}
	in.Bip32Derivation = append(in.Bip32Derivation, &btcpsbt.Bip32Derivation{
		PubKey: d.PubKey.SerializeCompressed(), MasterKeyFingerprint: d.Origin.Fingerprint, Bip32Path: append([]uint32(nil), d.Origin.Path...)})
}

func outputOrigin(out *btcpsbt.POutput, d *hdkeys.Derived) {
	if d.TaprootInternalKey != nil {
		out.TaprootInternalKey = d.TaprootInternalKey
		out.TaprootBip32Derivation = append(out.TaprootBip32Derivation, &btcpsbt.TaprootBip32Derivation{
			XOnlyPubKey: d.TaprootInternalKey, MasterKeyFingerprint: d.Origin.Fingerprint, Bip32Path: append([]uint32(nil), d.Origin.Path...)})
		return
	}
	out.Bip32Derivation = append(out.Bip32Derivation, &btcpsbt.Bip32Derivation{
		PubKey: d.PubKey.SerializeCompressed(), MasterKeyFingerprint: d.Origin.Fingerprint, Bip32Path: append([]uint32(nil), d.Origin.Path...)})
}

// topUp builds a cold-to-hot PSBT spending every output of prev that pays
// the cold wallet's keys in owned, sending send to the hot wallet and the
// rest minus fee back to cold change.
func topUp(t testing.TB, prev *wire.MsgTx, owned map[int]*hdkeys.Derived, hot *hdkeys.Derived, change *hdkeys.Derived, send, fee int64) *btcpsbt.Packet {
	t.Helper()
	var ops []*wire.OutPoint
	var seqs []uint32
	var total int64
	var idxs []int
	for i := range prev.TxOut {
		if owned[i] != nil {
			ops = append(ops, &wire.OutPoint{Hash: prev.TxHash(), Index: uint32(i)})
			seqs = append(seqs, wire.MaxTxInSequenceNum-2)
			total += prev.TxOut[i].Value
			idxs = append(idxs, i)
		}
	}
	outs := []*wire.TxOut{wire.NewTxOut(send, hot.PkScript), wire.NewTxOut(total-send-fee, change.PkScript)}
	p, err := btcpsbt.New(ops, outs, 2, 0, seqs)
	if err != nil {
		t.Fatal(err)
	}
	for k, i := range idxs {
		p.Inputs[k].WitnessUtxo = prev.TxOut[i]
		p.Inputs[k].NonWitnessUtxo = prev
		inputOrigin(&p.Inputs[k], owned[i])
	}
	outputOrigin(&p.Outputs[1], change)
	return p
}

func testPolicy(t testing.TB, hot *wallet, mutate func(*policy.Policy)) *policy.Policy {
	t.Helper()
	p := &policy.Policy{Network: "regtest", HotWalletDescriptor: hot.wpkh.Descriptor(), HotWalletLookahead: 50}
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
	in1, in2 := derive(t, cold.wpkh, 0, 3), derive(t, cold.tr, 0, 8)
	fund, err := devenv.NewFaucet(cn).Pay(ctx,
		devenv.Payment{Address: in1.Address.EncodeAddress(), Amount: 3_000_000},
		devenv.Payment{Address: in2.Address.EncodeAddress(), Amount: 2_000_000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := node.Generate(ctx, 1); err != nil {
		t.Fatal(err)
	}
	p := topUp(t, fund, map[int]*hdkeys.Derived{0: in1, 1: in2}, derive(t, hot.wpkh, 0, 0), derive(t, cold.wpkh, 1, 0), 4_000_000, 2_000)
	// Through the wire format, as it travels to the signer.
	raw, _ := psbt.EncodeBinary(p)
	p, err = psbt.Decode(raw, psbt.DefaultMaxSize)
	if err != nil {
		t.Fatal(err)
	}
	s := &Signer{Master: cold.master, Policy: testPolicy(t, hot, nil)}
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
	in1, in2 := derive(t, cold.wpkh, 0, 1), derive(t, cold.tr, 0, 2)
	prev := wire.NewMsgTx(2)
	prev.AddTxIn(wire.NewTxIn(&wire.OutPoint{Index: 1}, nil, nil))
	prev.AddTxOut(wire.NewTxOut(1_000_000, in1.PkScript))
	prev.AddTxOut(wire.NewTxOut(500_000, in2.PkScript))
	hotAddr, change := derive(t, hot.wpkh, 0, 5), derive(t, cold.wpkh, 1, 4)
	build := func() *btcpsbt.Packet {
		return topUp(t, prev, map[int]*hdkeys.Derived{0: in1, 1: in2}, hotAddr, change, 1_200_000, 1_500)
	}
	stranger := hotWallet(t)
	stranger.master, _ = hdkeys.NewMaster(bytes.Repeat([]byte{9}, 64), net)
	strangerAcct, _ := stranger.master.Account(hdkeys.P2WPKH, 0)

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
			s := &Signer{Master: cold.master, Policy: testPolicy(t, hot, tc.policy)}
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
	s := &Signer{Master: cold.master, Policy: testPolicy(t, hot, nil)}
	if _, err := s.Review(build()); err != nil {
		t.Fatalf("the honest PSBT: %v", err)
	}
}

func TestVersion2Refused(t *testing.T) {
	cold, hot := coldWallet(t), hotWallet(t)
	_ = hot
	in1 := derive(t, cold.wpkh, 0, 1)
	prev := wire.NewMsgTx(2)
	prev.AddTxIn(wire.NewTxIn(&wire.OutPoint{Index: 1}, nil, nil))
	prev.AddTxOut(wire.NewTxOut(1_000_000, in1.PkScript))
	p := topUp(t, prev, map[int]*hdkeys.Derived{0: in1}, derive(t, hot.wpkh, 0, 0), derive(t, cold.wpkh, 1, 0), 500_000, 1000)
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
