package sign

import (
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/chaincfg/chainhash"

	"github.com/cryptoassets/cryptoassets/internal/psbttest"
	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
	"github.com/cryptoassets/cryptoassets/shared/psbt"
)

// A 500-input top-up signed end to end (review, sign, finalize, script
// check), reported per signature beside btcec's raw ECDSA and Schnorr
// signing measured in the same run.
//
//	go test ./offline-signer/sign -run '^$' -bench Sign500 -benchtime 3x
func BenchmarkSign500(b *testing.B) {
	cold, hot := coldWallet(b), hotWallet(b)
	const n = 500
	var coins []psbttest.Coin
	for i := 0; i < n; i++ {
		acct := cold.WPKH
		if i%2 == 1 {
			acct = cold.TR
		}
		d := derive(b, acct, 0, uint32(i))
		prev := psbttest.FakeFunding(map[*hdkeys.Derived]int64{d: 10_000}, []*hdkeys.Derived{d})
		prev.LockTime = uint32(i) // each coin its own previous transaction
		coins = append(coins, psbttest.Coin{Prev: prev, Vout: 0, Key: d})
	}
	base := psbttest.TopUpFrom(b, coins, derive(b, hot.WPKH, 0, 0), derive(b, cold.WPKH, 1, 0), n*10_000-100_000, 40_000)
	raw, err := psbt.EncodeBinary(base)
	if err != nil {
		b.Fatal(err)
	}
	pol := testPolicy(b, hot, nil)
	s := &Signer{Master: cold.Master, Policy: pol}

	// Baselines: raw signing of a 32-byte digest with the same kind of key.
	key, _ := btcec.NewPrivateKey()
	digest := chainhash.HashB([]byte("baseline"))
	const rounds = 200
	t0 := time.Now()
	for i := 0; i < rounds; i++ {
		_ = ecdsa.Sign(key, digest)
	}
	ecdsaPer := time.Since(t0) / rounds
	t0 = time.Now()
	for i := 0; i < rounds; i++ {
		if _, err := schnorr.Sign(key, digest); err != nil {
			b.Fatal(err)
		}
	}
	schnorrPer := time.Since(t0) / rounds
	rawMix := (ecdsaPer + schnorrPer) / 2 // the PSBT is half p2wpkh, half p2tr

	b.ResetTimer()
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		p, err := psbt.Decode(raw, psbt.DefaultMaxSize)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		r, err := s.Review(p)
		if err != nil {
			b.Fatal(err)
		}
		complete, err := s.Sign(p, r)
		if err != nil || !complete {
			b.Fatalf("complete %v: %v", complete, err)
		}
		elapsed += time.Since(start)
	}
	per := elapsed / time.Duration(b.N*n)
	b.ReportMetric(float64(per.Microseconds()), "µs/signature")
	b.ReportMetric(float64(ecdsaPer.Microseconds()), "raw-ecdsa-µs")
	b.ReportMetric(float64(schnorrPer.Microseconds()), "raw-schnorr-µs")
	b.ReportMetric(float64(per)/float64(rawMix), "ratio-to-raw")
}

// Any bytes: decoding, review and (when review passes) signing never panic,
// and nothing is signed that review refused.
func FuzzReviewAndSign(f *testing.F) {
	cold, hot := coldWallet(f), hotWallet(f)
	in1, in2 := derive(f, cold.WPKH, 0, 1), derive(f, cold.TR, 0, 2)
	prev := psbttest.FakeFunding(map[*hdkeys.Derived]int64{in1: 1_000_000, in2: 500_000}, []*hdkeys.Derived{in1, in2})
	p := psbttest.TopUp(f, prev, map[int]*hdkeys.Derived{0: in1, 1: in2}, derive(f, hot.WPKH, 0, 5), derive(f, cold.WPKH, 1, 4), 1_200_000, 1_500)
	raw, _ := psbt.EncodeBinary(p)
	f.Add(raw)
	f.Add(raw[:len(raw)/2])
	s := &Signer{Master: cold.Master, Policy: testPolicy(f, hot, nil)}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := psbt.Decode(data, 1<<16)
		if err != nil {
			return
		}
		r, err := s.Review(p)
		if err != nil {
			return
		}
		if _, err := s.Sign(p, r); err != nil {
			return
		}
		if _, err := s.Review(p); err == nil && p.IsComplete() {
			t.Fatal("a complete PSBT passed review again")
		}
	})
}
