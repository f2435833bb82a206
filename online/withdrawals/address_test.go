package withdrawals

import (
	"errors"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/mempool"
)

func TestParseDestinationNamesTheProblem(t *testing.T) {
	reg := &chaincfg.RegressionNetParams
	for _, c := range []struct {
		name, addr string
		want       error
		typ        string
	}{
		{"regtest p2wpkh", "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", nil, "p2wpkh"},
		{"regtest p2sh", "2MsFDzHRUAMpjHxKyoEHU3aMCMsVtMqs1PV", nil, "p2sh"},
		{"regtest p2wsh", "bcrt1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq3xueyj", nil, "p2wsh"},
		{"regtest p2tr", "bcrt1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqc8gma6", nil, "p2tr"},
		{"testnet p2pkh (same version bytes)", "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn", nil, "p2pkh"},
		{"mainnet p2wpkh", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", ErrWrongNetwork, ""},
		{"mainnet p2pkh", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", ErrWrongNetwork, ""},
		{"testnet p2wpkh", "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", ErrWrongNetwork, ""},
		{"bad checksum", "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt081", ErrInvalidAddress, ""},
		{"garbage", "not-an-address", ErrInvalidAddress, ""},
		{"empty", "", ErrInvalidAddress, ""},
		{"spaces", " bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", ErrInvalidAddress, ""},
		{"raw public key", "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798", ErrInvalidAddress, ""},
		{"segwit v2", "bcrt1zw508d6qejxtdg4y5r3zarvaryv2wuatf", ErrUnsupportedAddress, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, err := ParseDestination(c.addr, reg)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if err != nil {
				t.Logf("%v", err)
				return
			}
			if d.Type != c.typ || len(d.Script) == 0 {
				t.Fatalf("got %+v", d)
			}
		})
	}
}

// The dust limits of the usual script types at the default relay fee are
// Bitcoin Core's well-known figures.
func TestDustLimitFollowsTheScriptType(t *testing.T) {
	reg := &chaincfg.RegressionNetParams
	for addr, want := range map[string]int64{
		"mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn":                               546,
		"2MsFDzHRUAMpjHxKyoEHU3aMCMsVtMqs1PV":                              540,
		"bcrt1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq3xueyj": 330,
		"bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080":                     294,
		"bcrt1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqc8gma6": 330,
	} {
		d, err := ParseDestination(addr, reg)
		if err != nil {
			t.Fatal(err)
		}
		if got := DustLimit(d.Script, mempool.DefaultMinRelayTxFee); got != want {
			t.Errorf("%s (%s): dust limit %d, want %d", addr, d.Type, got, want)
		}
	}
}
