package ur

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"
)

func TestSinglePartVectors(t *testing.T) {
	v := loadVectors(t)
	if len(v.UR.Single) != 5 {
		t.Fatalf("%d single-part vectors, want 5", len(v.UR.Single))
	}
	for _, tc := range v.UR.Single {
		t.Run(tc.Name, func(t *testing.T) {
			checked := 0
			if tc.Name == "test_single_part_ur" {
				// The CBOR is make_message_ur(50).
				if got := hex.EncodeToString(makeMessageUR(50, "Wolf").CBOR); got != tc.CBOR {
					t.Fatalf("make_message_ur(50) = %s", got)
				}
				checked++
			}
			if tc.Expected != "" {
				u := UR{Type: tc.Type, CBOR: unhex(t, tc.CBOR)}
				if got, err := Encode(u); err != nil || got != tc.Expected {
					t.Fatalf("Encode: %s, %v\nwant %s", got, err, tc.Expected)
				}
				e, err := NewEncoder(u, 1000)
				if err != nil || !e.IsSinglePart() || e.SeqLen() != 1 {
					t.Fatalf("NewEncoder: %v", err)
				}
				for range 2 { // a single part repeats
					if got := e.NextPart(); got != tc.Expected {
						t.Fatalf("NextPart: %s", got)
					}
				}
				for _, text := range []string{tc.Expected, strings.ToUpper(tc.Expected)} {
					back, err := Decode(text)
					if err != nil || back.Type != tc.Type || !bytes.Equal(back.CBOR, u.CBOR) {
						t.Fatalf("Decode(%s): %+v, %v", text, back, err)
					}
					d := NewDecoder()
					if err := d.Receive(text); err != nil || !d.Complete() {
						t.Fatalf("Decoder: %v", err)
					}
					if got, err := d.Result(); err != nil || got.Type != tc.Type || !bytes.Equal(got.CBOR, u.CBOR) {
						t.Fatalf("Decoder result: %+v, %v", got, err)
					}
				}
				checked++
			}
			if tc.UR != "" {
				u, err := Decode(tc.UR)
				if err != nil || u.Type != tc.Type || hex.EncodeToString(u.CBOR) != tc.Decoded {
					t.Fatalf("Decode: %x, %v", u.CBOR, err)
				}
				checked++
			}
			if tc.AlsoV2 != "" { // the 2025 registry's name for the same body
				u, err := Decode(tc.AlsoV2)
				if err != nil || u.Type != strings.TrimPrefix(tc.Type, "crypto-") || hex.EncodeToString(u.CBOR) != tc.CBOR {
					t.Fatalf("Decode v2: %+v, %v", u, err)
				}
				checked++
			}
			if tc.PSBT != "" {
				psbt := unhex(t, tc.PSBT)
				u := PSBTToUR(psbt)
				if u.Type != TypeCryptoPSBT || hex.EncodeToString(u.CBOR) != tc.CBOR {
					t.Fatalf("PSBTToUR: %s %x", u.Type, u.CBOR)
				}
				for _, text := range []string{tc.Expected, tc.V2} {
					u, err := Decode(text)
					if err != nil {
						t.Fatal(err)
					}
					got, err := PSBTFromUR(u)
					if err != nil || !bytes.Equal(got, psbt) {
						t.Fatalf("PSBTFromUR(%s...): %v", text[:20], err)
					}
				}
				checked++
			}
			if checked == 0 {
				t.Fatal("vector not understood")
			}
		})
	}
}

