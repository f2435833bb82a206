package passphrase

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"testing/iotest"
)

func TestLineSource(t *testing.T) {
	long := strings.Repeat("x", MaxLength)
	readErr := errors.New("device unplugged")
	tests := []struct {
		name     string
		r        io.Reader
		want     string
		wantErr  error
		wantRest string // what is left unread
	}{
		{name: "newline", r: strings.NewReader("secret\n"), want: "secret"},
		{name: "CRLF", r: strings.NewReader("secret\r\n"), want: "secret"},
		{name: "end of input without newline", r: strings.NewReader("secret"), want: "secret"},
		{name: "spaces are kept", r: strings.NewReader(" sec ret \n"), want: " sec ret "},
		{name: "a lone CR inside is kept", r: strings.NewReader("a\rb\n"), want: "a\rb"},
		{name: "non-ASCII", r: strings.NewReader("pässwörd\n"), want: "pässwörd"},
		{name: "stops at the first newline", r: strings.NewReader("first\nsecond\n"), want: "first", wantRest: "second\n"},
		{name: "one byte at a time", r: iotest.OneByteReader(strings.NewReader("secret\n")), want: "secret"},
		{name: "data with EOF", r: iotest.DataErrReader(strings.NewReader("secret")), want: "secret"},
		{name: "empty input", r: strings.NewReader(""), wantErr: ErrEmpty},
		{name: "empty line", r: strings.NewReader("\nsecret\n"), wantErr: ErrEmpty, wantRest: "secret\n"},
		{name: "CRLF only", r: strings.NewReader("\r\n"), wantErr: ErrEmpty},
		{name: "longest accepted", r: strings.NewReader(long + "\n"), want: long},
		{name: "one byte too long", r: strings.NewReader(long + "x\n"), wantErr: ErrTooLong, wantRest: "\n"},
		{name: "endless input", r: strings.NewReader(strings.Repeat("y", 10*MaxLength)), wantErr: ErrTooLong, wantRest: strings.Repeat("y", 9*MaxLength-1)},
		{name: "read error", r: io.MultiReader(strings.NewReader("sec"), iotest.ErrReader(readErr)), wantErr: readErr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readOne(&lineSource{r: tt.r}, "")
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v, want %v", err, tt.wantErr)
				}
				if got != nil {
					t.Errorf("returned %q with an error", got)
				}
			} else if err != nil || string(got) != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
			if sr, ok := tt.r.(*strings.Reader); ok {
				rest, _ := io.ReadAll(sr)
				if string(rest) != tt.wantRest {
					t.Errorf("left %d bytes unread (%.20q), want %d", len(rest), rest, len(tt.wantRest))
				}
			}
		})
	}
}

// fakeSource answers each ask with the next of its answers and records the
// prompts.
type fakeSource struct {
	answers []string
	person  bool
	prompts []string
}

func (f *fakeSource) ask(prompt string) ([]byte, error) {
	f.prompts = append(f.prompts, prompt)
	if len(f.answers) == 0 {
		return nil, io.EOF
	}
	a := f.answers[0]
	f.answers = f.answers[1:]
	return []byte(a), nil
}
func (f *fakeSource) interactive() bool { return f.person }
func (f *fakeSource) close()            {}

func TestReadNew(t *testing.T) {
	tests := []struct {
		name        string
		src         *fakeSource
		want        string
		wantErr     error
		wantPrompts int
	}{
		{"a person, matching", &fakeSource{answers: []string{"hunter22", "hunter22"}, person: true}, "hunter22", nil, 2},
		{"a person, mistyped", &fakeSource{answers: []string{"hunter22", "hunter23"}, person: true}, "", ErrMismatch, 2},
		{"a person, confirmation shorter", &fakeSource{answers: []string{"hunter22", "hunter2"}, person: true}, "", ErrMismatch, 2},
		{"a person, too short: not asked again", &fakeSource{answers: []string{"hunter2"}, person: true}, "", ErrTooShort, 1},
		{"a person, empty", &fakeSource{answers: []string{""}, person: true}, "", ErrEmpty, 1},
		{"a person, confirmation missing", &fakeSource{answers: []string{"hunter22"}, person: true}, "", io.EOF, 2},
		{"seven two-byte characters are seven", &fakeSource{answers: []string{"ééééééé"}, person: true}, "", ErrTooShort, 1},
		{"eight two-byte characters are enough", &fakeSource{answers: []string{"éééééééé", "éééééééé"}, person: true}, "éééééééé", nil, 2},
		{"a script: asked once", &fakeSource{answers: []string{"hunter22", "other"}}, "hunter22", nil, 1},
		{"a script, too short", &fakeSource{answers: []string{"short"}}, "", ErrTooShort, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readNew(tt.src, "New passphrase: ")
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if string(got) != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if len(tt.src.prompts) != tt.wantPrompts {
				t.Errorf("asked %d times (%q), want %d", len(tt.src.prompts), tt.src.prompts, tt.wantPrompts)
			}
			if len(tt.src.prompts) > 0 && tt.src.prompts[0] != "New passphrase: " {
				t.Errorf("first prompt %q", tt.src.prompts[0])
			}
		})
	}
	_, err := readNew(&fakeSource{answers: []string{"short"}}, "")
	if err == nil || !strings.Contains(err.Error(), "at least 8") {
		t.Errorf("too-short error %q does not give the minimum", err)
	}
}

// --passphrase-fd through a real pipe: each Read takes one line, and the
// caller's descriptor stays open.
func TestReadFromFD(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := w.WriteString("first passphrase\nshort\nthird one\r\n"); err != nil {
		t.Fatal(err)
	}
	w.Close()
	opts := Options{FromFD: true, FD: int(r.Fd())}

	got, err := Read("unused prompt", opts)
	if err != nil || string(got) != "first passphrase" {
		t.Fatalf("first Read: %q, %v", got, err)
	}
	if _, err := ReadNew("unused prompt", opts); !errors.Is(err, ErrTooShort) {
		t.Fatalf("ReadNew of a short line: %v, want ErrTooShort", err)
	}
	got, err = ReadNew("unused prompt", opts)
	if err != nil || string(got) != "third one" {
		t.Fatalf("ReadNew: %q, %v", got, err)
	}
	if _, err := Read("", opts); !errors.Is(err, ErrEmpty) {
		t.Fatalf("Read at end of input: %v, want ErrEmpty", err)
	}
	// Our descriptor is still ours to use and close.
	if rest, err := io.ReadAll(r); err != nil || len(rest) != 0 {
		t.Errorf("reading the pipe after: %q, %v", rest, err)
	}
}

func TestReadFromBadFD(t *testing.T) {
	// Far above any open descriptor (a just-closed one could be reused).
	const notOpen = 1 << 20
	for _, fd := range []int{-1, notOpen} {
		_, err := Read("", Options{FromFD: true, FD: fd})
		if err == nil || !strings.Contains(err.Error(), "descriptor") {
			t.Errorf("Read from fd %d: %v, want an error about the descriptor", fd, err)
		}
	}
}

func TestReadFromFDRefusesOverlongLine(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	go func() {
		w.Write(bytes.Repeat([]byte("z"), 4*MaxLength))
		w.Close()
	}()
	if _, err := Read("", Options{FromFD: true, FD: int(r.Fd())}); !errors.Is(err, ErrTooLong) {
		t.Errorf("Read: %v, want ErrTooLong", err)
	}
}
