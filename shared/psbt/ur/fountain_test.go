package ur

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"slices"
	"testing"
)

func TestXoshiroVectors(t *testing.T) {
	v := loadVectors(t)
	if len(v.Xoshiro) != 4 {
		t.Fatalf("%d vectors, want 4", len(v.Xoshiro))
	}
	wolf := crc32.ChecksumIEEE([]byte("Wolf"))
	for _, tc := range v.Xoshiro {
		t.Run(tc.Name, func(t *testing.T) {
			rng := newXoshiroFromBytes([]byte("Wolf"))
			if tc.Name == "test_rng_2" { // seeded with the CRC32 of "Wolf", big-endian
				rng = newXoshiroFromBytes(binary.BigEndian.AppendUint32(nil, wolf))
			}
			switch tc.Name {
			case "test_rng_1", "test_rng_2":
				for i, want := range tc.Expected {
					if got := int(rng.next() % 100); got != want {
						t.Fatalf("draw %d: %d, want %d", i, got, want)
					}
				}
			case "test_rng_3":
				for i, want := range tc.Expected {
					if got := rng.nextInt(1, 10); got != want {
						t.Fatalf("draw %d: %d, want %d", i, got, want)
					}
				}
			case "test_xor":
				d1, d2 := rng.nextData(10), rng.nextData(10)
				d3 := slices.Clone(d1)
				xorInto(d3, d2)
				if hex.EncodeToString(d1) != tc.Data1 || hex.EncodeToString(d2) != tc.Data2 || hex.EncodeToString(d3) != tc.Data3 {
					t.Fatalf("got %x %x %x", d1, d2, d3)
				}
			default:
				t.Fatalf("vector %s not understood", tc.Name)
			}
			if len(tc.Expected) == 0 && tc.Name != "test_xor" {
				t.Fatal("no expected values")
			}
		})
	}
	if wolf != 0x598c84dc {
		t.Fatalf("crc32(Wolf) = %08x", wolf)
	}
}

func TestRandomSamplerVector(t *testing.T) {
	s := loadVectors(t).Fountain.Sampler
	if len(s.Expected) != 500 {
		t.Fatalf("%d draws", len(s.Expected))
	}
	sampler := newRandomSampler(s.Probabilities)
	rng := newXoshiroFromBytes([]byte("Wolf"))
	for i, want := range s.Expected {
		if got := sampler.next(rng); got != want {
			t.Fatalf("draw %d: %d, want %d", i, got, want)
		}
	}
}

func TestShuffleVector(t *testing.T) {
	s := loadVectors(t).Fountain.Shuffle
	if len(s.Expected) != 10 {
		t.Fatalf("%d shuffles", len(s.Expected))
	}
	rng := newXoshiroFromBytes([]byte("Wolf")) // one generator for all ten
	for i, want := range s.Expected {
		order := shuffledPrefix(len(s.Items), len(s.Items), rng)
		got := make([]int, len(order))
		for j, k := range order {
			got[j] = s.Items[k]
		}
		if !slices.Equal(got, want) {
			t.Fatalf("shuffle %d: %v, want %v", i, got, want)
		}
	}
}

// A prefix of the shuffle is the start of the full shuffle: parts use only
// their first degree elements.
func TestShuffledPrefixIsPrefix(t *testing.T) {
	for _, n := range []int{1, 2, 7, 64, 1000} {
		for _, count := range []int{1, n / 2, n} {
			if count == 0 {
				continue
			}
			full := shuffledPrefix(n, n, newXoshiroFromBytes([]byte("seed")))
			prefix := shuffledPrefix(n, count, newXoshiroFromBytes([]byte("seed")))
			if !slices.Equal(full[:count], prefix) {
				t.Fatalf("n=%d count=%d: prefix differs", n, count)
			}
			sorted := slices.Sorted(slices.Values(full))
			for i, x := range sorted {
				if x != i {
					t.Fatalf("n=%d: not a permutation", n)
				}
			}
		}
	}
}

