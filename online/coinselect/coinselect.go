package coinselect

import (
	"errors"

	"github.com/btcsuite/btcd/wire"
)

// Coin is one spendable output of our wallet.
type Coin struct {
	OutPoint wire.OutPoint
	Amount   int64
	// Script is the output script; its type (p2wpkh or p2tr) sizes the
	// input that spends it.
	Script    []byte
	Confirmed bool
	// Change marks an output of one of our own transactions, which may be
	// spent before it confirms.
	Change bool
}

// Output is one payment of the transaction.
type Output struct {
	Script []byte
	Amount int64
}

// Params are the rules of one selection. Fee rates are in satoshis per
// 1000 virtual bytes (sat/kvB).
type Params struct {
	// FeeRate is this transaction's fee rate.
	FeeRate int64
	// LongTermFeeRate is the rate the waste metric weighs spending a coin
	// later against (Bitcoin Core's -consolidatefeerate); 0 means
	// DefaultLongTermFeeRate.
	LongTermFeeRate int64
	// ChangeScript is where change goes (p2wpkh or p2tr): it sizes the
	// change output and the input that will spend it later.
	ChangeScript []byte
	// MaxFee caps the fee in satoshis (0: no cap).
	MaxFee int64
	// MaxFeeRatio caps fee / sum of the outputs paid (0: no cap).
	MaxFeeRatio float64
	// MinChange is the smallest change output worth creating; 0 means the
	// dust limit of ChangeScript, and a value below that limit is refused.
	MinChange int64
	// Required coins are spent whatever the target (a replacement must
	// conflict with the transaction it replaces); they are not listed in
	// the coins passed to Select.
	Required []Coin
}

// DefaultLongTermFeeRate is 10 sat/vB, Bitcoin Core's default
// -consolidatefeerate.
const DefaultLongTermFeeRate = 10_000

// Algorithm names in Selection.Algorithm.
const (
	AlgorithmBnB      = "bnb"
	AlgorithmTxAuthor = "txauthor"
)

// Selection is the chosen coins and what they pay.
type Selection struct {
	Inputs []Coin
	// Change is the change output's amount; 0: no change output.
	Change int64
	// Fee is sum(Inputs) - sum(outputs) - Change.
	Fee int64
	// VSize is the signed transaction's virtual size (sizes.go): exact for
	// p2tr key-path inputs, at most a quarter vbyte over per p2wpkh input.
	VSize int64
	// Algorithm is AlgorithmBnB or AlgorithmTxAuthor.
	Algorithm string
	// Waste is Bitcoin Core's waste metric of the selection, in satoshis.
	Waste int64
	// ChangeDropped is change that was smaller than MinChange and was
	// given to the fee instead (0 when none was).
	ChangeDropped int64
}

var (
	// ErrInsufficientFunds: the eligible coins cannot pay the outputs and
	// the fee.
	ErrInsufficientFunds = errors.New("insufficient funds")
	// ErrFeeCap: the fee would exceed Params.MaxFee.
	ErrFeeCap = errors.New("fee over the absolute cap")
	// ErrFeeRatio: the fee would exceed Params.MaxFeeRatio of the amount
	// paid.
	ErrFeeRatio = errors.New("fee over the fee-to-amount cap")
	// ErrNoOutputs: nothing to pay.
	ErrNoOutputs = errors.New("no outputs to pay")
	// ErrTooLarge: the transaction would be over the standard weight; such
	// an error is ErrInsufficientFunds too (fewer outputs may be payable).
	ErrTooLarge = errors.New("transaction over the standard weight")
	// ErrInvalid: malformed input (a coin listed twice, an unsupported
	// script, a bad amount or parameter).
	ErrInvalid = errors.New("invalid coin selection input")
)
