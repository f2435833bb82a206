package audit

import (
	"testing"

	"github.com/btcsuite/btcd/wire"
)

// A wiped coins table would name every output of the chain: at most
// ListLimit coins of each kind are listed and the rest counted, and the
// fingerprint of a set does not depend on the amounts or the order.
func TestResultListsAtMostListLimitCoinsOfEachKind(t *testing.T) {
	var r Result
	for i := range ListLimit + 50 {
		r.add(Mismatch{Kind: OutputNotInCoins, Coin: &wire.OutPoint{Index: uint32(i)}})
	}
	for i := range 3 {
		r.add(Mismatch{Kind: CoinSpentOnNode, Coin: &wire.OutPoint{Index: uint32(i)}})
	}
	if len(r.Mismatches) != ListLimit+3 || r.Omitted != 50 {
		t.Fatalf("%d listed, %d omitted; want %d and 50", len(r.Mismatches), r.Omitted, ListLimit+3)
	}
	a := []Mismatch{{Kind: AccountBalance, Account: "hot_wallet", Part: "available", Expected: 1}, {Kind: HotWalletCoins, Account: "hot_wallet", Part: "total"}}
	b := []Mismatch{{Kind: HotWalletCoins, Account: "hot_wallet", Part: "total", Actual: 9}, {Kind: AccountBalance, Account: "hot_wallet", Part: "available", Expected: 2}}
	if Fingerprint(a) != Fingerprint(b) {
		t.Fatalf("fingerprints differ: %q %q", Fingerprint(a), Fingerprint(b))
	}
	if Fingerprint(a) == Fingerprint(a[:1]) {
		t.Fatal("a smaller set has the same fingerprint")
	}
}

func TestRatioHasFourDecimalsAndNoneWhenNothingIsOwed(t *testing.T) {
	for _, c := range []struct {
		held, owed int64
		want       string
	}{
		{100, 100, "1.0000"}, {99_990, 100_000, "0.9999"}, {2_100_000_000_000_000, 1, "2100000000000000.0000"}, {5, 0, ""},
	} {
		if got := ratio(c.held, c.owed); got != c.want {
			t.Errorf("ratio(%d, %d) = %q, want %q", c.held, c.owed, got, c.want)
		}
	}
}
