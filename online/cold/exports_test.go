package cold_test

import (
	"context"
	"errors"
	"testing"
	"time"

	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/psbttest"
	"github.com/cryptoassets/cryptoassets/internal/storetest"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/offline-signer/policy"
	"github.com/cryptoassets/cryptoassets/offline-signer/sign"
	"github.com/cryptoassets/cryptoassets/online/broadcast"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/cold"
	"github.com/cryptoassets/cryptoassets/online/store"
	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func regtestMaster(seed []byte) (*hdkeys.Master, error) {
	return hdkeys.NewMaster(seed, &chaincfg.RegressionNetParams)
}

// signWith signs p on the real signer path, as cryptoassets-signer does.
func signWith(t *testing.T, coldW, hotW *psbttest.Wallet, p *btcpsbt.Packet) *wire.MsgTx {
	t.Helper()
	pol := &policy.Policy{Network: "regtest", HotWalletDescriptor: hotW.WPKH.Descriptor(), HotWalletLookahead: 50, ChangeLookahead: 50}
	if err := pol.Init(); err != nil {
		t.Fatal(err)
	}
	s := &sign.Signer{Master: coldW.Master, Policy: pol}
	r, err := s.Review(p)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Sign(p, r); err != nil || !ok {
		t.Fatalf("sign: %v %v", ok, err)
	}
	tx, err := btcpsbt.Extract(p)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

func countBroadcasts(t *testing.T, r *store.Runner) int {
	t.Helper()
	var n int
	if err := r.Pool().QueryRow(context.Background(), `SELECT count(*) FROM btc.broadcasts`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// cold submit broadcasts only a signed transaction whose unsigned form is a
// top-up the service exported. Anything else (a top-up of the same coins
// built elsewhere, an exported one edited after signing) is refused before
// anything is recorded or sent; the exported one then goes through.
func TestSubmitRefusesATopUpTheServiceDidNotExport(t *testing.T) {
	ctx := testenv.Ctx(t, 3*time.Minute)
	node := testenv.NewNode(t, devenv.BtcdOptions{})
	cn := chain.NewRPCNode(node.Client)
	runner := storetest.Runner(t, 4, "btc")
	b, err := broadcast.New(runner, "btc", cn, nil)
	if err != nil {
		t.Fatal(err)
	}
	x, err := cold.NewExports(runner, "btc")
	if err != nil {
		t.Fatal(err)
	}

	coldW := psbttest.NewWallet(t, psbttest.Seed(3), regtestMaster)
	hotW := psbttest.NewWallet(t, psbttest.Seed(4), regtestMaster)
	in := psbttest.Derive(t, coldW.WPKH, 0, 0)
	fund, err := devenv.NewFaucet(cn).Pay(ctx, devenv.Payment{Address: in.Address.EncodeAddress(), Amount: 5_000_000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := node.Generate(ctx, 1); err != nil {
		t.Fatal(err)
	}
	owned := map[int]*hdkeys.Derived{}
	for i, out := range fund.TxOut {
		if string(out.PkScript) == string(in.PkScript) {
			owned[i] = in
		}
	}
	hot, change := psbttest.Derive(t, hotW.WPKH, 0, 0), psbttest.Derive(t, coldW.WPKH, 1, 0)
	exported := psbttest.TopUp(t, fund, owned, hot, change, 4_000_000, 2_000)
	if _, err := x.Record(ctx, exported); err != nil {
		t.Fatal(err)
	}
	// Same coins, same hot wallet, another split: signable, never exported.
	foreign := signWith(t, coldW, hotW, psbttest.TopUp(t, fund, owned, hot, change, 1_000_000, 2_000))
	signed := signWith(t, coldW, hotW, exported)
	edited := signed.Copy()
	edited.TxOut[0].Value--
	resequenced := signed.Copy()
	resequenced.TxIn[0].Sequence = wire.MaxTxInSequenceNum

	for _, tc := range []struct {
		name string
		tx   *wire.MsgTx
	}{
		{"a top-up of the same coins built elsewhere", foreign},
		{"the exported top-up with an output edited after signing", edited},
		{"the exported top-up with a sequence changed after signing", resequenced},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := x.Submit(ctx, b, tc.tx)
			if !errors.Is(err, cold.ErrNotExported) {
				t.Fatalf("want ErrNotExported, got %v", err)
			}
			if n := countBroadcasts(t, runner); n != 0 {
				t.Fatalf("a refused transaction left %d broadcast records", n)
			}
			if _, err := cn.Transaction(ctx, tc.tx.TxHash()); err == nil {
				t.Fatal("a refused transaction reached the node")
			}
		})
	}

	r, err := x.Submit(ctx, b, signed)
	if err != nil || r.Outcome != broadcast.Accepted || r.TxID != signed.TxHash() {
		t.Fatalf("the exported top-up, signed: %+v %v", r, err)
	}
	if cold.UnsignedTxID(signed) != exported.UnsignedTx.TxHash() {
		t.Fatal("the unsigned form of the signed top-up is not the exported transaction")
	}
}
