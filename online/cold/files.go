package cold

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cryptoassets/cryptoassets/shared/psbt/qrimage"
	"github.com/cryptoassets/cryptoassets/shared/psbt/transport"
)

// gifDelay is how long each frame of an animated QR stays on screen: long
// enough for a phone or webcam to read it.
const gifDelay = 400 * time.Millisecond

// Paths are what WriteFiles writes for top-up id into dir: the PSBT in
// binary and base64, the UR and BBQr frame directories (one PNG per frame)
// and the two animated GIFs.
func Paths(dir string, id int64) []string {
	base := filepath.Join(dir, fmt.Sprintf("topup-%d", id))
	return []string{base + ".psbt", base + ".psbt.base64", base + "-ur", base + "-bbqr", base + "-ur.gif", base + "-bbqr.gif"}
}

// WriteFiles writes the export's unsigned PSBT into dir (created if
// missing) in every form the air-gapped signer reads: `cryptoassets-signer
// sign` takes the .psbt file, and `sign --qr` the PNG frames of either
// directory or either GIF. It never overwrites a file: writing an export
// again needs another directory, or the old files removed. It returns the
// paths written.
func WriteFiles(dir string, x Export) ([]string, error) {
	if x.PSBT == nil {
		return nil, errors.New("top-up files: the export has no PSBT")
	}
	var raw bytes.Buffer
	if err := x.PSBT.Serialize(&raw); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("top-up files: %w", err)
	}
	paths := Paths(dir, x.ID)
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			return nil, fmt.Errorf("top-up files: %s exists; write into another directory (--dir) or remove the old files: %w", p, os.ErrExist)
		}
	}
	frames := map[transport.Format][]string{}
	for _, f := range []transport.Format{transport.UR, transport.BBQr} {
		fr, err := transport.Frames(raw.Bytes(), f, transport.Medium)
		if err != nil {
			return nil, fmt.Errorf("top-up files: %s frames: %w", f, err)
		}
		frames[f] = fr
	}
	var written []string
	fail := func(err error) ([]string, error) {
		for i := len(written) - 1; i >= 0; i-- {
			os.RemoveAll(written[i]) // best effort: these are files this call created
		}
		return nil, err
	}
	write := func(path string, w func(io.Writer) error) error {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return fmt.Errorf("top-up files: %w", err)
		}
		written = append(written, path)
		werr := w(f)
		if werr == nil {
			werr = f.Sync()
		}
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return fmt.Errorf("top-up files: writing %s: %w", path, werr)
		}
		return nil
	}
	if err := write(paths[0], func(w io.Writer) error { _, err := w.Write(raw.Bytes()); return err }); err != nil {
		return fail(err)
	}
	if err := write(paths[1], func(w io.Writer) error {
		_, err := io.WriteString(w, base64.StdEncoding.EncodeToString(raw.Bytes())+"\n")
		return err
	}); err != nil {
		return fail(err)
	}
	for i, f := range []transport.Format{transport.UR, transport.BBQr} {
		d := paths[2+i]
		if err := os.Mkdir(d, 0o755); err != nil {
			return fail(fmt.Errorf("top-up files: %w", err))
		}
		written = append(written, d)
		if _, err := qrimage.WritePNGs(frames[f], d, f.String(), qrimage.DefaultOptions()); err != nil {
			return fail(err)
		}
		if err := write(paths[4+i], func(w io.Writer) error {
			return qrimage.WriteGIF(w, frames[f], gifDelay, qrimage.DefaultOptions())
		}); err != nil {
			return fail(err)
		}
	}
	return paths, nil
}

// Terminal renders the export's frames in format for a terminal, one QR
// code per frame, to show in turn (or scan one after another).
func Terminal(x Export, format transport.Format) ([]string, error) {
	var raw bytes.Buffer
	if err := x.PSBT.Serialize(&raw); err != nil {
		return nil, err
	}
	frames, err := transport.Frames(raw.Bytes(), format, transport.Low)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(frames))
	for i, f := range frames {
		s, err := qrimage.Terminal(f)
		if err != nil {
			return nil, err
		}
		out[i] = strings.TrimRight(s, "\n")
	}
	return out, nil
}
