//go:build unix

package passphrase

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"
)

// openSource opens the passphrase's source: the descriptor opts names, or
// the terminal.
func openSource(opts Options) (source, error) {
	if opts.FromFD {
		return openFD(opts.FD)
	}
	if opts.File != "" {
		return openFile(opts.File)
	}
	if tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0); err == nil {
		return &ttySource{in: tty, out: tty, closeFn: tty.Close}, nil
	}
	if term.IsTerminal(int(os.Stdin.Fd())) {
		return &ttySource{in: os.Stdin, out: os.Stderr}, nil
	}
	return nil, fmt.Errorf("%w: run it on a terminal, or give the passphrase on a file descriptor (--passphrase-fd N)", ErrNoTerminal)
}

// openFD reads from a duplicate of fd, so closing ours leaves the caller's
// open, and an os.File finalizer can never close a descriptor we do not own.
func openFD(fd int) (source, error) {
	if fd < 0 {
		return nil, fmt.Errorf("passphrase file descriptor %d is not valid", fd)
	}
	dup, err := syscall.Dup(fd)
	if err != nil {
		return nil, fmt.Errorf("passphrase file descriptor %d is not open: %w", fd, err)
	}
	syscall.CloseOnExec(dup)
	f := os.NewFile(uintptr(dup), fmt.Sprintf("passphrase-fd-%d", fd))
	if term.IsTerminal(dup) {
		return &ttySource{in: f, out: os.Stderr, closeFn: f.Close}, nil
	}
	return &lineSource{r: f, closeFn: f.Close}, nil
}

// ttySource asks a person on a terminal, with echo off.
type ttySource struct {
	in      *os.File  // the terminal
	out     io.Writer // where prompts go
	closeFn func() error
}

func (s *ttySource) interactive() bool { return true }

func (s *ttySource) close() {
	if s.closeFn != nil {
		s.closeFn()
	}
}

func (s *ttySource) ask(prompt string) ([]byte, error) {
	fd := int(s.in.Fd())
	state, err := term.GetState(fd)
	if err != nil {
		return nil, fmt.Errorf("reading the terminal's settings: %w", err)
	}
	fmt.Fprint(s.out, prompt)
	stop := restoreOnSignal(fd, state, s.out)
	p, err := term.ReadPassword(fd)
	stop()
	// The Enter key was not echoed either.
	fmt.Fprintln(s.out)
	if errors.Is(err, io.EOF) && len(p) == 0 {
		return nil, fmt.Errorf("%w (end of input)", ErrEmpty)
	}
	if err != nil {
		wipe(p)
		return nil, fmt.Errorf("reading the passphrase from the terminal: %w", err)
	}
	return p, nil
}

// restoreOnSignal makes an interrupt or termination signal that arrives
// while echo is off restore the terminal first, then take its usual effect
// (the signal is sent again with our handler gone). It returns a function
// that ends this.
func restoreOnSignal(fd int, state *term.State, out io.Writer) (stop func()) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		select {
		case sig := <-sigs:
			term.Restore(fd, state)
			fmt.Fprintln(out)
			signal.Stop(sigs)
			if p, err := os.FindProcess(os.Getpid()); err == nil {
				p.Signal(sig)
			}
		case <-done:
		}
	}()
	return func() {
		close(done)
		<-finished
		signal.Stop(sigs)
	}
}
