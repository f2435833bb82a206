//go:build unix

package passphrase

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestPassphraseFileMustBePrivate(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("correct horse\nignored\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	private := write("private", 0o600)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(private, link); err != nil {
		t.Fatal(err)
	}
	foreign := write("foreign", 0o600)
	if os.Getuid() == 0 {
		if err := os.Chown(foreign, 12345, 12345); err != nil {
			t.Fatal(err)
		}
	} else {
		foreign = "" // only root can give a file away; the case below is skipped
	}
	for _, tc := range []struct {
		name, path string
		want       error // nil: read
	}{
		{"0600", private, nil},
		{"0400", write("readonly", 0o400), nil},
		{"group-readable", write("group", 0o640), ErrFileExposed},
		{"world-readable", write("world", 0o644), ErrFileExposed},
		{"a directory", dir, ErrFileExposed},
		{"a symlink", link, os.ErrNotExist}, // O_NOFOLLOW: ELOOP
		{"missing", filepath.Join(dir, "none"), os.ErrNotExist},
		{"another user's", foreign, ErrFileExposed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.path == "" {
				t.Skip("giving a file to another user needs root")
			}
			got, err := Read("", Options{File: tc.path})
			switch {
			case tc.want == nil:
				if err != nil || !bytes.Equal(got, []byte("correct horse")) {
					t.Fatalf("got %q, %v", got, err)
				}
			case tc.want == os.ErrNotExist:
				if err == nil {
					t.Fatalf("read %q from %s", got, tc.path)
				}
			default:
				if !errors.Is(err, tc.want) || got != nil {
					t.Fatalf("got %q, %v; want %v", got, err, tc.want)
				}
			}
		})
	}
}
