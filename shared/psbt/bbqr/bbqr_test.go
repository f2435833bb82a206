package bbqr

import (
	"bytes"
	"compress/flate"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing/qrcode/decoder"
)

// withRepeats returns the parts shuffled, with some of them twice.
func withRepeats(rng *rand.Rand, parts []string) []string {
	out := slices.Clone(parts)
	for _, p := range parts {
		if rng.IntN(3) == 0 {
			out = append(out, p)
		}
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func TestHeaderExample(t *testing.T) {
	ex := loadVectors(t).HeaderExamples[0]
	total := 0
	for _, n := range ex.PayloadLengths {
		total += n
	}
	data := make([]byte, total/2) // 2150 bytes, as the example says
	// The example's parts of 2000 hex digits, and the version 27 QR code it
	// names, both give its three headers.
	for _, maxChars := range []int{HeaderLen + ex.PayloadLengths[0], MaxCharsForVersion(27)} {
		parts, err := Split(data, FilePSBT, Hex, maxChars)
		if err != nil {
			t.Fatal(err)
		}
		if len(parts) != len(ex.Headers) {
			t.Fatalf("%d characters: %d parts, the example has %d", maxChars, len(parts), len(ex.Headers))
		}
		got := 0
		for i, p := range parts {
			if p[:HeaderLen] != ex.Headers[i] {
				t.Fatalf("header %q, want %q", p[:HeaderLen], ex.Headers[i])
			}
			got += len(p) - HeaderLen
		}
		if got != total {
			t.Fatalf("%d hex digits in all, the example %d", got, total)
		}
	}
}

func TestRealScan(t *testing.T) {
	v := loadVectors(t)
	rng := rand.New(rand.NewPCG(5, 6))
	for _, jv := range v.JoinVectors {
		want := jv.Expected
		// The published frame order, then other orders with other repeats.
		orders := [][]string{jv.Parts}
		for range 5 {
			orders = append(orders, withRepeats(rng, jv.Parts))
		}
		for _, frames := range orders {
			j := NewJoiner()
			seen := map[string]bool{}
			for i, f := range frames {
				if err := j.Add(f); err != nil {
					t.Fatalf("%s: frame %d: %v", jv.Name, i, err)
				}
				seen[f[:HeaderLen]] = true
				if have, total := j.Progress(); have != len(seen) || total != want.NumParts {
					t.Fatalf("frame %d: progress %d/%d", i, have, total)
				}
			}
			typ, data, err := j.Result()
			if err != nil {
				t.Fatal(err)
			}
			if string(typ) != want.FileType || len(data) != want.DecodedLength || sha256Hex(data) != want.SHA256 {
				t.Fatalf("type %c, %d bytes, sha256 %s", typ, len(data), sha256Hex(data))
			}
			if first, _, _ := strings.Cut(string(data), "\n"); first != want.FirstLine {
				t.Fatalf("first line %q", first)
			}
			for _, s := range want.Contains {
				if !strings.Contains(string(data), s) {
					t.Fatalf("the text lacks %q", s)
				}
			}
		}
		// The parts themselves, as published.
		compressed := 0
		for i, text := range jv.Parts[:want.NumParts] {
			p, err := parse(text)
			if err != nil {
				t.Fatal(err)
			}
			if string(p.enc) != want.Encoding || p.chars != want.PartPayloadLengths[p.index] {
				t.Fatalf("frame %d: encoding %c, %d characters", i, p.enc, p.chars)
			}
		}
		for _, l := range want.PartPayloadLengths {
			compressed += l * 5 / 8
		}
		if compressed != want.CompressedLength {
			t.Fatalf("%d compressed bytes, want %d", compressed, want.CompressedLength)
		}
	}
}

func TestDerivedJoinVectors(t *testing.T) {
	v := loadVectors(t)
	rng := rand.New(rand.NewPCG(7, 8))
	for _, jv := range v.DerivedJoin {
		t.Run(jv.Name, func(t *testing.T) {
			reversed := slices.Clone(jv.Parts)
			slices.Reverse(reversed)
			for _, parts := range [][]string{jv.Parts, reversed, withRepeats(rng, jv.Parts)} {
				typ, data, err := Join(parts)
				if err != nil {
					t.Fatal(err)
				}
				if string(typ) != jv.FileType {
					t.Fatalf("type %c", typ)
				}
				checked := false
				if jv.SHA256 != "" {
					if sha256Hex(data) != jv.SHA256 {
						t.Fatalf("sha256 %s", sha256Hex(data))
					}
					checked = true
				}
				if jv.Hex != "" {
					if hex.EncodeToString(data) != jv.Hex {
						t.Fatalf("data %x", data)
					}
					checked = true
				}
				if jv.Equals != "" {
					name := strings.TrimSuffix(strings.TrimPrefix(jv.Equals, "sample_files["), "]")
					if !bytes.Equal(data, sampleFile(t, name)) {
						t.Fatalf("differs from %s", name)
					}
				}
				if !checked {
					t.Fatal("vector without an expected value")
				}
			}
			for i, want := range jv.PartLengths {
				if got := len(jv.Parts[i]) - HeaderLen; got != want {
					t.Fatalf("part %d: %d characters, the vector says %d", i, got, want)
				}
			}
			if jv.CompressedSize != 0 {
				size := 0
				for _, text := range jv.Parts {
					p, err := parse(text)
					if err != nil {
						t.Fatal(err)
					}
					size += len(p.data)
				}
				if size != jv.CompressedSize {
					t.Fatalf("%d compressed bytes, want %d", size, jv.CompressedSize)
				}
			}
		})
	}
}

func TestDerivedInvalidVectors(t *testing.T) {
	for _, iv := range loadVectors(t).DerivedInvalid {
		t.Run(iv.Name, func(t *testing.T) {
			want := ErrMalformed
			switch {
			case strings.HasPrefix(iv.Expected, "incomplete"):
				want = ErrIncomplete
			case strings.HasPrefix(iv.Rule, "All blocks must specify the same"):
				want = ErrMixedMessages
			case iv.Expected != "reject":
				t.Fatalf("expectation %q not understood", iv.Expected)
			}
			typ, data, err := Join(iv.Parts)
			if !errors.Is(err, want) {
				t.Fatalf("got %v, want %v", err, want)
			}
			if typ != 0 || data != nil {
				t.Fatal("data returned with an error")
			}
		})
	}
}

func TestMaxCharsForVersion(t *testing.T) {
	rows := loadVectors(t).Capacity.Rows
	if len(rows) != 20 {
		t.Fatalf("%d rows", len(rows))
	}
	for _, row := range rows {
		version, chars, payload := int(row[0].(float64)), int(row[2].(float64)), int(row[3].(float64))
		if got := MaxCharsForVersion(version); got != chars {
			t.Errorf("version %d: %d characters, the specification says %d", version, got, chars)
		}
		if (chars-HeaderLen)/2 != payload {
			t.Errorf("version %d: %d bytes of hex payload, the specification says %d", version, (chars-HeaderLen)/2, payload)
		}
	}
	// Every version, against the QR tables of an independent decoder:
	// data codewords at level L, less the mode and count indicators, in
	// 11-bit pairs and a 6-bit single.
	for version := 1; version <= 40; version++ {
		qv, err := decoder.Version_GetVersionForNumber(version)
		if err != nil {
			t.Fatal(err)
		}
		dataBits := 8 * (qv.GetTotalCodewords() - qv.GetECBlocksForLevel(decoder.ErrorCorrectionLevel_L).GetTotalECCodewords())
		countBits := 9
		if version >= 27 {
			countBits = 13
		} else if version >= 10 {
			countBits = 11
		}
		bits := dataBits - 4 - countBits
		want := bits / 11 * 2
		if bits%11 >= 6 {
			want++
		}
		if got := MaxCharsForVersion(version); got != want {
			t.Errorf("version %d: %d characters, the QR tables give %d", version, got, want)
		}
	}
	for _, bad := range []int{-1, 0, 41} {
		if MaxCharsForVersion(bad) != 0 {
			t.Errorf("version %d has a capacity", bad)
		}
	}
}

// checkParts asserts what the specification requires of a split.
func checkParts(t *testing.T, parts []string, enc Encoding, fileType byte, maxChars, encodedLen int) {
	t.Helper()
	n := len(parts)
	room := (maxChars - HeaderLen) / enc.alignment() * enc.alignment()
	// Fewest parts: one if it fits, else as many as aligned parts need.
	if want := 1; encodedLen > maxChars-HeaderLen {
		if want = (encodedLen + room - 1) / room; n != want {
			t.Fatalf("%d parts, %d would do", n, want)
		}
	} else if n != 1 {
		t.Fatalf("%d parts for what fits one", n)
	}
	for i, p := range parts {
		if len(p) > maxChars {
			t.Fatalf("part %d: %d characters, the limit is %d", i, len(p), maxChars)
		}
		if want := header(enc, fileType, n, i); p[:HeaderLen] != want {
			t.Fatalf("part %d: header %q, want %q", i, p[:HeaderLen], want)
		}
		if strings.IndexFunc(p, func(r rune) bool { return !strings.ContainsRune("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:", r) }) >= 0 {
			t.Fatalf("part %d leaves the QR alphanumeric character set", i)
		}
		if i < n-1 {
			if len(p) != len(parts[0]) {
				t.Fatalf("part %d: %d characters, part 0 %d", i, len(p), len(parts[0]))
			}
			if (len(p)-HeaderLen)%enc.alignment() != 0 {
				t.Fatalf("part %d: %d characters do not hold whole bytes", i, len(p)-HeaderLen)
			}
		} else if n > 1 && len(p) > len(parts[0]) {
			t.Fatalf("the last part is longer than the others")
		}
	}
	// Evenly spread: the last part is within one alignment step per part of
	// the others.
	if n > 1 && len(parts[0])-len(parts[n-1]) > n*enc.alignment() {
		t.Fatalf("a runt: %d characters against %d", len(parts[n-1]), len(parts[0]))
	}
}

func TestSplitSampleFiles(t *testing.T) {
	v := loadVectors(t)
	rng := rand.New(rand.NewPCG(9, 10))
	for _, s := range v.Samples {
		data := sampleFile(t, s.Name)
		for _, enc := range []Encoding{Hex, Base32} {
			encodedLen := len(data) * 2
			if enc == Base32 {
				encodedLen = (len(data)*8 + 4) / 5
			}
			for _, maxChars := range []int{17, 100, MaxCharsForVersion(11), MaxCharsForVersion(27), MaxCharsForVersion(40)} {
				parts, err := Split(data, FilePSBT, enc, maxChars)
				room := (maxChars - HeaderLen) / enc.alignment() * enc.alignment()
				if needed := (encodedLen + room - 1) / room; needed > MaxParts {
					if !errors.Is(err, ErrTooLarge) {
						t.Fatalf("%s %c %d: %d parts needed, got %v", s.Name, enc, maxChars, needed, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s %c %d: %v", s.Name, enc, maxChars, err)
				}
				checkParts(t, parts, enc, FilePSBT, maxChars, encodedLen)
				typ, got, err := Join(withRepeats(rng, parts))
				if err != nil || typ != FilePSBT || !bytes.Equal(got, data) {
					t.Fatalf("%s %c %d: round trip: %v", s.Name, enc, maxChars, err)
				}
			}
		}
	}
}

// Zlib parts, which this package does not write, built here from the
// sample files with Go's DEFLATE (a larger window than wbits 10, which a
// reader must accept anyway), are read back.
func TestJoinZlibSampleFiles(t *testing.T) {
	v := loadVectors(t)
	rng := rand.New(rand.NewPCG(11, 12))
	for _, s := range v.Samples {
		data := sampleFile(t, s.Name)
		var z bytes.Buffer
		w, err := flate.NewWriter(&z, flate.BestCompression)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		w.Close()
		parts, err := splitEncoded(base32NoPad.EncodeToString(z.Bytes()), Zlib, FileTransaction, MaxCharsForVersion(25))
		if err != nil {
			t.Fatal(err)
		}
		typ, got, err := Join(withRepeats(rng, parts))
		if err != nil || typ != FileTransaction || !bytes.Equal(got, data) {
			t.Fatalf("%s: %v", s.Name, err)
		}
	}
}

// The published compressed size of 1in2out.psbt is what the Zlib join
// vector carries.
func TestZlibVectorMatchesPublishedSize(t *testing.T) {
	v := loadVectors(t)
	var published int
	for _, s := range v.Samples {
		if s.Name == "1in2out.psbt" {
			published = s.ZlibSize
		}
	}
	for _, jv := range v.DerivedJoin {
		if strings.Contains(jv.Name, "Zlib") {
			if jv.CompressedSize != published || published == 0 {
				t.Fatalf("vector %d bytes, published %d", jv.CompressedSize, published)
			}
			return
		}
	}
	t.Fatal("no Zlib vector")
}

func TestSplitRefusals(t *testing.T) {
	for _, tc := range []struct {
		name     string
		data     []byte
		fileType byte
		enc      Encoding
		maxChars int
		want     error // nil: any error
	}{
		{"writing Zlib", []byte("x"), FilePSBT, Zlib, 100, ErrUnsupportedEncoding},
		{"a reserved encoding", []byte("x"), FilePSBT, 'Q', 100, ErrUnsupportedEncoding},
		{"nothing", nil, FilePSBT, Hex, 100, nil},
		{"lower-case file type", []byte("x"), 'p', Hex, 100, nil},
		{"no room after the header", []byte("hello"), FilePSBT, Hex, 9, nil},
		{"Base32 under 8 characters a part", []byte("hello world"), FilePSBT, Base32, 15, nil},
		{"more than 1295 parts", make([]byte, 5000), FilePSBT, Hex, 12, ErrTooLarge},
		{"over the size limit", make([]byte, MaxFileLen+1), FilePSBT, Hex, 4296, ErrTooLarge},
	} {
		_, err := Split(tc.data, tc.fileType, tc.enc, tc.maxChars)
		if err == nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	// The smallest sizes that do work.
	for _, tc := range []struct {
		enc      Encoding
		maxChars int
	}{{Hex, 10}, {Base32, 16}} {
		if parts, err := Split([]byte("hello world"), FilePSBT, tc.enc, tc.maxChars); err != nil || len(parts) < 2 {
			t.Errorf("%c at %d characters: %d parts, %v", tc.enc, tc.maxChars, len(parts), err)
		}
	}
}

func TestJoinerRefusals(t *testing.T) {
	file := []byte("hello world, this is a test file of some length")
	good, err := Split(file, FilePSBT, Base32, 32)
	if err != nil || len(good) < 4 {
		t.Fatalf("fixture: %d parts, %v", len(good), err)
	}
	other, _ := Split([]byte("another file entirely, not the same one at all!!"), FilePSBT, Base32, 32)
	otherSize, _ := Split(file, FilePSBT, Base32, 40)
	hexParts, _ := Split(file, FilePSBT, Hex, 32)
	asText, _ := Split(file, FileText, Base32, 32)
	impossibleLength := good[len(good)-1]
	for (len(impossibleLength)-HeaderLen)%8 != 6 { // 6 characters: 3 bytes and 6 stray bits
		impossibleLength += "A"
	}
	for _, tc := range []struct {
		name string
		part string
		want error
	}{
		{"another file's part 0", other[0], ErrMixedMessages},
		{"another encoding", hexParts[1], ErrMixedMessages},
		{"another file type", asText[1], ErrMixedMessages},
		{"another part count", otherSize[1], ErrMixedMessages},
		{"a non-final part of another length", good[1][:len(good[1])-8], ErrMixedMessages},
		{"lower-case header", strings.ToLower(good[1][:HeaderLen]) + good[1][HeaderLen:], ErrMalformed},
		{"no B$", "X" + good[1][1:], ErrMalformed},
		{"0 parts", "B$2P0000" + good[0][HeaderLen:], ErrMalformed},
		{"index past the count", "B$2P0101" + good[0][HeaderLen:], ErrMalformed},
		{"header only", good[1][:HeaderLen], ErrMalformed},
		{"a non-final part not in whole bytes", good[1][:len(good[1])-3], ErrMalformed},
		{"a line break inside", good[1][:12] + "\n" + good[1][12:], ErrMalformed},
		{"lower-case Base32", good[1][:HeaderLen] + strings.ToLower(good[1][HeaderLen:]), ErrMalformed},
		{"an impossible Base32 length", impossibleLength, ErrMalformed},
		{"too long", "B$HP0100" + strings.Repeat("00", MaxFileLen+1), ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := NewJoiner()
			if err := j.Add(good[0]); err != nil {
				t.Fatal(err)
			}
			if err := j.Add(tc.part); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if have, total := j.Progress(); have != 1 || total != len(good) {
				t.Fatalf("a refused part changed the joiner: %d/%d", have, total)
			}
			for _, p := range good[1:] { // the right parts still complete it
				if err := j.Add(p); err != nil {
					t.Fatal(err)
				}
			}
			if _, data, err := j.Result(); err != nil || !bytes.Equal(data, file) {
				t.Fatalf("after the refusal: %v", err)
			}
		})
	}
	// A different part numbered as one already received.
	j := NewJoiner()
	j.Add(good[0])
	forged := good[0][:HeaderLen] + strings.Repeat("A", len(good[0])-HeaderLen)
	if err := j.Add(forged); !errors.Is(err, ErrMixedMessages) {
		t.Fatalf("a different part 0: %v", err)
	}
	if err := j.Add(" " + good[0] + "\r\n"); err != nil {
		t.Fatalf("a repeat with white space around it: %v", err)
	}
}

func TestJoinerIncomplete(t *testing.T) {
	parts, _ := Split(make([]byte, 100), FileBinary, Hex, 30)
	j := NewJoiner()
	if _, _, err := j.Result(); !errors.Is(err, ErrIncomplete) || j.Complete() {
		t.Fatalf("empty joiner: %v", err)
	}
	for _, p := range parts[2:] {
		if err := j.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	_, data, err := j.Result()
	if !errors.Is(err, ErrIncomplete) || data != nil || !strings.Contains(err.Error(), "missing 0, 1") {
		t.Fatalf("got %v", err)
	}
	j.Add(parts[1])
	j.Add(parts[0])
	if have, total := j.Progress(); have != total || !j.Complete() {
		t.Fatalf("%d/%d", have, total)
	}
}

func TestZlibBounds(t *testing.T) {
	deflate := func(data []byte) string {
		var b bytes.Buffer
		w, _ := flate.NewWriter(&b, flate.BestCompression)
		w.Write(data)
		w.Close()
		return base32NoPad.EncodeToString(b.Bytes())
	}
	// A zip bomb: a few kilobytes that inflate past the limit.
	bomb := "B$ZB0100" + deflate(make([]byte, MaxFileLen+1))
	if len(bomb) > 64<<10 {
		t.Fatalf("the bomb is %d characters", len(bomb))
	}
	if _, _, err := Join([]string{bomb}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("zip bomb: %v", err)
	}
	// Exactly at the limit is fine.
	if _, data, err := Join([]string{"B$ZB0100" + deflate(make([]byte, MaxFileLen))}); err != nil || len(data) != MaxFileLen {
		t.Fatalf("at the limit: %d bytes, %v", len(data), err)
	}
	// Not DEFLATE at all.
	if _, _, err := Join([]string{"B$ZB0100" + base32NoPad.EncodeToString([]byte{0xff, 0xff, 0xff})}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("garbage: %v", err)
	}
	// Parts whose count and length promise more than the limit are refused
	// on arrival, before the rest are awaited.
	if err := NewJoiner().Add("B$HPZZ00" + strings.Repeat("00", 8000)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("1295 parts of 8000 bytes: %v", err)
	}
}

// Random files from 1 byte to 100 kB, split at random sizes, joined in any
// order with repeats; a joiner missing parts says so until they come.
func TestRoundTripRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, size := range []int{1, 2, 4, 5, 6, 99, 1000, 10_000, 100_000} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.IntN(256))
		}
		for _, enc := range []Encoding{Hex, Base32} {
			maxChars := MaxCharsForVersion(1 + rng.IntN(40))
			if 2*size/(maxChars-HeaderLen-8) >= MaxParts {
				maxChars = MaxCharsForVersion(40) // too many parts (see TestSplitSampleFiles)
			}
			parts, err := Split(data, FileBinary, enc, maxChars)
			if err != nil {
				t.Fatal(err)
			}
			shuffled := withRepeats(rng, parts)
			j := NewJoiner()
			held := shuffled[:0:0]
			for i, p := range shuffled {
				if i%4 == 1 {
					held = append(held, p) // missed on the first pass
					continue
				}
				if err := j.Add(p); err != nil {
					t.Fatal(err)
				}
			}
			if !j.Complete() {
				if _, _, err := j.Result(); !errors.Is(err, ErrIncomplete) {
					t.Fatalf("incomplete: %v", err)
				}
			}
			for _, p := range held {
				if err := j.Add(p); err != nil {
					t.Fatal(err)
				}
			}
			typ, got, err := j.Result()
			if err != nil || typ != FileBinary || !bytes.Equal(got, data) {
				t.Fatalf("%d bytes, %c at %d characters: %v", size, enc, maxChars, err)
			}
		}
	}
}