func TestMultiPartVectors(t *testing.T) {
	v := loadVectors(t)
	if len(v.UR.Multi) != 4 {
		t.Fatalf("%d multi-part vectors, want 4", len(v.UR.Multi))
	}
	for _, tc := range v.UR.Multi {
		t.Run(tc.Name, func(t *testing.T) {
			switch tc.Name {
			case "test_ur_encoder":
				testReferenceEncoder(t, tc.Parts, tc.MaxFragmentLen, tc.SeqLen, tc.MessageLen, tc.Checksum)
			case "Jade crypto-psbt 2-part (upper case, as shown in QR alphanumeric mode)":
				testJadeTwoParts(t, UR{Type: tc.Type, CBOR: unhex(t, tc.CBOR)}, tc.MaxFragmentLen, tc.Parts, tc.ThirdPartPrefix)
			case "BCR-2020-005 multi-part fragment example":
				p, err := parsePart(tc.UR)
				if err != nil || hex.EncodeToString(p.payload) != tc.PartCBOR {
					t.Fatalf("part CBOR %x, %v", p.payload, err)
				}
				fp, err := decodePartCBOR(p.payload)
				want := tc.DerivedPartFields
				if err != nil || fp.seqNum != want.SeqNum || fp.seqLen != want.SeqLen || fp.messageLen != want.MessageLen || fmt.Sprintf("%08x", fp.checksum) != want.ChecksumHex {
					t.Fatalf("fields %+v, %v", fp, err)
				}
				d := NewDecoder()
				if err := d.Receive(tc.UR); err != nil {
					t.Fatal(err)
				}
				if got, need := d.Progress(); got != 1 || need != 13 || d.Complete() {
					t.Fatalf("progress %d/%d", got, need)
				}
			case "test_multipart_ur roundtrip":
				u := makeMessageUR(32767, "Wolf")
				e, err := newEncoder(u, tc.MaxFragmentLen, tc.FirstSeqNum)
				if err != nil {
					t.Fatal(err)
				}
				d := NewDecoder()
				for n := 0; !d.Complete(); n++ {
					if n > 3*e.SeqLen() {
						t.Fatalf("not complete after %d parts", n)
					}
					if err := d.Receive(e.NextPart()); err != nil {
						t.Fatal(err)
					}
				}
				got, err := d.Result()
				if err != nil || got.Type != u.Type || !bytes.Equal(got.CBOR, u.CBOR) {
					t.Fatalf("result: %v", err)
				}
			default:
				t.Fatal("vector not understood")
			}
		})
	}
}

func testReferenceEncoder(t *testing.T, want []string, maxFragmentLen, seqLen, messageLen int, checksum uint32) {
	u := makeMessageUR(256, "Wolf")
	if len(u.CBOR) != messageLen || crc32.ChecksumIEEE(u.CBOR) != checksum {
		t.Fatalf("make_message_ur(256): %d bytes, checksum %d", len(u.CBOR), crc32.ChecksumIEEE(u.CBOR))
	}
	e, err := NewEncoder(u, maxFragmentLen)
	if err != nil {
		t.Fatal(err)
	}
	if e.SeqLen() != seqLen || e.IsSinglePart() {
		t.Fatalf("seqLen %d", e.SeqLen())
	}
	if len(want) != 20 {
		t.Fatalf("%d parts", len(want))
	}
	for i, w := range want {
		if got := e.NextPart(); got != w {
			t.Fatalf("part %d: %s\nwant %s", i+1, got, w)
		}
	}
	// Decoding the published parts from the last backwards: the fountain
	// parts come first.
	d := NewDecoder()
	for i := len(want) - 1; i >= 0 && !d.Complete(); i-- {
		if err := d.Receive(want[i]); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := d.Result(); err != nil || !bytes.Equal(got.CBOR, u.CBOR) {
		t.Fatalf("decoding backwards: %v", err)
	}
}

func testJadeTwoParts(t *testing.T, u UR, maxFragmentLen int, want []string, thirdPrefix string) {
	e, err := NewEncoder(u, maxFragmentLen)
	if err != nil {
		t.Fatal(err)
	}
	if e.SeqLen() != 2 || len(want) != 2 {
		t.Fatalf("seqLen %d, %d published parts", e.SeqLen(), len(want))
	}
	parts := []string{e.NextPart(), e.NextPart(), e.NextPart()}
	for i, w := range want {
		if strings.ToUpper(parts[i]) != w {
			t.Fatalf("part %d: %s\nwant %s", i+1, parts[i], w)
		}
		parts[i] = w // decode the published upper-case text
	}
	if !strings.HasPrefix(strings.ToUpper(parts[2]), thirdPrefix) {
		t.Fatalf("third part %s", parts[2])
	}

	d := NewDecoder()
	if err := d.Receive(parts[0]); err != nil {
		t.Fatal(err)
	}
	if got, need := d.Progress(); got != 1 || need != 2 || d.Complete() {
		t.Fatalf("after part 1: %d/%d", got, need)
	}
	if err := d.Receive(parts[0]); err != nil {
		t.Fatalf("repeat: %v", err)
	}
	if got, _ := d.Progress(); got != 1 || d.Complete() {
		t.Fatal("a repeat changed the progress")
	}
	if _, err := d.Result(); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("result before completion: %v", err)
	}
	for _, pair := range [][2]int{{0, 1}, {1, 0}, {0, 2}, {2, 0}, {1, 2}, {2, 1}} {
		d := NewDecoder()
		for _, i := range pair {
			if err := d.Receive(parts[i]); err != nil {
				t.Fatalf("parts %v: %v", pair, err)
			}
		}
		got, err := d.Result()
		if err != nil || got.Type != u.Type || !bytes.Equal(got.CBOR, u.CBOR) || d.EstimatedPercentComplete() != 1 {
			t.Fatalf("parts %v: %v", pair, err)
		}
		if _, err := PSBTFromUR(got); err != nil {
			t.Fatalf("parts %v: %v", pair, err)
		}
	}
}

