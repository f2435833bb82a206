package coinselect

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
)

// p2wpkh and p2tr return distinct well-formed scripts of each type (no
// key behind them: sizing needs only the script's form).
func p2wpkh(n uint32) []byte {
	s := make([]byte, 22)
	s[0], s[1] = txscript.OP_0, 20
	binary.BigEndian.PutUint32(s[2:], n)
	return s
}

func p2tr(n uint32) []byte {
	s := make([]byte, 34)
	s[0], s[1] = txscript.OP_1, 32
	binary.BigEndian.PutUint32(s[2:], n)
	return s
}

var nextCoin uint32

// coin is a confirmed p2wpkh coin of amount with a fresh outpoint.
func coin(amount int64) Coin {
	nextCoin++
	var op wire.OutPoint
	binary.BigEndian.PutUint32(op.Hash[:], nextCoin)
	return Coin{OutPoint: op, Amount: amount, Script: p2wpkh(nextCoin), Confirmed: true}
}

func taprootCoin(amount int64) Coin {
	c := coin(amount)
	c.Script = p2tr(nextCoin)
	return c
}

func pay(amounts ...int64) []Output {
	outs := make([]Output, len(amounts))
	for i, a := range amounts {
		outs[i] = Output{Script: p2wpkh(1_000_000 + uint32(i)), Amount: a}
	}
	return outs
}

// signedVSize is the vsize of tx once every input carries the largest
// witness its script takes (a 72-byte ECDSA signature and a 33-byte key,
// or a 64-byte Schnorr signature), computed by btcd's own weight rule.
func signedVSize(t testing.TB, tx *wire.MsgTx, coins []Coin) int64 {
	t.Helper()
	tx = tx.Copy()
	for i := range tx.TxIn {
		switch s := coins[i].Script; {
		case txscript.IsPayToWitnessPubKeyHash(s):
			tx.TxIn[i].Witness = wire.TxWitness{make([]byte, 72), make([]byte, 33)}
		case txscript.IsPayToTaproot(s):
			tx.TxIn[i].Witness = wire.TxWitness{make([]byte, 64)}
		default:
			t.Fatalf("input %d: unexpected script %x", i, s)
		}
	}
	w := blockchain.GetTransactionWeight(btcutil.NewTx(tx))
	return (w + 3) / 4
}

// checkSelection checks every promise a Selection makes, against the
// coins and outputs it was chosen for.
func checkSelection(t testing.TB, coins []Coin, outs []Output, p Params, sel Selection) {
	t.Helper()
	known := map[wire.OutPoint]Coin{}
	for _, c := range coins {
		known[c.OutPoint] = c
	}
	required := map[wire.OutPoint]bool{}
	for _, c := range p.Required {
		known[c.OutPoint] = c
		required[c.OutPoint] = true
	}
	seen := map[wire.OutPoint]bool{}
	var in, out int64
	for _, c := range sel.Inputs {
		k, ok := known[c.OutPoint]
		if !ok || k.Amount != c.Amount || !bytes.Equal(k.Script, c.Script) {
			t.Fatalf("input %v is not one of the coins given", c.OutPoint)
		}
		if seen[c.OutPoint] {
			t.Fatalf("input %v selected twice", c.OutPoint)
		}
		seen[c.OutPoint] = true
		if !c.Confirmed && !c.Change {
			t.Fatalf("input %v is unconfirmed and not our change", c.OutPoint)
		}
		in += c.Amount
	}
	for op := range required {
		if !seen[op] {
			t.Fatalf("required coin %v not spent", op)
		}
	}
	for _, o := range outs {
		out += o.Amount
	}
	if in != out+sel.Change+sel.Fee {
		t.Fatalf("inputs %d != outputs %d + change %d + fee %d", in, out, sel.Change, sel.Fee)
	}
	if need := (p.FeeRate*sel.VSize + 999) / 1000; sel.Fee < need {
		t.Fatalf("fee %d below %d sat/kvB × %d vB = %d", sel.Fee, p.FeeRate, sel.VSize, need)
	}
	minChange := p.MinChange
	if minChange == 0 {
		minChange = DustLimit(p.ChangeScript)
	}
	if sel.Change != 0 && sel.Change < minChange {
		t.Fatalf("change %d below the minimum %d", sel.Change, minChange)
	}
	if sel.Algorithm == AlgorithmBnB && sel.Change != 0 {
		t.Fatalf("a bnb selection has change %d", sel.Change)
	}
	if sel.Algorithm == AlgorithmBnB {
		// Changeless only when the excess is no more than a change output
		// would cost now and to spend later.
		spend := int64(4*41 + 1 + 1 + 64)
		if txscript.IsPayToWitnessPubKeyHash(p.ChangeScript) {
			spend = 4*41 + 1 + 1 + 72 + 1 + 33
		}
		lt := p.LongTermFeeRate
		if lt == 0 {
			lt = DefaultLongTermFeeRate
		}
		costOfChange := (p.FeeRate*int64(4*(8+1+len(p.ChangeScript))) + lt*spend + 3999) / 4000
		if excess := sel.Fee - (p.FeeRate*sel.VSize+999)/1000; excess > costOfChange {
			t.Fatalf("bnb: excess %d over the cost of change %d", excess, costOfChange)
		}
	}
	if sel.Algorithm != AlgorithmBnB && sel.Algorithm != AlgorithmTxAuthor {
		t.Fatalf("algorithm %q", sel.Algorithm)
	}
	if p.MaxFee > 0 && sel.Fee > p.MaxFee {
		t.Fatalf("fee %d over the cap %d", sel.Fee, p.MaxFee)
	}
	if p.MaxFeeRatio > 0 && float64(sel.Fee) > p.MaxFeeRatio*float64(out) {
		t.Fatalf("fee %d over %v of %d", sel.Fee, p.MaxFeeRatio, out)
	}
	tx, changeVout, err := AssembleWith(sel, outs, p.ChangeScript, 800_000, func(n int) int { return n / 2 })
	if err != nil {
		t.Fatalf("Assemble: %v", err)
	}
	if (changeVout >= 0) != (sel.Change > 0) || len(tx.TxOut) != len(outs)+btoi(sel.Change > 0) {
		t.Fatalf("change %d but change vout %d of %d outputs", sel.Change, changeVout, len(tx.TxOut))
	}
	ordered := make([]Coin, len(tx.TxIn))
	for i, txin := range tx.TxIn {
		ordered[i] = known[txin.PreviousOutPoint]
	}
	if got := signedVSize(t, tx, ordered); got != sel.VSize {
		t.Fatalf("VSize %d, the signed transaction's is %d", sel.VSize, got)
	}
	if w := 4 * sel.VSize; w > MaxStandardWeight+3 {
		t.Fatalf("vsize %d is over the standard weight", sel.VSize)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
