package transport

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/cryptoassets/cryptoassets/shared/psbt/qrimage"
)

// PSBT → frames → PNG files → decoded from the files, shuffled → the same
// bytes, in both formats, up to 100 kB.
func TestRoundTripThroughPNGFiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	opt := qrimage.DefaultOptions()
	opt.ModulePixels = 3 // small images keep the test quick; still real PNG files
	for _, tc := range []struct {
		format  Format
		density Density
		size    int
	}{
		{UR, Medium, 1_000},
		{BBQr, Medium, 1_000},
		{UR, High, 100_000},
		{BBQr, High, 100_000},
	} {
		t.Run(fmt.Sprintf("%v-%d", tc.format, tc.size), func(t *testing.T) {
			psbt := fakePSBT(tc.size, uint64(tc.size))
			frames, err := Frames(psbt, tc.format, tc.density)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			paths, err := qrimage.WritePNGs(frames, dir, "frame", opt)
			if err != nil {
				t.Fatal(err)
			}
			rng.Shuffle(len(paths), func(i, j int) { paths[i], paths[j] = paths[j], paths[i] })
			a := NewAssembler()
			for _, p := range paths {
				if a.Complete() {
					break
				}
				texts, err := qrimage.DecodeFile(p)
				if err != nil {
					t.Fatalf("%s: %v", filepath.Base(p), err)
				}
				for _, text := range texts {
					if err := a.Add(text); err != nil {
						t.Fatal(err)
					}
				}
			}
			got, err := a.PSBT()
			if err != nil || !bytes.Equal(got, psbt) {
				t.Fatalf("round trip through %d PNG files: %v", len(paths), err)
			}
		})
	}
}
