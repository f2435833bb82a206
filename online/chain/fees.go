package chain

import (
	"context"
	"encoding/json"
	"errors"
	"math"

	"github.com/cryptoassets/cryptoassets/online/chain/rpc"
)

// FeeEstimator is a node that can say what fee rate confirms a transaction
// within a number of blocks.
type FeeEstimator interface {
	// EstimateFeeRate returns sat per 1000 vbytes for confirmation within
	// blocks, or 0 when the node has no estimate yet (a fresh node, a
	// regtest chain): the caller then uses its configured fallback.
	EstimateFeeRate(ctx context.Context, blocks int) (int64, error)
}

// EstimateFeeRate implements FeeEstimator with Bitcoin Core's
// estimatesmartfee, or btcd's estimatefee where the node has no
// estimatesmartfee. Both answer in BTC per 1000 vbytes.
func (n *RPCNode) EstimateFeeRate(ctx context.Context, blocks int) (int64, error) {
	var smart struct {
		FeeRate *float64 `json:"feerate"`
		Errors  []string `json:"errors"`
	}
	err := n.c.Call(ctx, &smart, "estimatesmartfee", blocks)
	if err == nil {
		if smart.FeeRate == nil {
			return 0, nil
		}
		return btcPerKvBToSat(*smart.FeeRate), nil
	}
	var re *rpc.Error
	if !errors.As(err, &re) || re.Code != rpc.CodeMethodNotFound {
		return 0, err
	}
	raw, err := n.c.CallRaw(ctx, "estimatefee", blocks)
	if err != nil {
		if errors.As(err, &re) {
			return 0, nil // btcd: "fee estimation disabled" or too few blocks seen
		}
		return 0, err
	}
	var v float64
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, nil
	}
	return btcPerKvBToSat(v), nil
}

// btcPerKvBToSat converts a node's BTC/kvB to sat/kvB; a negative, absurd
// or non-finite answer means no estimate.
func btcPerKvBToSat(v float64) int64 {
	if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 || v > 1 {
		return 0
	}
	return int64(math.Round(v * 1e8))
}
