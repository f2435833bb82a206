//go:build !unix

package passphrase

import "errors"

func openSource(Options) (source, error) {
	return nil, errors.New("reading a passphrase is supported on Unix-like systems only")
}
