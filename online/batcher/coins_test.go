package batcher

import (
	"testing"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/online/withdrawals"
)

// A batch spends the unconfirmed change of our own batch, and never an
// unconfirmed coin someone else sent (here a large deposit still in the
// mempool, which a largest-first selection would prefer).
func TestBatchesSpendOwnUnconfirmedChangeButNoForeignUnconfirmedCoin(t *testing.T) {
	e := newEnv(t, Config{})
	e.Fund("alice", 600_000, 600_000)
	if _, err := e.Ledger.CreateAccount(e.Ctx, "carol"); err != nil {
		t.Fatal(err)
	}
	addrs, err := e.Issuer.NewAddresses(e.Ctx, "carol", "", 1)
	if err != nil {
		t.Fatal(err)
	}
	big, err := e.Faucet.Pay(e.Ctx, devenv.Payment{Address: addrs[0].Address, Amount: 5_000_000})
	if err != nil {
		t.Fatal(err)
	}
	bigID := big.TxHash()
	e.Sync()
	if n := e.Count(`SELECT count(*) FROM btc.coins WHERE txid = $1 AND block_hash IS NULL`, bigID[:]); n != 1 {
		t.Fatalf("the unconfirmed deposit is not recorded as an unconfirmed coin (%d)", n)
	}
	first := e.Request("alice", outside(t, 31), 1_000_000)
	e.step()
	if got := e.Withdrawal(first.ID); got.State != withdrawals.Broadcast {
		t.Fatalf("first withdrawal: %s", got.State)
	}
	if n := e.Count(`SELECT count(*) FROM btc.batch_inputs WHERE txid = $1`, bigID[:]); n != 0 {
		t.Fatal("the batch spends an unconfirmed coin that is not our change")
	}
	// The first batch's change (about 0.2 BTC) is in no block yet; the
	// second withdrawal can only be paid from it.
	e.Sync()
	second := e.Request("alice", outside(t, 32), 150_000)
	e.step()
	if got := e.Withdrawal(second.ID); got.State != withdrawals.Broadcast {
		t.Fatalf("second withdrawal: %s (its only source is the first batch's unconfirmed change)", got.State)
	}
	var firstBatch int64
	if err := e.Runner.Pool().QueryRow(e.Ctx, `SELECT batch_id FROM btc.withdrawals WHERE id = $1`, first.ID).Scan(&firstBatch); err != nil {
		t.Fatal(err)
	}
	if n := e.Count(`SELECT count(*) FROM btc.batch_inputs i JOIN btc.batches b ON b.txid = i.txid WHERE b.id = $1`, firstBatch); n != 1 {
		t.Fatalf("the second batch spends %d outputs of the first, want its change", n)
	}
	e.Mine(1)
	e.step()
	for _, w := range []withdrawals.Withdrawal{first, second} {
		if got := e.Withdrawal(w.ID); got.State != withdrawals.Confirmed {
			t.Fatalf("withdrawal %d: %s", w.ID, got.State)
		}
	}
	e.invariants()
}
