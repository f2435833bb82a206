package qrimage

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRoundTripPNG(t *testing.T) {
	optionSets := []Options{
		DefaultOptions(),
		{ModulePixels: 3, Level: LevelH, Border: 2},
	}
	for _, tc := range roundTripFrames() {
		for _, opt := range optionSets {
			t.Run(tc.name+"/"+opt.Level.String(), func(t *testing.T) {
				data := mustEncodePNG(t, tc.frame, opt)
				img := mustDecodePNG(t, data)
				version, err := SymbolVersion(tc.frame, opt.Level)
				if err != nil {
					t.Fatal(err)
				}
				wantSide := (4*version + 17 + 2*opt.Border) * opt.ModulePixels
				if b := img.Bounds(); b.Dx() != wantSide || b.Dy() != wantSide {
					t.Errorf("image is %v, want %dx%d (version %d)", b, wantSide, wantSide, version)
				}
				got, err := DecodeImage(img)
				if err != nil {
					t.Fatalf("DecodeImage: %v", err)
				}
				if got != tc.frame {
					t.Fatalf("round trip changed the frame:\n got %q\nwant %q", got, tc.frame)
				}
			})
		}
	}
}

func TestRoundTripPublishedFrames(t *testing.T) {
	for _, set := range loadPublishedFrames(t) {
		for i, frame := range set.Frames {
			got, err := DecodeBytes(mustEncodePNG(t, frame, DefaultOptions()))
			if err != nil {
				t.Fatalf("%s, frame %d: %v", set.Name, i+1, err)
			}
			if len(got) != 1 || got[0] != frame {
				t.Fatalf("%s, frame %d: got %q, want %q", set.Name, i+1, got, frame)
			}
		}
	}
}

// The QR data capacity arithmetic (ISO/IEC 18004, versions 1-9): mode
// indicator 4 bits; character count 9 bits (alphanumeric) or 8 bits (byte);
// 11 bits per 2 alphanumeric characters, 8 bits per byte. Data codewords at
// level L: version 9 holds 232, version 10 274, version 11 324 (versions 10+
// use a 16-bit byte count).
func TestAlphanumericModeForUpperCase(t *testing.T) {
	upper := urLikePart(300, 7)
	alnumBits := 4 + 9 + 11*150       // 1663 bits = 208 codewords: version 9 (232)
	byteBits := 4 + 16 + 8*len(upper) // 2420 bits = 303 codewords: version 11 (324)
	if (alnumBits+7)/8 > 232 || (byteBits+7)/8 <= 274 || (byteBits+7)/8 > 324 {
		t.Fatal("capacity arithmetic in this test is wrong")
	}
	tests := []struct {
		name  string
		frame string
		want  int
	}{
		{"upper case uses alphanumeric mode", upper, 9},
		{"lower case needs byte mode", strings.ToLower(upper), 11},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SymbolVersion(tc.frame, LevelL)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("version %d, want %d", got, tc.want)
			}
		})
	}
}

func TestEncodeRefusals(t *testing.T) {
	tests := []struct {
		name  string
		frame string
		opt   Options
	}{
		{"empty frame", "", DefaultOptions()},
		{"too long for version 40", strings.Repeat("a", 3000), DefaultOptions()},
		{"zero options", "A", Options{}},
		{"module too large", "A", Options{ModulePixels: MaxModulePixels + 1, Border: 4}},
		{"negative border", "A", Options{ModulePixels: 4, Border: -1}},
		{"border too wide", "A", Options{ModulePixels: 4, Border: MaxBorder + 1}},
		{"unknown level", "A", Options{ModulePixels: 4, Border: 4, Level: LevelH + 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if data, err := EncodePNG(tc.frame, tc.opt); err == nil {
				t.Fatalf("EncodePNG succeeded with %d bytes, want an error", len(data))
			}
			if err := WriteGIF(&bytes.Buffer{}, []string{tc.frame}, 100*time.Millisecond, tc.opt); err == nil {
				t.Fatal("WriteGIF succeeded, want an error")
			}
		})
	}
}

// The largest symbol at the largest options must stay readable by this
// package's own size limit.
func TestLargestImageWithinDecodeLimit(t *testing.T) {
	side := (177 + 2*MaxBorder) * MaxModulePixels
	if side > MaxImageSide {
		t.Fatalf("largest image is %d pixels wide, decode limit is %d", side, MaxImageSide)
	}
}

func TestPNGName(t *testing.T) {
	tests := []struct {
		prefix string
		i, n   int
		want   string
	}{
		{"psbt", 0, 1, "psbt-001.png"},
		{"psbt", 41, 999, "psbt-042.png"},
		{"psbt", 0, 1000, "psbt-0001.png"},
		{"signed", 9999, 10000, "signed-10000.png"},
	}
	for _, tc := range tests {
		if got := pngName(tc.prefix, tc.i, tc.n); got != tc.want {
			t.Errorf("pngName(%q, %d, %d) = %q, want %q", tc.prefix, tc.i, tc.n, got, tc.want)
		}
	}
}

