//go:build unix

package passphrase

import (
	"fmt"
	"os"
	"syscall"
)

// openFile opens a passphrase file after checking it is private: a regular
// file (not a symlink, so the check is about the file that is read), owned
// by this process's user, with no permission bits for group or others.
func openFile(path string) (source, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, fmt.Errorf("passphrase file: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("passphrase file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrFileExposed, path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		f.Close()
		return nil, fmt.Errorf("%w: %s has mode %04o; make it 0600 (chmod 600 %s)", ErrFileExposed, path, perm, path)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		f.Close()
		return nil, fmt.Errorf("%w: %s is owned by uid %d, not by uid %d that runs this program", ErrFileExposed, path, st.Uid, os.Getuid())
	}
	return &lineSource{r: f, closeFn: f.Close}, nil
}
