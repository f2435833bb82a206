package ur

import (
	"bytes"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// Random messages from 1 byte to 100 kB: encode, shuffle the first round
// of parts, lose some, add fountain parts and repeats, and decode in mixed
// letter case.
func TestRoundTripShuffledWithLoss(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{1, 2, 9, 10, 11, 99, 500, 4_321, 10_000, 100_000} {
		for _, maxFragmentLen := range []int{10, 100, 500} {
			if size/maxFragmentLen > 2000 {
				continue // keep the test fast; the decoder vector covers long runs
			}
			msg := make([]byte, size)
			for i := range msg {
				msg[i] = byte(rng.IntN(256))
			}
			u := PSBTToUR(msg)
			e, err := NewEncoder(u, maxFragmentLen)
			if err != nil {
				t.Fatal(err)
			}
			parts := make([]string, e.SeqLen())
			for i := range parts {
				parts[i] = e.NextPart()
			}
			rng.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
			if len(parts) > 1 {
				parts = parts[:len(parts)-1-rng.IntN(len(parts)/3+1)] // lose up to a third, at least one
			}
			d := NewDecoder()
			feed := func(p string) {
				if rng.IntN(2) == 0 {
					p = strings.ToUpper(p)
				}
				if err := d.Receive(p); err != nil {
					t.Fatalf("size %d, fragments ≤ %d: %v", size, maxFragmentLen, err)
				}
			}
			for i, p := range parts {
				feed(p)
				if i%7 == 0 {
					feed(p) // a frame seen twice
				}
			}
			var last float64
			for extra := 0; !d.Complete(); extra++ {
				if extra > 3*e.SeqLen()+20 {
					t.Fatalf("size %d, fragments ≤ %d: not complete after %d extra parts", size, maxFragmentLen, extra)
				}
				feed(e.NextPart())
				if p := d.EstimatedPercentComplete(); p < last || p > 1 {
					t.Fatalf("estimate went from %v to %v", last, p)
				} else {
					last = p
				}
			}
			got, err := d.Result()
			if err != nil {
				t.Fatal(err)
			}
			psbt, err := PSBTFromUR(got)
			if err == nil || !bytes.Equal(got.CBOR, u.CBOR) {
				// Random bytes lack the PSBT magic: PSBTFromUR must say so,
				// and the CBOR must be intact.
				t.Fatalf("size %d: %x, %v", size, psbt, err)
			}
			if have, need := d.Progress(); have != need || d.EstimatedPercentComplete() != 1 {
				t.Fatalf("complete at %d/%d, %v", have, need, d.EstimatedPercentComplete())
			}
		}
	}
}

// A tiny part claiming the largest message allowed must not make the
// decoder allocate anything like that message.
func TestHostileHeaderAllocatesLittle(t *testing.T) {
	p := fountainPart{seqNum: MaxSeqLen + 5, seqLen: MaxSeqLen, messageLen: MaxMessageLen, checksum: 1, data: make([]byte, MaxMessageLen/MaxSeqLen)}
	text := partText("bytes", p)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	d := NewDecoder()
	if err := d.Receive(text); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if grown := after.TotalAlloc - before.TotalAlloc; grown > MaxMessageLen/2 {
		t.Fatalf("one %d-character part made the decoder allocate %d bytes", len(text), grown)
	}
	if have, need := d.Progress(); have != 0 || need != MaxSeqLen {
		t.Fatalf("progress %d/%d", have, need)
	}
}

// A long stream of mixed parts that cannot complete the message (every part
// that carries a fragment alone is withheld) keeps what the decoder holds
// within its bounds.
func TestMixedPartsBounded(t *testing.T) {
	msg := make([]byte, 5_000)
	e, err := newFountainEncoder(msg, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	var d fountainDecoder
	for i := 0; i < 6*e.seqLen(); i++ {
		p := e.nextPart()
		if int(p.seqNum) <= e.seqLen() || len(chooseFragments(p.seqNum, e.seqLen(), e.checksum, e.degrees)) == 1 {
			continue // withhold every part that carries a fragment alone
		}
		if err := d.receive(p); err != nil {
			t.Fatal(err)
		}
		if d.kept > d.maxKept() || d.entries > maxWaitingEntries || len(d.seen) > d.maxSeen() {
			t.Fatalf("%d mixed parts kept, %d waiting entries, %d seen", d.kept, d.entries, len(d.seen))
		}
	}
	if d.done() || d.kept != d.maxKept() {
		t.Fatalf("the bound was not reached: %d of %d kept", d.kept, d.maxKept())
	}
}
