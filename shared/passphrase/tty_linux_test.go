//go:build linux

package passphrase

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pty is a pseudo-terminal: the test plays the person at master, the code
// under test reads slave as its terminal.
type pty struct {
	master, slave *os.File

	mu     sync.Mutex
	output bytes.Buffer // everything the terminal showed
	done   chan struct{}
}

func openPTY(t *testing.T) *pty {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetUint32(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	slave, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := &pty{master: master, slave: slave, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		buf := make([]byte, 256)
		for {
			n, err := master.Read(buf)
			p.mu.Lock()
			p.output.Write(buf[:n])
			p.mu.Unlock()
			if err != nil { // EIO once the slave is closed
				return
			}
		}
	}()
	t.Cleanup(func() {
		slave.Close()
		master.Close()
		<-p.done
	})
	return p
}

func (p *pty) shown() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.output.String()
}

func (p *pty) echoOn(t *testing.T) bool {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(p.slave.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return tio.Lflag&unix.ECHO != 0
}

// waitUntil polls cond; the bound only keeps a broken test from hanging.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 2000; i++ {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("gave up waiting for %s", what)
}

// typeAfterPrompt waits for the n-th appearance of prompt and for echo to
// be off, then types line as a person would.
func (p *pty) typeAfterPrompt(t *testing.T, prompt string, n int, line string) {
	t.Helper()
	waitUntil(t, fmt.Sprintf("prompt %q #%d", prompt, n), func() bool { return strings.Count(p.shown(), prompt) >= n })
	waitUntil(t, "echo to be turned off", func() bool { return !p.echoOn(t) })
	if _, err := p.master.WriteString(line); err != nil {
		t.Error(err)
	}
}

type result struct {
	pass []byte
	err  error
}

func TestTerminalReadsWithoutEcho(t *testing.T) {
	p := openPTY(t)
	if !p.echoOn(t) {
		t.Fatal("a new pty should echo")
	}
	res := make(chan result, 1)
	go func() {
		src := &ttySource{in: p.slave, out: p.slave}
		pass, err := readOne(src, "Keystore passphrase: ")
		res <- result{pass, err}
	}()
	p.typeAfterPrompt(t, "Keystore passphrase: ", 1, "hunter22 with spaces\r")
	r := <-res
	if r.err != nil || string(r.pass) != "hunter22 with spaces" {
		t.Fatalf("read %q, %v", r.pass, r.err)
	}
	if !p.echoOn(t) {
		t.Error("echo was not turned back on")
	}
	p.slave.Close()
	<-p.done
	if out := p.shown(); strings.Contains(out, "hunter22") {
		t.Errorf("the passphrase was echoed: terminal shows %q", out)
	}
}

func TestTerminalReadNewAsksTwice(t *testing.T) {
	tests := []struct {
		name          string
		first, second string
		want          string
		wantErr       error
	}{
		{"matching", "hunter22\r", "hunter22\r", "hunter22", nil},
		{"mistyped", "hunter22\r", "hunter23\r", "", ErrMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := openPTY(t)
			res := make(chan result, 1)
			go func() {
				pass, err := readNew(&ttySource{in: p.slave, out: p.slave}, "New passphrase: ")
				res <- result{pass, err}
			}()
			p.typeAfterPrompt(t, "New passphrase: ", 1, tt.first)
			p.typeAfterPrompt(t, confirmPrompt, 1, tt.second)
			r := <-res
			if !errors.Is(r.err, tt.wantErr) || (tt.wantErr == nil) != (r.err == nil) || string(r.pass) != tt.want {
				t.Fatalf("got %q, %v; want %q, %v", r.pass, r.err, tt.want, tt.wantErr)
			}
			if !p.echoOn(t) {
				t.Error("echo was not turned back on")
			}
		})
	}
}

// A --passphrase-fd that is a terminal is read without echo too.
func TestReadFromFDThatIsATerminal(t *testing.T) {
	p := openPTY(t)
	res := make(chan result, 1)
	go func() {
		pass, err := Read("", Options{FromFD: true, FD: int(p.slave.Fd())})
		res <- result{pass, err}
	}()
	// The prompt goes to standard error; wait for echo to go off instead.
	waitUntil(t, "echo to be turned off", func() bool { return !p.echoOn(t) })
	if _, err := p.master.WriteString("s3cret-fd\r"); err != nil {
		t.Fatal(err)
	}
	r := <-res
	if r.err != nil || string(r.pass) != "s3cret-fd" {
		t.Fatalf("read %q, %v", r.pass, r.err)
	}
	p.slave.Close()
	<-p.done
	if strings.Contains(p.shown(), "s3cret") {
		t.Errorf("the passphrase was echoed: terminal shows %q", p.shown())
	}
}

// Enter alone is no passphrase. (Ctrl-D is not end of input here: x/term
// ignores it and keeps reading; Ctrl-C is the way out.)
func TestTerminalEmptyLine(t *testing.T) {
	p := openPTY(t)
	res := make(chan result, 1)
	go func() {
		pass, err := readOne(&ttySource{in: p.slave, out: p.slave}, "Passphrase: ")
		res <- result{pass, err}
	}()
	p.typeAfterPrompt(t, "Passphrase: ", 1, "\r")
	if r := <-res; !errors.Is(r.err, ErrEmpty) {
		t.Fatalf("got %q, %v; want ErrEmpty", r.pass, r.err)
	}
	if !p.echoOn(t) {
		t.Error("echo was not turned back on")
	}
}
