package transport

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cryptoassets/cryptoassets/shared/psbt/bbqr"
	"github.com/cryptoassets/cryptoassets/shared/psbt/ur"
)

// fakePSBT is random bytes behind the PSBT magic (transport does not parse).
func fakePSBT(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 3))
	b := append([]byte("psbt\xff"), make([]byte, n)...)
	for i := 5; i < len(b); i++ {
		b[i] = byte(rng.IntN(256))
	}
	return b
}

func TestRoundTripShuffledWithRepeats(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, f := range []Format{UR, BBQr} {
		for _, d := range []Density{Low, Medium, High} {
			for _, size := range []int{100, 3_000, 100_000} {
				psbt := fakePSBT(size, uint64(size))
				frames, err := Frames(psbt, f, d)
				if err != nil {
					t.Fatal(err)
				}
				for _, fr := range frames {
					if fr != strings.ToUpper(fr) {
						t.Fatalf("%v: frame not upper case", f)
					}
				}
				order := append(append([]string{}, frames...), frames[:len(frames)/3]...)
				rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
				a := NewAssembler()
				for _, fr := range order {
					if err := a.Add(fr); err != nil {
						t.Fatalf("%v %d: %v", f, size, err)
					}
				}
				got, err := a.PSBT()
				if err != nil || !bytes.Equal(got, psbt) {
					t.Fatalf("%v density %d size %d: %v", f, d, size, err)
				}
			}
		}
	}
}

func TestURSurvivesLostFrames(t *testing.T) {
	psbt := fakePSBT(20_000, 1)
	frames, _ := Frames(psbt, UR, Medium)
	a := NewAssembler()
	for i, fr := range frames {
		if i%5 == 2 { // every fifth frame unreadable
			continue
		}
		if err := a.Add(fr); err != nil {
			t.Fatal(err)
		}
	}
	if !a.Complete() {
		have, need := a.Progress()
		t.Fatalf("incomplete: %d of %d", have, need)
	}
}

func TestRefusals(t *testing.T) {
	one, _ := Frames(fakePSBT(3_000, 1), UR, Low)
	two, _ := Frames(fakePSBT(3_000, 2), UR, Low)
	bb, _ := Frames(fakePSBT(3_000, 1), BBQr, Low)
	a := NewAssembler()
	if err := a.Add(one[0]); err != nil {
		t.Fatal(err)
	}
	if err := a.Add(two[1]); !errors.Is(err, ur.ErrMixedMessages) {
		t.Fatalf("frames of two PSBTs: %v", err)
	}
	if err := a.Add(bb[0]); !errors.Is(err, ErrMixedFormats) {
		t.Fatalf("two formats: %v", err)
	}
	if err := a.Add("hello"); err == nil {
		t.Fatal("garbage accepted")
	}
	if _, err := a.PSBT(); err == nil || !strings.Contains(err.Error(), "incomplete") {
		t.Fatalf("incomplete: %v", err)
	}
	text, _ := bbqr.Split([]byte("not a psbt"), bbqr.FileText, bbqr.Hex, 100)
	b := NewAssembler()
	for _, fr := range text {
		if err := b.Add(fr); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.PSBT(); err == nil {
		t.Fatal("a text file is not a PSBT")
	}
	if _, err := ParseFormat("qr"); err == nil {
		t.Fatal("unknown format")
	}
	if _, err := ParseDensity("max"); err == nil {
		t.Fatal("unknown density")
	}
}

func FuzzAssembler(f *testing.F) {
	frames, _ := Frames(fakePSBT(500, 1), UR, Low)
	f.Add(strings.Join(frames, "\n"))
	bb, _ := Frames(fakePSBT(500, 1), BBQr, Low)
	f.Add(strings.Join(bb, "\n"))
	f.Fuzz(func(t *testing.T, s string) {
		a := NewAssembler()
		for _, fr := range strings.Split(s, "\n") {
			_ = a.Add(fr)
		}
		if a.Complete() {
			_, _ = a.PSBT()
		}
	})
}