// Each published invalid part is refused by a fresh decoder, and by a
// decoder halfway through a message without disturbing it.
func TestInvalidVectors(t *testing.T) {
	v := loadVectors(t)
	if len(v.UR.Invalid) != 8 {
		t.Fatalf("%d invalid vectors, want 8", len(v.UR.Invalid))
	}
	var jade []string
	var jadeCBOR []byte
	for _, m := range v.UR.Multi {
		if strings.HasPrefix(m.Name, "Jade") {
			jade, jadeCBOR = m.Parts, unhex(t, m.CBOR)
		}
	}
	busy := NewDecoder()
	if err := busy.Receive(jade[0]); err != nil {
		t.Fatal(err)
	}
	for _, tc := range v.UR.Invalid {
		if _, err := Decode(tc.Input); !errors.Is(err, ErrInvalidPart) {
			t.Errorf("Decode(%q): %v", tc.Input, err)
		}
		if err := NewDecoder().Receive(tc.Input); !errors.Is(err, ErrInvalidPart) {
			t.Errorf("fresh decoder, %q: %v", tc.Input, err)
		}
		if err := busy.Receive(tc.Input); err == nil {
			t.Errorf("busy decoder accepted %q", tc.Input)
		}
		if got, need := busy.Progress(); got != 1 || need != 2 || busy.Complete() {
			t.Errorf("%q changed the decoder: %d/%d", tc.Input, got, need)
		}
	}
	if err := busy.Receive(jade[1]); err != nil {
		t.Fatal(err)
	}
	if got, err := busy.Result(); err != nil || !bytes.Equal(got.CBOR, jadeCBOR) {
		t.Fatalf("after the invalid parts: %v", err)
	}
}

// partText spells a fountain part as UR text, header values unchecked, for
// building hostile parts.
func partText(typ string, p fountainPart) string {
	return fmt.Sprintf("ur:%s/%d-%d/%s", typ, p.seqNum, p.seqLen, encodeBytewords(encodePartCBOR(p), styleMinimal))
}

