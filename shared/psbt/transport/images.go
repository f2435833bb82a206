package transport

import (
	"fmt"

	"github.com/cryptoassets/cryptoassets/shared/psbt/qrimage"
)

// ReadImages assembles a PSBT from QR image files (PNG, JPEG or animated
// GIF frames) in any order, calling progress after each file when given.
func ReadImages(paths []string, progress func(path string, have, need int)) ([]byte, error) {
	a := NewAssembler()
	for _, path := range paths {
		frames, err := qrimage.DecodeFile(path)
		if err != nil {
			return nil, err
		}
		for _, f := range frames {
			if err := a.Add(f); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
		}
		if progress != nil {
			have, need := a.Progress()
			progress(path, have, need)
		}
	}
	return a.PSBT()
}
