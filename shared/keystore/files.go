package keystore

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// fileMode is the only mode Create writes; Open refuses any group or other
// permission bit.
const fileMode = 0o600

// checkCreatable reports whether a new keystore may be written at path:
// nothing there yet, and a directory other users cannot write to (they
// could replace or remove the file).
func checkCreatable(path string) error {
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("keystore: directory for %s: %w", path, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("keystore: %s is not a directory", dir)
	}
	if fi.Mode().Perm()&0o002 != 0 {
		return fmt.Errorf("keystore: %w: directory %s (mode %04o) is writable by every user; "+
			"keep the keystore in a private directory, or fix this one with: chmod o-w %s",
			ErrInsecurePermissions, dir, fi.Mode().Perm(), dir)
	}
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("keystore: %s already exists; refusing to overwrite it: %w", path, fs.ErrExist)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("keystore: %w", err)
	}
	return nil
}

// writeNew writes data to a new file at path, mode 0600, so that path holds
// either nothing or the whole file, even after a crash, and an existing file
// is never replaced: the data goes to a temporary file (created O_EXCL),
// which is synced and then hard-linked to path; link fails if path exists,
// where rename would clobber it.
func writeNew(path string, data []byte) (err error) {
	if err := checkCreatable(path); err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("keystore: creating a temporary file: %w", err)
	}
	tmpName := tmp.Name()
	defer func() {
		// The temporary name goes whether or not the link was made.
		if rmErr := os.Remove(tmpName); rmErr != nil && err == nil && !errors.Is(rmErr, fs.ErrNotExist) {
			err = fmt.Errorf("keystore: removing %s: %w", tmpName, rmErr)
		}
	}()
	// CreateTemp asks for 0600, but the umask could have taken the owner's
	// bits away; say exactly what we want.
	if err := tmp.Chmod(fileMode); err != nil {
		tmp.Close()
		return fmt.Errorf("keystore: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("keystore: writing %s: %w", tmpName, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("keystore: syncing %s: %w", tmpName, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("keystore: %s already exists; refusing to overwrite it: %w", path, fs.ErrExist)
		}
		return fmt.Errorf("keystore: linking %s into place (the file system must support hard links): %w", path, err)
	}
	return syncDir(dir)
}

// syncDir makes a new directory entry durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("keystore: syncing directory %s: %w", dir, err)
	}
	return nil
}

// readPrivateFile reads a keystore file after checking it is a regular file
// that only its owner can read or write, and no larger than maxFileSize.
func readPrivateFile(path string) ([]byte, error) {
	// Stat before opening: opening a FIFO or device could block or worse.
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("keystore %s: %w: not a regular file", path, ErrMalformed)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	defer f.Close()
	// Check what was opened, which is what will be read.
	if fi, err = f.Stat(); err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("keystore %s: %w: not a regular file", path, ErrMalformed)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("keystore %s: %w: mode %04o gives other users access to it; "+
			"fix it with: chmod 600 %s", path, ErrInsecurePermissions, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("keystore: reading %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("keystore %s: %w: larger than %d bytes", path, ErrMalformed, maxFileSize)
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("keystore %s: %w: the file is empty", path, ErrMalformed)
	}
	return data, nil
}
