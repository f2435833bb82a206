package chainscan

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/chain"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The scan counts, per (script, amount), every output of the real chain's
// blocks and of the mempool: two payments in one block, two outputs of one
// transaction, one in the mempool, another amount apart, a height range that
// leaves a block out.
func TestScanCountsEveryOutputOnTheChainAndInTheMempool(t *testing.T) {
	ctx := testenv.Ctx(t, 3*time.Minute)
	btcd := testenv.NewNode(t, devenv.BtcdOptions{})
	node := chain.NewRPCNode(btcd.Client)
	faucet := devenv.NewFaucet(node)
	params := &chaincfg.RegressionNetParams
	wpkh, _ := btcutil.NewAddressWitnessPubKeyHash(make([]byte, 20), params)
	wsh, _ := btcutil.NewAddressWitnessScriptHash(make([]byte, 32), params)
	a, b := wpkh.EncodeAddress(), wsh.EncodeAddress()
	const x, y = int64(1_234_567), int64(7_654_321)
	pay := func(ps ...devenv.Payment) {
		t.Helper()
		if _, err := faucet.Pay(ctx, ps...); err != nil {
			t.Fatal(err)
		}
	}
	pay(devenv.Payment{Address: a, Amount: x})
	pay(devenv.Payment{Address: a, Amount: x}, devenv.Payment{Address: a, Amount: x}, devenv.Payment{Address: b, Amount: y})
	hashes, err := btcd.Generate(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	mined, _ := chainhash.NewHashFromStr(hashes[0])
	pay(devenv.Payment{Address: a, Amount: x})
	tip, _, err := node.Tip(ctx)
	if err != nil {
		t.Fatal(err)
	}

	s, err := EveryBlock(ctx, node)
	if err != nil {
		t.Fatal(err)
	}
	if s.From != 1 || s.To != tip || s.Blocks != int(tip) || s.Tip != *mined {
		t.Fatalf("scanned %d..%d (%d blocks) to %s, want 1..%d to %s", s.From, s.To, s.Blocks, s.Tip, tip, mined)
	}
	scriptA, _ := AddressScript(a, params)
	scriptB, _ := AddressScript(b, params)
	for _, c := range []struct {
		script             []byte
		amount             int64
		confirmed, mempool int
	}{
		{scriptA, x, 3, 1},
		{scriptB, y, 1, 0},
		{scriptA, y, 0, 0},
		{scriptB, x, 0, 0},
		{scriptA, x + 1, 0, 0},
	} {
		if got, gotM := s.Confirmed(c.script, c.amount), s.Unconfirmed(c.script, c.amount); got != c.confirmed || gotM != c.mempool {
			t.Errorf("%x %d: %d confirmed %d in the mempool, want %d and %d", c.script, c.amount, got, gotM, c.confirmed, c.mempool)
		}
	}
	ps, err := s.PaidAddress(a, x, params)
	if err != nil || len(ps) != 4 {
		t.Fatalf("PaidAddress: %v %v", ps, err)
	}
	for _, p := range ps[:3] {
		if p.Height != tip {
			t.Fatalf("a confirmed payment at height %d, want %d: %+v", p.Height, tip, p)
		}
	}
	if ps[1].Txid != ps[2].Txid || ps[1].Vout == ps[2].Vout || ps[3].Height != Mempool {
		t.Fatalf("two outputs of one transaction, then the mempool: %+v", ps)
	}

	// Blocks before the payments' block: none of them.
	early, err := Range(ctx, node, 1, tip-1)
	if err != nil {
		t.Fatal(err)
	}
	if early.Confirmed(scriptA, x) != 0 || early.Unconfirmed(scriptA, x) != 1 || early.Blocks != int(tip-1) {
		t.Fatalf("range 1..%d: %d confirmed, %d unconfirmed, %d blocks", tip-1, early.Confirmed(scriptA, x), early.Unconfirmed(scriptA, x), early.Blocks)
	}

	// Bad input.
	if _, err := Range(ctx, node, tip, tip-1); err == nil {
		t.Fatal("a range ending before it starts was scanned")
	}
	if _, err := s.PaidAddress("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", x, params); err == nil {
		t.Fatal("a mainnet address was accepted on regtest")
	}
}

// minesDuringMempool wraps the real node and mines a block while the scan
// reads the mempool, a timing the test cannot otherwise arrange.
type minesDuringMempool struct {
	chain.Node
	btcd *devenv.Btcd
}

func (m minesDuringMempool) MempoolTxids(ctx context.Context) ([]chainhash.Hash, error) {
	ids, err := m.Node.MempoolTxids(ctx)
	if err != nil {
		return nil, err
	}
	_, err = m.btcd.Generate(ctx, 1)
	return ids, err
}

// A block mined during the scan would count a mempool transaction twice or
// not at all: the scan fails and says to scan again.
func TestScanRefusesAChainThatMovedDuringTheScan(t *testing.T) {
	ctx := testenv.Ctx(t, 3*time.Minute)
	btcd := testenv.NewNode(t, devenv.BtcdOptions{})
	node := minesDuringMempool{chain.NewRPCNode(btcd.Client), btcd}
	tip, _, err := node.Tip(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Range(ctx, node, tip-5, -1)
	if err == nil || !strings.Contains(err.Error(), "tip moved") {
		t.Fatalf("a scan across a new block: %v", err)
	}
}
