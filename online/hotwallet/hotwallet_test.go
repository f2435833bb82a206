package hotwallet

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/storetest"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/broadcast"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/cold"
	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
	"github.com/cryptoassets/cryptoassets/shared/keystore"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var regtest = &chaincfg.RegressionNetParams

const pass = "hot passphrase 1"

// hotKeystore writes a regtest keystore of seed and a 0600 passphrase file
// beside it, and returns the unlock and the seed's account descriptors.
func hotKeystore(t *testing.T, seedByte byte) (Unlock, map[hdkeys.ScriptType]string) {
	t.Helper()
	dir := t.TempDir()
	seed := bytes.Repeat([]byte{seedByte}, 64)
	ks := filepath.Join(dir, "hot.keystore")
	if err := keystore.Create(ks, seed, keystore.Meta{Network: keystore.Regtest}, []byte(pass)); err != nil {
		t.Fatal(err)
	}
	pf := filepath.Join(dir, "hot.pass")
	if err := os.WriteFile(pf, []byte(pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := hdkeys.NewMaster(seed, regtest)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Zero()
	descs := map[hdkeys.ScriptType]string{}
	for _, st := range []hdkeys.ScriptType{hdkeys.P2WPKH, hdkeys.P2TR} {
		a, err := m.Account(st, 0)
		if err != nil {
			t.Fatal(err)
		}
		descs[st] = a.Descriptor()
	}
	return Unlock{Keystore: ks, PassphraseFile: pf, PassphraseFD: -1}, descs
}

func TestOpenUnlocksFromFileAndFromFD(t *testing.T) {
	u, descs := hotKeystore(t, 1)
	s, err := Open(u, descs[hdkeys.P2WPKH], regtest)
	if err != nil {
		t.Fatalf("from a file: %v", err)
	}
	if s.Account().Descriptor() != descs[hdkeys.P2WPKH] {
		t.Fatalf("account %s", s.Account().Descriptor())
	}
	s.Close()

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := w.WriteString(pass + "\n"); err != nil {
		t.Fatal(err)
	}
	w.Close()
	fdUnlock := Unlock{Keystore: u.Keystore, PassphraseFD: int(r.Fd())}
	s, err = Open(fdUnlock, descs[hdkeys.P2TR], regtest)
	if err != nil {
		t.Fatalf("from a descriptor: %v", err)
	}
	s.Close()
}

// Every way of starting with the wrong keys or no safe passphrase is a
// clear refusal.
func TestOpenRefusals(t *testing.T) {
	u, descs := hotKeystore(t, 1)
	_, other := hotKeystore(t, 2)
	exposed := filepath.Join(t.TempDir(), "exposed.pass")
	if err := os.WriteFile(exposed, []byte(pass+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wrong := filepath.Join(t.TempDir(), "wrong.pass")
	if err := os.WriteFile(wrong, []byte("not the passphrase\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Another seed's key under this seed's fingerprint.
	ourFP, otherFP := descs[hdkeys.P2WPKH][6:14], other[hdkeys.P2WPKH][6:14]
	forged := strings.Replace(strings.Split(other[hdkeys.P2WPKH], "#")[0], otherFP, ourFP, 1)
	for _, tc := range []struct {
		name       string
		u          Unlock
		descriptor string
		net        *chaincfg.Params
		want       error
		says       []string
	}{
		{"another seed's descriptor", u, other[hdkeys.P2WPKH], regtest, ErrDescriptorMismatch, []string{other[hdkeys.P2WPKH], descs[hdkeys.P2WPKH]}},
		{"another seed's key under our fingerprint", u, forged, regtest, ErrDescriptorMismatch, []string{descs[hdkeys.P2WPKH]}},
		{"another network", u, descs[hdkeys.P2WPKH], &chaincfg.TestNet3Params, ErrWrongNetwork, []string{"regtest", "testnet"}},
		{"passphrase file readable by others", Unlock{Keystore: u.Keystore, PassphraseFile: exposed, PassphraseFD: -1}, descs[hdkeys.P2WPKH], regtest, nil, []string{"0644"}},
		{"wrong passphrase", Unlock{Keystore: u.Keystore, PassphraseFile: wrong, PassphraseFD: -1}, descs[hdkeys.P2WPKH], regtest, keystore.ErrWrongPassphrase, nil},
		{"no passphrase source", Unlock{Keystore: u.Keystore, PassphraseFD: -1}, descs[hdkeys.P2WPKH], regtest, nil, []string{"hot_passphrase_file"}},
		{"both passphrase sources", Unlock{Keystore: u.Keystore, PassphraseFile: u.PassphraseFile, PassphraseFD: 0}, descs[hdkeys.P2WPKH], regtest, nil, []string{"not both"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(tc.u, tc.descriptor, tc.net)
			if err == nil {
				s.Close()
				t.Fatal("opened")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			for _, w := range tc.says {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("the refusal does not say %q: %v", w, err)
				}
			}
		})
	}
}

// A coin of the hot wallet on a real regtest node is spent by a PSBT
// signed through the shared Signer role, sent through online/broadcast,
// and mined.
func TestHotSpendSignedBroadcastAndMined(t *testing.T) {
	ctx := testenv.Ctx(t, 3*time.Minute)
	node := testenv.NewNode(t, devenv.BtcdOptions{})
	cn := chain.NewRPCNode(node.Client)
	b, err := broadcast.New(storetest.Runner(t, 4, "btc"), "btc", cn, nil)
	if err != nil {
		t.Fatal(err)
	}
	u, descs := hotKeystore(t, 3)
	for _, st := range []hdkeys.ScriptType{hdkeys.P2WPKH, hdkeys.P2TR} {
		t.Run(st.String(), func(t *testing.T) {
			s, err := Open(u, descs[st], regtest)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			in1, _ := s.Account().Derive(0, 4)
			in2, _ := s.Account().Derive(1, 2)
			change, _ := s.Account().Derive(1, 3)
			fund, err := devenv.NewFaucet(cn).Pay(ctx,
				devenv.Payment{Address: in1.Address.EncodeAddress(), Amount: 1_500_000},
				devenv.Payment{Address: in2.Address.EncodeAddress(), Amount: 700_000})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := node.Generate(ctx, 1); err != nil {
				t.Fatal(err)
			}
			var coins []cold.Coin
			for vout, out := range fund.TxOut {
				switch {
				case bytes.Equal(out.PkScript, in1.PkScript):
					coins = append(coins, cold.Coin{Prev: fund, Vout: vout, Key: in1})
				case bytes.Equal(out.PkScript, in2.PkScript):
					coins = append(coins, cold.Coin{Prev: fund, Vout: vout, Key: in2})
				}
			}
			script, err := txscript.PayToAddrScript(devenv.FaucetAddress())
			if err != nil {
				t.Fatal(err)
			}
			customer := &hdkeys.Derived{Address: devenv.FaucetAddress(), PkScript: script}
			p, err := cold.Build(cold.TopUp{Coins: coins, Hot: customer, Change: change, Send: 1_000_000, Fee: 3_000})
			if err != nil {
				t.Fatal(err)
			}
			tx, err := s.Sign(p)
			if err != nil {
				t.Fatalf("hot signing: %v", err)
			}
			r, err := b.Submit(ctx, "cold_topup", tx)
			if err != nil || r.Outcome != broadcast.Accepted {
				t.Fatalf("broadcast: %+v %v", r, err)
			}
			hashes, err := node.Generate(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			h, err := chainhash.NewHashFromStr(hashes[0])
			if err != nil {
				t.Fatal(err)
			}
			blk, err := cn.Block(ctx, *h)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, btx := range blk.Transactions {
				found = found || btx.TxHash() == tx.TxHash()
			}
			if !found {
				t.Fatalf("the hot-signed transaction %s is not in block %s", tx.TxHash(), hashes[0])
			}
		})
	}
}

// An input that claims a key of ours but spends another script, or one
// outside the hot account, is refused before anything is signed.
func TestHotSignRefusesInputsNotOurs(t *testing.T) {
	u, descs := hotKeystore(t, 4)
	s, err := Open(u, descs[hdkeys.P2WPKH], regtest)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ours, _ := s.Account().Derive(0, 0)
	change, _ := s.Account().Derive(1, 0)
	_, otherDescs := hotKeystore(t, 5)
	otherAcct, err := hdkeys.ParseDescriptor(otherDescs[hdkeys.P2WPKH], regtest)
	if err != nil {
		t.Fatal(err)
	}
	foreign, _ := otherAcct.Derive(0, 0)
	for _, tc := range []struct {
		name   string
		key    *hdkeys.Derived
		mutate func(p *btcpsbt.Packet)
	}{
		{"another wallet's coin", foreign, nil},
		{"our key origin on another script", foreign, func(p *btcpsbt.Packet) {
			d := p.Inputs[0].Bip32Derivation[0]
			d.MasterKeyFingerprint, d.Bip32Path, d.PubKey = ours.Origin.Fingerprint, ours.Origin.Path, ours.PubKey.SerializeCompressed()
		}},
		{"our coin without UTXO data", ours, func(p *btcpsbt.Packet) {
			p.Inputs[0].NonWitnessUtxo, p.Inputs[0].WitnessUtxo = nil, nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prev := wire.NewMsgTx(2)
			prev.AddTxIn(wire.NewTxIn(&wire.OutPoint{Index: 1}, nil, nil))
			prev.AddTxOut(wire.NewTxOut(100_000, tc.key.PkScript))
			p, err := cold.Build(cold.TopUp{Coins: []cold.Coin{{Prev: prev, Vout: 0, Key: tc.key}}, Hot: change, Change: change, Send: 50_000, Fee: 1_000})
			if err != nil {
				t.Fatal(err)
			}
			if tc.mutate != nil {
				tc.mutate(p)
			}
			if _, err := s.Sign(p); !errors.Is(err, ErrNotOurs) {
				t.Fatalf("got %v", err)
			}
			for i, in := range p.Inputs {
				if in.FinalScriptWitness != nil || in.PartialSigs != nil {
					t.Fatalf("input %d was signed", i)
				}
			}
		})
	}
}
