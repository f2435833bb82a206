package ur

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// fuzzPool is genuine parts of several messages, for FuzzURDecoder to
// feed in any order: message 0 and 1 are the same type and size but differ
// in content, message 2 is another type, message 3 a single-part UR.
type fuzzPoolPart struct {
	text    string
	message int
}

func fuzzPool(t testing.TB) (pool []fuzzPoolPart, messages []UR) {
	v := loadVectors(t)
	jade := v.UR.Multi[1]
	messages = []UR{
		makeMessageUR(256, "Wolf"),
		makeMessageUR(256, "Fox"),
		{Type: jade.Type, CBOR: unhex(t, jade.CBOR)},
		makeMessageUR(50, "Wolf"),
	}
	for i, m := range messages {
		maxFragmentLen := 30
		if i == 2 {
			maxFragmentLen = jade.MaxFragmentLen
		}
		if i == 3 {
			maxFragmentLen = 1000
		}
		e, err := NewEncoder(m, maxFragmentLen)
		if err != nil {
			t.Fatal(err)
		}
		n := 3 * e.SeqLen()
		if e.IsSinglePart() {
			n = 1
		}
		for range n {
			pool = append(pool, fuzzPoolPart{e.NextPart(), i})
		}
	}
	return pool, messages
}

// FuzzURDecoder feeds a Decoder a sequence of parts: ops picks genuine
// parts of several messages (fuzzPool) in any order, or, past the pool, the
// next line of text, which the fuzzer mutates freely. The decoder must
// never panic and keep its counters sane; genuine parts of the message it
// started with must be accepted, parts of any other message refused with
// ErrMixedMessages; a result from genuine parts alone must be that message.
// Each line of text must also survive Decode, and what Decode accepts must
// be the canonical spelling of what Encode writes.
func FuzzURDecoder(f *testing.F) {
	pool, messages := fuzzPool(f)
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8}, "")
	f.Add([]byte{26, 20, 11, 9, 0, 15, 13, 12, 255}, "ur:bytes/1-9/lpadascfadaxcywenbpljkhdcahkadaemejtswhhylkepmykhhtsytsnoyoyaxaedsuttydmmhhpktpmsrjtdkgslpgh")
	f.Add([]byte{54, 60, 55}, "")
	f.Add([]byte{byte(len(pool) - 1), 0}, "")
	for _, s := range loadVectors(f).UR.Single {
		if s.UR != "" {
			f.Add([]byte{255}, s.UR)
		}
	}
	for _, iv := range loadVectors(f).UR.Invalid {
		f.Add([]byte{0, 255, 1}, iv.Input)
	}
	// A part promising the largest message: a small fragment keeps the seed
	// short (the fuzzer spends long minimizing long inputs).
	f.Add([]byte{255}, partText("bytes", fountainPart{seqNum: MaxSeqLen + 5, seqLen: MaxSeqLen, messageLen: 3 * MaxSeqLen, checksum: 1, data: make([]byte, 3)}))

	f.Fuzz(func(t *testing.T, ops []byte, text string) {
		if len(ops) > 300 {
			ops = ops[:300]
		}
		lines := strings.Split(text, "\n")
		nextLine := 0
		d := NewDecoder()
		first, onlyGenuine := -1, true
		for _, op := range ops {
			var err error
			if int(op) < len(pool) {
				p := pool[op]
				err = d.Receive(p.text)
				switch {
				case first == -2: // the fuzzer's text started a message: no expectation
				case first == -1 && err == nil:
					first = p.message
				case first == -1:
					t.Fatalf("the first genuine part refused: %v", err)
				case p.message == first && err != nil && !errors.Is(err, ErrChecksum):
					t.Fatalf("a genuine part of the message being decoded refused: %v", err)
				case p.message != first && !errors.Is(err, ErrMixedMessages):
					t.Fatalf("a part of message %d accepted while decoding message %d: %v", p.message, first, err)
				}
			} else {
				line := lines[nextLine%len(lines)]
				nextLine++
				err = d.Receive(line)
				if err == nil {
					onlyGenuine = false
					if first == -1 {
						first = -2 // a message from the fuzzer's text
					}
				}
				if u, err := Decode(line); err == nil {
					again, err := Encode(u)
					if err != nil || again != strings.ToLower(strings.TrimSpace(line)) {
						t.Fatalf("Decode accepted %q, Encode writes %q (%v)", line, again, err)
					}
				}
			}
			if err != nil && !errors.Is(err, ErrInvalidPart) && !errors.Is(err, ErrChecksum) &&
				!errors.Is(err, ErrMixedMessages) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error outside the documented kinds: %v", err)
			}
			have, need := d.Progress()
			if have < 0 || have > need || need > MaxSeqLen {
				t.Fatalf("progress %d/%d", have, need)
			}
			if e := d.EstimatedPercentComplete(); e < 0 || e > 1 || e == 1 && !d.Complete() {
				t.Fatalf("estimate %v", e)
			}
		}
		u, err := d.Result()
		if err != nil {
			return
		}
		if !d.Complete() || len(u.CBOR) == 0 || len(u.CBOR) > MaxMessageLen || !validType(u.Type) {
			t.Fatalf("result %q of %d bytes", u.Type, len(u.CBOR))
		}
		if onlyGenuine && (u.Type != messages[first].Type || !bytes.Equal(u.CBOR, messages[first].CBOR)) {
			t.Fatalf("genuine parts of message %d decoded to something else", first)
		}
	})
}

// FuzzBytewords checks that every style round-trips any bytes, and that
// what decodes is exactly what encoding would have written.
func FuzzBytewords(f *testing.F) {
	v := loadVectors(f)
	for _, tc := range v.Bytewords.Vectors {
		f.Add([]byte(tc.Minimal), tc.Standard)
		f.Add([]byte(tc.URI), tc.Minimal)
	}
	for _, tc := range v.Bytewords.Invalid {
		f.Add([]byte(tc.Input), tc.Input)
	}
	f.Fuzz(func(t *testing.T, data []byte, text string) {
		for _, style := range []bytewordStyle{styleStandard, styleURI, styleMinimal} {
			encoded := encodeBytewords(data, style)
			back, err := decodeBytewords(encoded, style)
			if len(data) == 0 {
				if err == nil {
					t.Fatal("an empty payload decoded")
				}
			} else if err != nil || !bytes.Equal(back, data) {
				t.Fatalf("style %d: %x -> %q -> %x, %v", style, data, encoded, back, err)
			}
			if payload, err := decodeBytewords(text, style); err == nil {
				if again := encodeBytewords(payload, style); again != strings.ToLower(text) {
					t.Fatalf("style %d: %q decodes but encodes back as %q", style, text, again)
				}
			}
		}
	})
}