func TestDecoderRefusesMalformedParts(t *testing.T) {
	good := fountainPart{seqNum: 1, seqLen: 2, messageLen: 20, checksum: 7, data: make([]byte, 10)}
	with := func(f func(p *fountainPart)) fountainPart { p := good; f(&p); return p }
	raw := func(cbor []byte) string {
		return "ur:bytes/1-2/" + encodeBytewords(cbor, styleMinimal)
	}
	cborOf := func(p fountainPart) []byte { return encodePartCBOR(p) }
	for _, tc := range []struct {
		name string
		part string
		want error
	}{
		{"sequence number 0", partText("bytes", with(func(p *fountainPart) { p.seqNum = 0 })), ErrInvalidPart},
		{"sequence length 0", raw(cborOf(with(func(p *fountainPart) { p.seqLen = 0 }))), ErrInvalidPart},
		{"message length 0", raw(cborOf(with(func(p *fountainPart) { p.messageLen = 0 }))), ErrInvalidPart},
		{"empty fragment", raw(cborOf(with(func(p *fountainPart) { p.data = nil }))), ErrInvalidPart},
		{"fragments too short for the message", raw(cborOf(with(func(p *fountainPart) { p.messageLen = 21 }))), ErrInvalidPart},
		{"fragments longer than needed", raw(cborOf(with(func(p *fountainPart) { p.messageLen = 10 }))), ErrInvalidPart},
		{"message over the limit", raw(cborOf(with(func(p *fountainPart) {
			p.messageLen = MaxMessageLen + 1
			p.seqLen = 2
			p.data = make([]byte, MaxMessageLen/2+1)
		}))), ErrTooLarge},
		{"too many fragments", raw(cborOf(with(func(p *fountainPart) { p.seqLen = MaxSeqLen + 1; p.messageLen = MaxSeqLen + 1; p.data = []byte{1} }))), ErrTooLarge},
		{"path disagrees with content", "ur:bytes/2-2/" + encodeBytewords(cborOf(good), styleMinimal), ErrInvalidPart},
		{"sequence number over 32 bits", raw(append(append([]byte{0x85, 0x1b, 0, 0, 0, 1, 0, 0, 0, 1}, cborOf(good)[2:5]...), cborOf(good)[5:]...)), ErrInvalidPart},
		{"checksum over 32 bits", raw(append([]byte{0x85, 0x01, 0x02, 0x14, 0x1b, 0, 0, 0, 1, 0, 0, 0, 7}, cborOf(good)[5:]...)), ErrInvalidPart},
		{"trailing bytes", raw(append(cborOf(good), 0)), ErrInvalidPart},
		{"array of 4", raw(append([]byte{0x84}, cborOf(good)[1:]...)), ErrInvalidPart},
		{"indefinite array", raw(append([]byte{0x9f}, append(cborOf(good)[1:], 0xff)...)), ErrInvalidPart},
		{"fragment as text string", raw(append(cborOf(good)[:5:5], append([]byte{0x6a}, good.data...)...)), ErrInvalidPart},
		{"truncated", raw(cborOf(good)[:10]), ErrInvalidPart},
		{"sequence 0-2 in the path", "ur:bytes/0-2/" + encodeBytewords(cborOf(good), styleMinimal), ErrInvalidPart},
		{"signed sequence", "ur:bytes/+1-2/" + encodeBytewords(cborOf(good), styleMinimal), ErrInvalidPart},
		{"sequence over 32 bits", "ur:bytes/4294967296-2/" + encodeBytewords(cborOf(good), styleMinimal), ErrInvalidPart},
		{"bad type", "ur:by_tes/1-2/" + encodeBytewords(cborOf(good), styleMinimal), ErrInvalidPart},
		{"empty type", "ur:/1-2/" + encodeBytewords(cborOf(good), styleMinimal), ErrInvalidPart},
		{"corrupted letter", strings.Replace(partText("bytes", good), "ae", "ad", 1), ErrChecksum},
		{"no payload", "ur:bytes/", ErrInvalidPart},
		{"too long", "ur:bytes/" + strings.Repeat("ae", maxPartChars), ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder()
			if err := d.Receive(tc.part); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if got, need := d.Progress(); got != 0 || need != 0 || d.Complete() {
				t.Fatalf("a refused part changed the decoder: %d/%d", got, need)
			}
		})
	}
	// The good part itself is accepted, so the cases above fail for their
	// own reason.
	if err := NewDecoder().Receive(partText("bytes", good)); err != nil {
		t.Fatalf("the unaltered part: %v", err)
	}
}

func TestDecoderRefusesMixedMessages(t *testing.T) {
	psbtA := append([]byte("psbt\xff"), makeMessage(500, "a")...)
	psbtB := append([]byte("psbt\xff"), makeMessage(500, "b")...)
	encoder := func(u UR, maxFragmentLen int) *Encoder {
		e, err := NewEncoder(u, maxFragmentLen)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	first := encoder(PSBTToUR(psbtA), 50).NextPart()
	for _, tc := range []struct {
		name  string
		other string
	}{
		{"another message of the same size", encoder(PSBTToUR(psbtB), 50).NextPart()},
		{"another type", encoder(UR{Type: "bytes", CBOR: PSBTToUR(psbtA).CBOR}, 50).NextPart()},
		{"the same message cut differently", encoder(PSBTToUR(psbtA), 60).NextPart()},
		{"a single-part UR", encoder(PSBTToUR(psbtB), 1000).NextPart()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder()
			if err := d.Receive(first); err != nil {
				t.Fatal(err)
			}
			if err := d.Receive(tc.other); !errors.Is(err, ErrMixedMessages) {
				t.Fatalf("got %v, want ErrMixedMessages", err)
			}
			if got, need := d.Progress(); got != 1 || need != 11 {
				t.Fatalf("progress %d/%d", got, need)
			}
		})
	}
	single := encoder(PSBTToUR(psbtA), 1000).NextPart()
	d := NewDecoder()
	if err := d.Receive(single); err != nil {
		t.Fatal(err)
	}
	if err := d.Receive(single); err != nil {
		t.Fatalf("the same single part twice: %v", err)
	}
	if err := d.Receive(encoder(PSBTToUR(psbtB), 1000).NextPart()); !errors.Is(err, ErrMixedMessages) {
		t.Fatalf("another single part: %v", err)
	}
	if err := d.Receive(first); !errors.Is(err, ErrMixedMessages) {
		t.Fatalf("a multi-part part after a single part: %v", err)
	}
}

