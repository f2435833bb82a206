package coinselect

import (
	"github.com/btcsuite/btcd/mempool"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
)

// Sizes are in weight units (WU): a byte outside the witness weighs 4, a
// witness byte 1; vsize = ceil(WU / 4). They are the same as
// shared/psbt's estimate of a PSBT's signed size.
//
//	input, any segwit   outpoint 36 + empty scriptSig 1 + sequence 4   164 WU
//	p2wpkh witness      count 1 + sig push 1+72 + key push 1+33        108 WU → input 68 vB
//	p2tr key path       count 1 + sig push 1+64 (SIGHASH_DEFAULT)       66 WU → input 57.5 vB
//	output              value 8 + script length + script               ×4
//	transaction         version 4 + locktime 4 + the two counts, ×4, + marker and flag 2
//
// 72 bytes is the longest low-S DER signature with its sighash byte; the
// signer (btcec, RFC 6979, no low-R grinding) makes a 71-byte one about
// half the time, so a p2wpkh input is sized up to a quarter vbyte over
// (never under: the fee rate paid is never below the one asked). A p2tr
// key-path input is exact.
const (
	txInBaseWU    = 4 * (32 + 4 + 1 + 4)
	p2wpkhWitness = 1 + 1 + 72 + 1 + 33
	p2trWitness   = 1 + 1 + 64
	p2wpkhInputWU = txInBaseWU + p2wpkhWitness
	p2trInputWU   = txInBaseWU + p2trWitness
	segwitFlagWU  = 2
	// MaxStandardWeight is the largest transaction nodes relay.
	MaxStandardWeight = 400_000
)

// inputWeight is the weight of the input spending script; ok is false for
// a script this package cannot size (anything but p2wpkh and p2tr).
func inputWeight(script []byte) (wu int64, ok bool) {
	switch {
	case txscript.IsPayToWitnessPubKeyHash(script):
		return p2wpkhInputWU, true
	case txscript.IsPayToTaproot(script):
		return p2trInputWU, true
	}
	return 0, false
}

func outputWeight(script []byte) int64 {
	return int64(4 * (8 + wire.VarIntSerializeSize(uint64(len(script))) + len(script)))
}

// overheadWeight is everything but the inputs and outputs of a segwit
// transaction with nIn inputs and nOut outputs.
func overheadWeight(nIn, nOut int) int64 {
	return int64(4*(4+4+wire.VarIntSerializeSize(uint64(nIn))+wire.VarIntSerializeSize(uint64(nOut)))) + segwitFlagWU
}

// vsizeOf rounds a weight up to virtual bytes.
func vsizeOf(wu int64) int64 { return (wu + 3) / 4 }

// feeFor is the fee of vsize vbytes at rate sat/kvB, rounded up.
func feeFor(rate, vsize int64) int64 { return ceilDiv(rate*vsize, 1000) }

// feeForWeight is the fee of wu weight units at rate, rounded up: the
// fee of a part of a transaction.
func feeForWeight(rate, wu int64) int64 { return ceilDiv(rate*wu, 4000) }

func ceilDiv(a, b int64) int64 {
	if a <= 0 {
		return -((-a) / b)
	}
	return (a + b - 1) / b
}

// DustLimit is the smallest amount an output paying script may carry and
// still be relayed (Bitcoin Core's 3 sat/vB dust rule, btcd's at its
// default 1 sat/vB minimum relay rate): 294 sat for p2wpkh, 330 for p2tr.
func DustLimit(script []byte) int64 {
	return int64(mempool.GetDustThreshold(wire.NewTxOut(0, script)))
}