func TestWritePNGsAndDecodeFile(t *testing.T) {
	dir := t.TempDir()
	frames := []string{urLikePart(120, 10), urLikePart(300, 11), base32Part(200, 12)}
	paths, err := WritePNGs(frames, dir, "psbt", DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != len(frames) {
		t.Fatalf("got %d paths, want %d", len(paths), len(frames))
	}
	for i, p := range paths {
		if want := filepath.Join(dir, pngName("psbt", i, len(frames))); p != want {
			t.Errorf("path %d is %s, want %s", i, p, want)
		}
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm&^0o644 != 0 || perm&0o600 != 0o600 {
			t.Errorf("%s has mode %v, want 0644 (less umask)", p, perm)
		}
		got, err := DecodeFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0] != frames[i] {
			t.Errorf("%s decoded to %q, want %q", p, got, frames[i])
		}
	}
}

func TestWritePNGsRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "psbt-002.png")
	original := []byte("not mine to overwrite")
	if err := os.WriteFile(existing, original, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := WritePNGs([]string{"A", "B", "C"}, dir, "psbt", DefaultOptions())
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("got %v, want an error wrapping fs.ErrExist", err)
	}
	if !strings.Contains(err.Error(), existing) {
		t.Errorf("error %q does not name %s", err, existing)
	}
	if got, _ := os.ReadFile(existing); !bytes.Equal(got, original) {
		t.Errorf("existing file changed to %q", got)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only the pre-existing file (psbt-001.png removed again)", names)
	}
}

func TestWritePNGsRefusals(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name   string
		frames []string
		dir    string
		prefix string
	}{
		{"no frames", nil, dir, "psbt"},
		{"empty prefix", []string{"A"}, dir, ""},
		{"prefix with directory", []string{"A"}, dir, "sub/psbt"},
		{"prefix dot-dot", []string{"A"}, dir, ".."},
		{"frame too long", []string{"A", strings.Repeat("a", 3000)}, dir, "psbt"},
		{"missing directory", []string{"A"}, filepath.Join(dir, "missing"), "psbt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if paths, err := WritePNGs(tc.frames, tc.dir, tc.prefix, DefaultOptions()); err == nil {
				t.Fatalf("WritePNGs wrote %v, want an error", paths)
			}
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("refused calls left %d files behind", len(entries))
	}
}

func TestWriteGIFRoundTrip(t *testing.T) {
	// Different lengths give different versions, so padding is exercised.
	frames := []string{"UR:BYTES/1-4/AB", urLikePart(300, 20), urLikePart(80, 21), strings.ToLower(urLikePart(200, 22))}
	opt := Options{ModulePixels: 4, Level: LevelL, Border: 4}
	var buf bytes.Buffer
	if err := WriteGIF(&buf, frames, 250*time.Millisecond, opt); err != nil {
		t.Fatal(err)
	}
	anim, err := gif.DecodeAll(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if anim.LoopCount != 0 {
		t.Errorf("loop count %d, want 0 (forever)", anim.LoopCount)
	}
	if len(anim.Image) != len(frames) {
		t.Fatalf("%d frames, want %d", len(anim.Image), len(frames))
	}
	largest := 0
	for _, f := range frames {
		v, err := SymbolVersion(f, opt.Level)
		if err != nil {
			t.Fatal(err)
		}
		largest = max(largest, 4*v+17)
	}
	wantRect := image.Rect(0, 0, (largest+2*opt.Border)*opt.ModulePixels, (largest+2*opt.Border)*opt.ModulePixels)
	for i, img := range anim.Image {
		if img.Bounds() != wantRect {
			t.Errorf("frame %d is %v, want %v", i+1, img.Bounds(), wantRect)
		}
		if anim.Delay[i] != 25 {
			t.Errorf("frame %d delay %d centiseconds, want 25", i+1, anim.Delay[i])
		}
		if !samePalette(img.Palette, color.Palette{color.White, color.Black}) {
			t.Errorf("frame %d palette %v, want white and black", i+1, img.Palette)
		}
	}
	got, err := DecodeBytes(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(frames) {
		t.Fatalf("decoded %d frames, want %d", len(got), len(frames))
	}
	for i := range frames {
		if got[i] != frames[i] {
			t.Errorf("frame %d: got %q, want %q", i+1, got[i], frames[i])
		}
	}
}

func samePalette(a, b color.Palette) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		r1, g1, b1, a1 := a[i].RGBA()
		r2, g2, b2, a2 := b[i].RGBA()
		if r1 != r2 || g1 != g2 || b1 != b2 || a1 != a2 {
			return false
		}
	}
	return true
}

func TestWriteGIFDelayBounds(t *testing.T) {
	tests := []struct {
		delay time.Duration
		ok    bool
	}{
		{MinGIFDelay - time.Millisecond, false},
		{MinGIFDelay, true},
		{MaxGIFDelay, true},
		{MaxGIFDelay + 10*time.Millisecond, false},
		{0, false},
		{-time.Second, false},
	}
	for _, tc := range tests {
		err := WriteGIF(&bytes.Buffer{}, []string{"A"}, tc.delay, Options{ModulePixels: 1, Border: 1})
		if (err == nil) != tc.ok {
			t.Errorf("delay %v: error %v, want ok=%v", tc.delay, err, tc.ok)
		}
	}
	if err := WriteGIF(&bytes.Buffer{}, nil, time.Second, DefaultOptions()); err == nil {
		t.Error("WriteGIF with no frames succeeded")
	}
}
