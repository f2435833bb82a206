package bbqr

import (
	"math/rand/v2"
	"testing"
)

func benchPSBT() []byte {
	rng := rand.New(rand.NewPCG(3, 4))
	b := append([]byte("psbt\xff"), make([]byte, 10_000-5)...)
	for i := 5; i < len(b); i++ {
		b[i] = byte(rng.IntN(256))
	}
	return b
}

// benchVersion is a QR code a phone or the Coldcard Q reads easily.
const benchVersion = 20

func BenchmarkSplit10kB(b *testing.B) {
	psbt := benchPSBT()
	b.SetBytes(int64(len(psbt)))
	for b.Loop() {
		if _, err := Split(psbt, FilePSBT, Base32, MaxCharsForVersion(benchVersion)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJoin10kB(b *testing.B) {
	psbt := benchPSBT()
	parts, err := Split(psbt, FilePSBT, Base32, MaxCharsForVersion(benchVersion))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(psbt)))
	for b.Loop() {
		if _, data, err := Join(parts); err != nil || len(data) != len(psbt) {
			b.Fatal("not joined", err)
		}
	}
}