func TestNominalFragmentLenVectors(t *testing.T) {
	v := loadVectors(t)
	if len(v.Fountain.NominalLen) != 2 {
		t.Fatalf("%d vectors", len(v.Fountain.NominalLen))
	}
	for _, tc := range v.Fountain.NominalLen {
		if got := nominalFragmentLen(tc.MessageLen, tc.MinFragmentLen, tc.MaxFragmentLen); got != tc.Expected {
			t.Errorf("nominalFragmentLen(%d, %d, %d) = %d, want %d", tc.MessageLen, tc.MinFragmentLen, tc.MaxFragmentLen, got, tc.Expected)
		}
	}
	if got := nominalFragmentLen(1024, 10, 100); got != v.Derived.Msg1024Frag {
		t.Errorf("fragment length for 1024 bytes: %d, want %d", got, v.Derived.Msg1024Frag)
	}
	// A message shorter than the minimum fragment is one fragment.
	if got := nominalFragmentLen(3, 10, 100); got != 3 {
		t.Errorf("3-byte message: fragment length %d", got)
	}
}

func TestPartitionVector(t *testing.T) {
	v := loadVectors(t)
	msg := makeMessage(1024, "Wolf")
	if crc32.ChecksumIEEE(msg) != v.Derived.Msg1024CRC {
		t.Fatal("make_message(1024) differs from the vectors")
	}
	frags := partition(msg, nominalFragmentLen(len(msg), 10, 100))
	want := v.Fountain.Partition.Fragments
	if len(frags) != len(want) || len(want) != 11 {
		t.Fatalf("%d fragments, want %d", len(frags), len(want))
	}
	var joined []byte
	for i := range want {
		if got := hex.EncodeToString(frags[i]); got != want[i] {
			t.Fatalf("fragment %d: %s\nwant %s", i, got, want[i])
		}
		joined = append(joined, frags[i]...)
	}
	if !bytes.Equal(joined[:len(msg)], msg) || slices.ContainsFunc(joined[len(msg):], func(b byte) bool { return b != 0 }) {
		t.Fatal("joined fragments are not the message and zero padding")
	}
}

func TestChooseDegreeVector(t *testing.T) {
	want := loadVectors(t).Fountain.Degree.Expected
	if len(want) != 200 {
		t.Fatalf("%d degrees", len(want))
	}
	degrees := newDegreeSampler(11)
	for i, w := range want {
		rng := newXoshiroFromBytes([]byte(fmt.Sprintf("Wolf-%d", i+1)))
		if got := degrees.next(rng) + 1; got != w {
			t.Fatalf("nonce %d: degree %d, want %d", i+1, got, w)
		}
	}
}

func TestChooseFragmentsVector(t *testing.T) {
	want := loadVectors(t).Fountain.Choose.Expected
	if len(want) != 30 {
		t.Fatalf("%d sets", len(want))
	}
	checksum := crc32.ChecksumIEEE(makeMessage(1024, "Wolf"))
	degrees := newDegreeSampler(11)
	for i, w := range want {
		got := chooseFragments(uint32(i+1), 11, checksum, degrees)
		slices.Sort(got)
		if !slices.Equal(got, w) {
			t.Fatalf("seqNum %d: %v, want %v", i+1, got, w)
		}
	}
}

func TestFountainEncoderVector(t *testing.T) {
	v := loadVectors(t)
	ev := v.Fountain.Encoder
	msg := makeMessage(256, "Wolf")
	if hex.EncodeToString(msg) != v.Derived.Msg256 {
		t.Fatal("make_message(256) differs from the vectors")
	}
	e, err := newFountainEncoder(msg, ev.MaxFragmentLen, 0)
	if err != nil {
		t.Fatal(err)
	}
	if e.seqLen() != ev.SeqLen || e.messageLen != ev.MessageLen || e.checksum != ev.Checksum || fmt.Sprintf("%08x", e.checksum) != ev.ChecksumHex {
		t.Fatalf("seqLen %d, messageLen %d, checksum %08x", e.seqLen(), e.messageLen, e.checksum)
	}
	if len(ev.Parts) != 20 {
		t.Fatalf("%d parts", len(ev.Parts))
	}
	for _, want := range ev.Parts {
		p := e.nextPart()
		if p.seqNum != want.SeqNum || hex.EncodeToString(p.data) != want.Data {
			t.Fatalf("part %d: data %x\nwant %s", p.seqNum, p.data, want.Data)
		}
		cbor := encodePartCBOR(p)
		if hex.EncodeToString(cbor) != want.CBOR {
			t.Fatalf("part %d: CBOR %x\nwant %s", p.seqNum, cbor, want.CBOR)
		}
		back, err := decodePartCBOR(cbor)
		if err != nil || back.seqNum != p.seqNum || back.seqLen != p.seqLen || back.messageLen != p.messageLen || back.checksum != p.checksum || !bytes.Equal(back.data, p.data) {
			t.Fatalf("part %d: CBOR round trip: %+v, %v", p.seqNum, back, err)
		}
	}
}

