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
	"syscall"
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
// directory or either GIF. It returns the paths (Paths).
//
// Every file is rendered first into a hidden directory of its own in dir
// (.topup-ID.partial-*), then moved to its name without replacing anything
// (a link for a file, a rename for a frame directory): a name appears with
// its whole content or not at all, so a writer killed midway leaves only
// the hidden directory. The encodings are deterministic (the same PSBT
// gives the same bytes, PNG and GIF alike), so a name that already holds
// exactly the bytes this call would write is kept: writing an export again,
// or after a writer died halfway, completes it. A name holding anything
// else is refused (os.ErrExist), and left as it is.
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
	frames := map[transport.Format][]string{}
	for _, f := range []transport.Format{transport.UR, transport.BBQr} {
		fr, err := transport.Frames(raw.Bytes(), f, transport.Medium)
		if err != nil {
			return nil, fmt.Errorf("top-up files: %s frames: %w", f, err)
		}
		frames[f] = fr
	}
	tmp, err := os.MkdirTemp(dir, fmt.Sprintf(".topup-%d.partial-", x.ID))
	if err != nil {
		return nil, fmt.Errorf("top-up files: %w", err)
	}
	defer os.RemoveAll(tmp) // what was not moved into place
	paths := Paths(dir, x.ID)
	staged := make([]string, len(paths))
	for i, p := range paths {
		staged[i] = filepath.Join(tmp, filepath.Base(p))
	}
	write := func(path string, w func(io.Writer) error) error {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return fmt.Errorf("top-up files: %w", err)
		}
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
	if err := write(staged[0], func(w io.Writer) error { _, err := w.Write(raw.Bytes()); return err }); err != nil {
		return nil, err
	}
	if err := write(staged[1], func(w io.Writer) error {
		_, err := io.WriteString(w, base64.StdEncoding.EncodeToString(raw.Bytes())+"\n")
		return err
	}); err != nil {
		return nil, err
	}
	for i, f := range []transport.Format{transport.UR, transport.BBQr} {
		if err := os.Mkdir(staged[2+i], 0o755); err != nil {
			return nil, fmt.Errorf("top-up files: %w", err)
		}
		if _, err := qrimage.WritePNGs(frames[f], staged[2+i], f.String(), qrimage.DefaultOptions()); err != nil {
			return nil, err
		}
		if err := write(staged[4+i], func(w io.Writer) error {
			return qrimage.WriteGIF(w, frames[f], gifDelay, qrimage.DefaultOptions())
		}); err != nil {
			return nil, err
		}
	}
	for i, p := range paths {
		if err := place(staged[i], p); err != nil {
			return nil, err
		}
	}
	return paths, nil
}

// place moves staged to path, never replacing what is there: a path that
// already holds the same content is kept.
func place(staged, path string) error {
	st, err := os.Lstat(staged)
	if err != nil {
		return fmt.Errorf("top-up files: %w", err)
	}
	if _, err := os.Lstat(path); err == nil {
		return same(staged, path)
	}
	if st.IsDir() {
		// rename(2) replaces an empty directory: none is ever left at a
		// final name by this writer, and Lstat above saw none.
		err = os.Rename(staged, path)
	} else {
		err = os.Link(staged, path)
	}
	if errors.Is(err, os.ErrExist) || errors.Is(err, syscall.ENOTEMPTY) {
		return same(staged, path)
	}
	if err != nil {
		return fmt.Errorf("top-up files: %w", err)
	}
	return syncDir(filepath.Dir(path))
}

// same is nil when path holds what staged holds (a file's bytes, or a
// directory's file names and their bytes), else an error wrapping
// os.ErrExist.
func same(staged, path string) error {
	differs := fmt.Errorf("top-up files: %s exists with other content; write into another directory (--dir) or remove the old files: %w", path, os.ErrExist)
	a, err := os.Lstat(staged)
	if err != nil {
		return fmt.Errorf("top-up files: %w", err)
	}
	b, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("top-up files: %w", err)
	}
	if a.IsDir() != b.IsDir() || !b.Mode().IsRegular() && !b.IsDir() {
		return differs
	}
	if !a.IsDir() {
		x, err := os.ReadFile(staged)
		if err != nil {
			return fmt.Errorf("top-up files: %w", err)
		}
		y, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("top-up files: %w", err)
		}
		if !bytes.Equal(x, y) {
			return differs
		}
		return nil
	}
	xs, err := os.ReadDir(staged)
	if err != nil {
		return fmt.Errorf("top-up files: %w", err)
	}
	ys, err := os.ReadDir(path)
	if err != nil {
		return fmt.Errorf("top-up files: %w", err)
	}
	if len(xs) != len(ys) {
		return differs
	}
	for i := range xs {
		if xs[i].Name() != ys[i].Name() {
			return differs
		}
		if err := same(filepath.Join(staged, xs[i].Name()), filepath.Join(path, ys[i].Name())); err != nil {
			return differs
		}
	}
	return nil
}

// syncDir makes a new name in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("top-up files: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("top-up files: syncing %s: %w", dir, err)
	}
	return nil
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