// A part that claims the right message but carries other bytes is caught
// by the message checksum when the message completes.
func TestDecoderCatchesForgedFragment(t *testing.T) {
	msg := makeMessage(100, "forged")
	e, err := newFountainEncoder(msg, 50, 0)
	if err != nil {
		t.Fatal(err)
	}
	p1, p2 := e.nextPart(), e.nextPart()
	p2.data[0] ^= 1
	d := NewDecoder()
	if err := d.Receive(partText("bytes", p1)); err != nil {
		t.Fatal(err)
	}
	if err := d.Receive(partText("bytes", p2)); !errors.Is(err, ErrChecksum) {
		t.Fatalf("got %v, want ErrChecksum", err)
	}
	if !d.Complete() {
		t.Fatal("a failed decoder should report it is done")
	}
	if _, err := d.Result(); !errors.Is(err, ErrChecksum) {
		t.Fatalf("Result: %v", err)
	}
}

func TestEncoderRefusals(t *testing.T) {
	for _, tc := range []struct {
		name           string
		u              UR
		maxFragmentLen int
		want           error
	}{
		{"fragments under 10 bytes", UR{Type: "bytes", CBOR: []byte{0x41, 1}}, 9, ErrInvalidPart},
		{"empty CBOR", UR{Type: "bytes"}, 100, ErrInvalidPart},
		{"upper-case type", UR{Type: "Bytes", CBOR: []byte{0x41, 1}}, 100, ErrInvalidPart},
		{"empty type", UR{CBOR: []byte{0x41, 1}}, 100, ErrInvalidPart},
		{"too large", UR{Type: "bytes", CBOR: make([]byte, MaxMessageLen+1)}, 1000, ErrTooLarge},
		{"too many fragments", UR{Type: "bytes", CBOR: make([]byte, 10*(MaxSeqLen+1))}, 10, ErrTooLarge},
	} {
		if _, err := NewEncoder(tc.u, tc.maxFragmentLen); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := Encode(UR{Type: "bytes"}); !errors.Is(err, ErrInvalidPart) {
		t.Errorf("Encode of empty CBOR: %v", err)
	}
	if _, err := Decode("ur:bytes/1-9/lpadascfadaxcywenbpljkhdcahkadaemejtswhhylkepmykhhtsytsnoyoyaxaedsuttydmmhhpktpmsrjtdkgslpgh"); !errors.Is(err, ErrInvalidPart) {
		t.Errorf("Decode of a multi-part part: %v", err)
	}
}

func TestPSBTFromUR(t *testing.T) {
	psbt := []byte("psbt\xff\x01\x00")
	bstr := PSBTToUR(psbt).CBOR
	tagged := func(tag uint64) []byte { return append(appendHead(nil, majorTag, tag), bstr...) }
	for _, tc := range []struct {
		name string
		u    UR
		want error // nil: accepted
	}{
		{"crypto-psbt", UR{Type: "crypto-psbt", CBOR: bstr}, nil},
		{"psbt", UR{Type: "psbt", CBOR: bstr}, nil},
		{"tag 310", UR{Type: "crypto-psbt", CBOR: tagged(310)}, nil},
		{"tag 40310", UR{Type: "psbt", CBOR: tagged(40310)}, nil},
		{"another tag", UR{Type: "psbt", CBOR: tagged(311)}, ErrNotPSBT},
		{"another type", UR{Type: "crypto-seed", CBOR: bstr}, ErrWrongType},
		{"bytes type", UR{Type: "bytes", CBOR: bstr}, ErrWrongType},
		{"trailing bytes", UR{Type: "psbt", CBOR: append(bstr, 0)}, ErrNotPSBT},
		{"truncated", UR{Type: "psbt", CBOR: bstr[:len(bstr)-1]}, ErrNotPSBT},
		{"text string", UR{Type: "psbt", CBOR: append([]byte{0x67}, psbt...)}, ErrNotPSBT},
		{"indefinite byte string", UR{Type: "psbt", CBOR: append(append([]byte{0x5f}, bstr...), 0xff)}, ErrNotPSBT},
		{"no PSBT magic", UR{Type: "psbt", CBOR: PSBTToUR([]byte("not a psbt")).CBOR}, ErrNotPSBT},
		{"empty", UR{Type: "psbt"}, ErrNotPSBT},
	} {
		got, err := PSBTFromUR(tc.u)
		if tc.want == nil && (err != nil || !bytes.Equal(got, psbt)) {
			t.Errorf("%s: %x, %v", tc.name, got, err)
		}
		if tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
}
