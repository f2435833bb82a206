package psbt

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"testing"

	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/chaincfg"
)

// fuzzSeeds are real PSBTs at each stage, in each text form, the published
// PSBTs, and a few malformed ones.
func fuzzSeeds(f *testing.F) {
	w := loadVectorWallet(f)
	signed := fixture(f, w)
	signFixture(f, w, signed, false)
	final := fixture(f, w)
	signFixture(f, w, final, true)
	noPrevTx := fixture(f, w)
	noPrevTx.Inputs[0].NonWitnessUtxo = nil
	for _, p := range []*btcpsbt.Packet{fixture(f, w), signed, final, noPrevTx} {
		b := mustEncode(f, p)
		f.Add(b)
		f.Add([]byte(base64.StdEncoding.EncodeToString(b)))
		f.Add([]byte(hex.EncodeToString(b)))
		f.Add(b[:len(b)/2])
	}
	for _, v := range loadPublishedPSBTs(f) {
		f.Add([]byte(v.Base64))
	}
	tx := kvp{[]byte{0x00}, legacyTx(f, simpleTx(1, 1))}
	f.Add(rawPSBT([]kvp{tx}, [][]kvp{{}}, [][]kvp{{}}))
	f.Add(rawPSBT([]kvp{{[]byte{0xfb}, le32(2)}, {[]byte{0x02}, le32(2)}}, nil, nil))
	f.Add(rawPSBT([]kvp{tx, tx}, [][]kvp{{}}, [][]kvp{{}}))
	f.Add(rawPSBT([]kvp{tx}, [][]kvp{{{[]byte{0x06, 0x02}, nil}}}, [][]kvp{{}}))
	f.Add(append(rawPSBT([]kvp{tx}, [][]kvp{{}}, [][]kvp{{}}), 0x00))
	f.Add([]byte("cHNidP8BAA=="))
	f.Add([]byte("70736274ff"))
	f.Add(magic)
}

// decodeErrors are the sentinels every Decode error must wrap.
var decodeErrors = []error{ErrTooLarge, ErrMalformed, ErrVersion2, ErrDuplicateKey, ErrTrailingData, ErrTooManyFields}

func isOneOf(err error, targets []error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

// FuzzDecode: Decode never panics, every refusal wraps a sentinel, and what
// it accepts re-encodes to bytes that decode and re-encode unchanged.
func FuzzDecode(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Decode(data, 0)
		if err != nil {
			if !isOneOf(err, decodeErrors) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		first, err := EncodeBinary(p)
		if err != nil {
			t.Fatalf("accepted PSBT does not encode: %v", err)
		}
		again, err := Decode(first, 0)
		if err != nil {
			t.Fatalf("re-encoded PSBT is refused: %v\n%x", err, first)
		}
		second, err := EncodeBinary(again)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, second) {
			t.Fatalf("re-encoding is not stable:\n%x\n%x", first, second)
		}
	})
}

// FuzzSummarize: whatever Decode accepts, Summarize never panics, refuses
// only with its sentinels, and keeps its arithmetic consistent.
func FuzzSummarize(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Decode(data, 0)
		if err != nil {
			return
		}
		s, err := Summarize(p, &chaincfg.MainNetParams)
		if err != nil {
			if !isOneOf(err, []error{ErrUTXOMismatch, ErrNegativeFee, ErrMalformed}) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		if s.FeeKnown && (s.Fee != s.TotalIn-s.TotalOut || s.Fee < 0) {
			t.Fatalf("fee %d from %d in and %d out", s.Fee, s.TotalIn, s.TotalOut)
		}
		if s.FeeVerified && !s.FeeKnown {
			t.Fatal("fee verified but unknown")
		}
		if s.EstimatedVSize <= 0 || s.FeeRateSatPerKvB < 0 {
			t.Fatalf("size %d, rate %d", s.EstimatedVSize, s.FeeRateSatPerKvB)
		}
		if len(s.Text()) == 0 {
			t.Fatal("empty review text")
		}
	})
}
