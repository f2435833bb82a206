package withdrawals

import (
	"errors"
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/mempool"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
)

// Destination is a checked withdrawal address.
type Destination struct {
	Address string // canonical encoding
	Script  []byte // its output script
	Type    string // p2pkh, p2sh, p2wpkh, p2wsh, p2tr
}

// networks are tried, in this order, to name the network of an address
// that is not for the asset's own.
var networks = []*chaincfg.Params{&chaincfg.MainNetParams, &chaincfg.TestNet3Params, &chaincfg.SigNetParams, &chaincfg.RegressionNetParams}

// ParseDestination checks that s is an address this service can pay on the
// network of params and returns it with its script.
func ParseDestination(s string, params *chaincfg.Params) (Destination, error) {
	if s == "" {
		return Destination{}, fmt.Errorf("%w: the address is empty", ErrInvalidAddress)
	}
	if len(s) > 90 {
		return Destination{}, fmt.Errorf("%w: %d characters is longer than any address", ErrInvalidAddress, len(s))
	}
	if strings.TrimSpace(s) != s {
		return Destination{}, fmt.Errorf("%w: %q has spaces around it", ErrInvalidAddress, s)
	}
	addr, err := btcutil.DecodeAddress(s, params)
	var ver btcutil.UnsupportedWitnessVerError
	if errors.As(err, &ver) {
		return Destination{}, fmt.Errorf("%w: %q is a segwit version %d address; this service pays version 0 (p2wpkh, p2wsh) and version 1 (taproot) addresses", ErrUnsupportedAddress, s, byte(ver))
	}
	if err != nil || !addr.IsForNet(params) {
		for _, p := range networks {
			if p.Name == params.Name {
				continue
			}
			other, err2 := btcutil.DecodeAddress(s, p)
			if err2 == nil && other.IsForNet(p) {
				return Destination{}, fmt.Errorf("%w: %q is a %s address; this asset is on %s", ErrWrongNetwork, s, p.Name, params.Name)
			}
			if errors.As(err2, &ver) {
				return Destination{}, fmt.Errorf("%w: %q is a segwit version %d address for %s; this asset is on %s", ErrWrongNetwork, s, byte(ver), p.Name, params.Name)
			}
		}
		if err == nil {
			return Destination{}, fmt.Errorf("%w: %q is not an address for %s", ErrWrongNetwork, s, params.Name)
		}
		return Destination{}, fmt.Errorf("%w: %q: %v", ErrInvalidAddress, s, err)
	}
	var typ string
	switch addr.(type) {
	case *btcutil.AddressPubKeyHash:
		typ = "p2pkh"
	case *btcutil.AddressScriptHash:
		typ = "p2sh"
	case *btcutil.AddressWitnessPubKeyHash:
		typ = "p2wpkh"
	case *btcutil.AddressWitnessScriptHash:
		typ = "p2wsh"
	case *btcutil.AddressTaproot:
		typ = "p2tr"
	default:
		// A hex public key decodes as an address but is not one people use.
		return Destination{}, fmt.Errorf("%w: %q is a raw public key, not an address", ErrInvalidAddress, s)
	}
	script, err := txscript.PayToAddrScript(addr)
	if err != nil {
		return Destination{}, fmt.Errorf("%w: %q: %v", ErrInvalidAddress, s, err)
	}
	return Destination{Address: addr.EncodeAddress(), Script: script, Type: typ}, nil
}

// DustLimit is the smallest amount an output with this script may carry to
// be relayed at relayFee (satoshis per 1000 virtual bytes): btcd's mempool
// policy, the same rule as Bitcoin Core's.
func DustLimit(script []byte, relayFee btcutil.Amount) int64 {
	out := wire.NewTxOut(0, script)
	// IsDust is monotone in the value; the threshold is the cost of
	// spending the output at three times the relay fee.
	limit := mempool.GetDustThreshold(out) * int64(relayFee) / 1000
	for out.Value = max(limit-1, 0); mempool.IsDust(out, relayFee); out.Value++ {
	}
	return out.Value
}
