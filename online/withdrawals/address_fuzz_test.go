package withdrawals

import (
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/mempool"
)

// Any string either is refused or yields a destination whose canonical
// address parses again to the same script, with a dust limit.
func FuzzParseDestination(f *testing.F) {
	for _, s := range []string{"bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
		"mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn", "bcrt1zw508d6qejxtdg4y5r3zarvaryv2wuatf", "", "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDestination(s, &chaincfg.RegressionNetParams)
		if err != nil {
			return
		}
		again, err := ParseDestination(d.Address, &chaincfg.RegressionNetParams)
		if err != nil || string(again.Script) != string(d.Script) {
			t.Fatalf("%q → %q does not parse back: %v", s, d.Address, err)
		}
		if DustLimit(d.Script, mempool.DefaultMinRelayTxFee) <= 0 {
			t.Fatalf("%q: no dust limit", s)
		}
	})
}
