//go:build unix

package keystore

import (
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Opening a FIFO would block until someone writes to it; Open must refuse
// it without opening.
func TestOpenRefusesFIFO(t *testing.T) {
	path := filepath.Join(privateDir(t), "seed.keystore")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := open(path, testPassphrase, testLimits)
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("open of a FIFO: %v, want a not-a-regular-file error", err)
	}
}
