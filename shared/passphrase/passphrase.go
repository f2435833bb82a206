package passphrase

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

const (
	// MinLength is the fewest characters (Unicode code points) ReadNew
	// accepts.
	MinLength = 8
	// MaxLength bounds a passphrase, in bytes.
	MaxLength = 1024
)

// confirmPrompt is ReadNew's second question.
const confirmPrompt = "Repeat the passphrase: "

// Errors callers can branch on with errors.Is.
var (
	ErrEmpty       = errors.New("no passphrase entered")
	ErrTooLong     = fmt.Errorf("passphrase longer than %d bytes", MaxLength)
	ErrTooShort    = errors.New("passphrase too short")
	ErrMismatch    = errors.New("the two passphrases differ")
	ErrNoTerminal  = errors.New("no terminal to ask for the passphrase on")
	ErrFileExposed = errors.New("the passphrase file is not private to its owner")
)

// Options says where the passphrase comes from.
type Options struct {
	// FromFD reads the passphrase from file descriptor FD (--passphrase-fd)
	// instead of the terminal.
	FromFD bool
	FD     int
	// File reads the passphrase from the first line of this file (the
	// service's hot_passphrase_file). It must be a regular file owned by
	// this process's user and readable by no one else (mode 0600 or 0400).
	File string
}

// Read returns one passphrase, showing prompt when a person is asked.
func Read(prompt string, opts Options) ([]byte, error) {
	src, err := openSource(opts)
	if err != nil {
		return nil, err
	}
	defer src.close()
	return readOne(src, prompt)
}

// ReadNew returns a new passphrase of at least MinLength characters. When
// a person types it, it is asked twice and the two must match; from a file
// descriptor it is read once.
func ReadNew(prompt string, opts Options) ([]byte, error) {
	src, err := openSource(opts)
	if err != nil {
		return nil, err
	}
	defer src.close()
	return readNew(src, prompt)
}

// source is where passphrases come from.
type source interface {
	// ask shows prompt if a person is there and returns one passphrase
	// without its line ending.
	ask(prompt string) ([]byte, error)
	// interactive reports whether a person types (and may mistype).
	interactive() bool
	close()
}

func readOne(src source, prompt string) ([]byte, error) {
	p, err := src.ask(prompt)
	if err != nil {
		wipe(p)
		return nil, err
	}
	if len(p) > MaxLength {
		wipe(p)
		return nil, ErrTooLong
	}
	if len(p) == 0 {
		return nil, ErrEmpty
	}
	return p, nil
}

func readNew(src source, prompt string) ([]byte, error) {
	p, err := readOne(src, prompt)
	if err != nil {
		return nil, err
	}
	if n := utf8.RuneCount(p); n < MinLength {
		wipe(p)
		return nil, fmt.Errorf("%w: it has %d characters; use at least %d", ErrTooShort, n, MinLength)
	}
	if !src.interactive() {
		return p, nil
	}
	again, err := readOne(src, confirmPrompt)
	defer wipe(again)
	if err != nil {
		wipe(p)
		return nil, fmt.Errorf("confirming the passphrase: %w", err)
	}
	if subtle.ConstantTimeCompare(p, again) != 1 {
		wipe(p)
		return nil, ErrMismatch
	}
	return p, nil
}

// lineSource reads one line per passphrase from a descriptor or pipe.
type lineSource struct {
	r       io.Reader
	closeFn func() error
}

func (s *lineSource) interactive() bool { return false }

func (s *lineSource) close() {
	if s.closeFn != nil {
		s.closeFn()
	}
}

// ask reads up to and including the first newline, one byte at a time so
// that nothing after it is consumed, and gives up after MaxLength bytes
// without one. A final "\r" is dropped with the newline; end of input ends
// the line too.
func (s *lineSource) ask(string) ([]byte, error) {
	// Room for the longest accepted line, so append never moves the secret
	// and leaves a copy behind.
	buf := make([]byte, 0, MaxLength)
	var one [1]byte
	for {
		n, err := s.r.Read(one[:])
		if n == 1 {
			if one[0] == '\n' {
				if l := len(buf); l > 0 && buf[l-1] == '\r' {
					buf[l-1] = 0
					buf = buf[:l-1]
				}
				return buf, nil
			}
			if len(buf) == MaxLength {
				wipe(buf)
				return nil, ErrTooLong
			}
			buf = append(buf, one[0])
		}
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			wipe(buf)
			return nil, fmt.Errorf("reading the passphrase: %w", err)
		}
	}
}

func wipe(b []byte) { clear(b) }