// The reference encoder reports completion after exactly seqLen parts: the
// first seqLen parts carry every fragment once, so a decoder fed them in
// order completes on the last one and not before.
func TestFirstSeqLenPartsComplete(t *testing.T) {
	msg := makeMessage(256, "Wolf")
	e, err := newFountainEncoder(msg, 30, 0)
	if err != nil {
		t.Fatal(err)
	}
	var d fountainDecoder
	for i := 1; i <= e.seqLen(); i++ {
		if d.done() {
			t.Fatalf("complete after %d of %d parts", i-1, e.seqLen())
		}
		if err := d.receive(e.nextPart()); err != nil {
			t.Fatal(err)
		}
	}
	if !d.done() || !bytes.Equal(d.result, msg) {
		t.Fatalf("not complete after %d parts", e.seqLen())
	}
}

func TestPartCBORVector(t *testing.T) {
	pc := loadVectors(t).Fountain.PartCBOR
	p := fountainPart{seqNum: pc.Part.SeqNum, seqLen: pc.Part.SeqLen, messageLen: pc.Part.MessageLen, checksum: pc.Part.Checksum, data: unhex(t, pc.Part.Data)}
	cbor := encodePartCBOR(p)
	if hex.EncodeToString(cbor) != pc.CBOR {
		t.Fatalf("CBOR %x, want %s", cbor, pc.CBOR)
	}
	// The vector's part is not self-consistent (8 fragments of 5 bytes do not
	// hold 100 bytes), so the decoder must refuse it; its encoding must
	// still round-trip through the CBOR reader.
	if _, err := decodePartCBOR(cbor); err == nil {
		t.Fatal("a part whose fragments cannot hold its message was accepted")
	}
	r := cborReader{b: cbor}
	n, _ := r.head(majorArray)
	var got [4]uint64
	for i := range got {
		got[i], _ = r.head(majorUint)
	}
	data, err := r.bytes()
	if err != nil || n != 5 || got != [4]uint64{12, 8, 100, 305419896} || !bytes.Equal(data, p.data) || len(r.b) != 0 {
		t.Fatalf("read back %d %v %x %v", n, got, data, err)
	}
}

// The reference decoder round trip: a 32767-byte message in 1000-byte
// fragments, starting at seqNum 101 so that only fountain parts arrive.
func TestFountainDecoderVector(t *testing.T) {
	rt := loadVectors(t).Fountain.DecoderRoundTrip
	msg := makeMessage(32767, "Wolf")
	e, err := newFountainEncoder(msg, rt.MaxFragmentLen, rt.FirstSeqNum)
	if err != nil {
		t.Fatal(err)
	}
	var d fountainDecoder
	for n := 0; !d.done(); n++ {
		if n > 3*e.seqLen() {
			t.Fatalf("not complete after %d parts for %d fragments", n, e.seqLen())
		}
		p := e.nextPart()
		if p.seqNum <= rt.FirstSeqNum {
			t.Fatalf("part %d", p.seqNum)
		}
		if err := d.receive(p); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(d.result, msg) {
		t.Fatal("decoded message differs")
	}
}

// Part numbers are 32 bits: after 2^32-1 the encoder goes on from 1, never
// emitting the invalid part number 0.
func TestEncoderPartNumberWraps(t *testing.T) {
	e, err := newFountainEncoder(makeMessage(100, "wrap"), 10, 1<<32-2)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []uint32{1<<32 - 1, 1, 2} {
		p := e.nextPart()
		if p.seqNum != want {
			t.Fatalf("part number %d, want %d", p.seqNum, want)
		}
		if _, err := decodePartCBOR(encodePartCBOR(p)); err != nil {
			t.Fatal(err)
		}
	}
}

// The vectors' convenience values, derived from the generation rules.
func TestDerivedMessages(t *testing.T) {
	d := loadVectors(t).Derived
	if got := hex.EncodeToString(makeMessage(50, "Wolf")); got != d.Msg50 {
		t.Errorf("make_message(50) = %s", got)
	}
	if got := crc32.ChecksumIEEE(makeMessage(256, "Wolf")); got != d.Msg256CRC {
		t.Errorf("crc32(make_message(256)) = %d, want %d", got, d.Msg256CRC)
	}
	if d.Msg50 == "" || d.Msg256CRC == 0 {
		t.Error("derived values missing")
	}
}
