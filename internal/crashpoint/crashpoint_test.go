package crashpoint

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// killMarker and pauseMarker are strings only the tagged build's Hit and
// Pause carry.
const (
	killMarker  = "crashpoint: killing at"
	pauseMarker = "pausepoint: stopping at"
)

// build compiles ./testdata/crasher, with the crashpoints tag or without.
func build(t *testing.T, tagged bool) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "crasher")
	args := []string{"build", "-o", bin}
	if tagged {
		args = append(args, "-tags", "crashpoints")
	}
	if out, err := exec.Command("go", append(args, "./testdata/crasher")...).CombinedOutput(); err != nil {
		t.Fatalf("go %v: %v\n%s", args, err, out)
	}
	return bin
}

// command prepares bin with the crash and pause variables set as env says
// (name=value each) and unset otherwise.
func command(bin string, env ...string) *exec.Cmd {
	cmd := exec.Command(bin)
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "CRYPTOASSETS_CRASH_AT=") && !strings.HasPrefix(e, "CRYPTOASSETS_PAUSE_AT=") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// run starts bin with CRYPTOASSETS_CRASH_AT=at (unset when empty) and
// returns its output and the signal that ended it, if one did.
func run(t *testing.T, bin, at string) (stdout, stderr string, code int, sig syscall.Signal) {
	t.Helper()
	var env []string
	if at != "" {
		env = append(env, "CRYPTOASSETS_CRASH_AT="+at)
	}
	return runWith(t, command(bin, env...))
}

func runWith(t *testing.T, cmd *exec.Cmd) (stdout, stderr string, code int, sig syscall.Signal) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("running %s: %v", cmd.Path, err)
	}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		sig = ws.Signal()
	}
	return out.String(), errOut.String(), ws.ExitStatus(), sig
}

// The tagged build dies by SIGKILL exactly at the hit the environment
// names, and not at all for another name or none.
func TestTaggedBuildDiesBySIGKILLAtTheNamedHit(t *testing.T) {
	bin := build(t, true)
	for _, c := range []struct {
		at       string
		killed   bool
		passed   int // "passed N" lines printed before the end
		code     int
		inStderr string
	}{
		{at: "", passed: 5},
		{at: "other.point", passed: 5},
		{at: "test.point", killed: true, passed: 0, inStderr: "killing at test.point (hit 1)"},
		{at: "test.point:1", killed: true, passed: 0, inStderr: "killing at test.point (hit 1)"},
		{at: "test.point:3", killed: true, passed: 2, inStderr: "killing at test.point (hit 3)"},
		{at: "test.point:6", passed: 5},
		{at: "test.point:0", code: 2, passed: 0, inStderr: "want NAME or NAME:N"},
		{at: "test.point:x", code: 2, passed: 0, inStderr: "want NAME or NAME:N"},
	} {
		t.Run(c.at, func(t *testing.T) {
			stdout, stderr, code, sig := run(t, bin, c.at)
			if c.killed != (sig == syscall.SIGKILL) || (!c.killed && code != c.code) {
				t.Fatalf("CRYPTOASSETS_CRASH_AT=%q: exit %d signal %v, want killed=%v exit %d\n%s%s", c.at, code, sig, c.killed, c.code, stdout, stderr)
			}
			if got := strings.Count(stdout, "passed "); got != c.passed {
				t.Fatalf("CRYPTOASSETS_CRASH_AT=%q: %d hits passed, want %d\n%s", c.at, got, c.passed, stdout)
			}
			if !strings.Contains(stdout, "enabled true") || !strings.Contains(stderr, c.inStderr) {
				t.Fatalf("CRYPTOASSETS_CRASH_AT=%q: output lacks %q\n%s%s", c.at, c.inStderr, stdout, stderr)
			}
		})
	}
}

// The tagged build stops itself (SIGSTOP) exactly at the pause the
// environment names, having run every step before it and none after, and
// goes on to the end once resumed by SIGCONT; another name, or none, never
// stops it; a malformed value ends it at once.
func TestTaggedBuildStopsAtTheNamedPauseUntilResumed(t *testing.T) {
	bin := build(t, true)
	for _, c := range []struct {
		at      string
		stopsAt int // the hit it stops at; 0: it never stops
		code    int
		passed  int // "passed N" lines by the end
		stderr  string
	}{
		{at: "other.pause", passed: 5},
		{at: "test.point", passed: 5}, // a crash point's name is not a pause point's
		{at: "test.pause", stopsAt: 1, passed: 5, stderr: "pausepoint: stopping at test.pause (hit 1)\npausepoint: resumed at test.pause\n"},
		{at: "test.pause:4", stopsAt: 4, passed: 5, stderr: "pausepoint: stopping at test.pause (hit 4)\npausepoint: resumed at test.pause\n"},
		{at: "test.pause:6", passed: 5},
		{at: "test.pause:0", code: 2, stderr: "pausepoint: CRYPTOASSETS_PAUSE_AT=\"test.pause:0\": want NAME or NAME:N with N >= 1\n"},
	} {
		t.Run(c.at, func(t *testing.T) {
			cmd := command(bin, "CRYPTOASSETS_PAUSE_AT="+c.at)
			if c.stopsAt == 0 {
				stdout, stderr, code, sig := runWith(t, cmd)
				if sig != 0 || code != c.code || strings.Count(stdout, "passed ") != c.passed || stderr != c.stderr {
					t.Fatalf("CRYPTOASSETS_PAUSE_AT=%q: exit %d signal %v, want exit %d, %d passed, stderr %q\n%s%s", c.at, code, sig, c.code, c.passed, c.stderr, stdout, stderr)
				}
				return
			}
			// Files, not pipes: what the process wrote before it stopped
			// is there to read while it is stopped.
			dir := t.TempDir()
			outF, err := os.Create(filepath.Join(dir, "stdout"))
			if err != nil {
				t.Fatal(err)
			}
			errF, err := os.Create(filepath.Join(dir, "stderr"))
			if err != nil {
				t.Fatal(err)
			}
			defer outF.Close()
			defer errF.Close()
			cmd.Stdout, cmd.Stderr = outF, errF
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Each time the process stops, note how far it got and resume
			// it, until it ends.
			var stops []int // "passed N" lines at each stop
			var ws syscall.WaitStatus
			for {
				if _, err := syscall.Wait4(cmd.Process.Pid, &ws, syscall.WUNTRACED, nil); err != nil {
					t.Fatal(err)
				}
				if !ws.Stopped() {
					break
				}
				if ws.StopSignal() != syscall.SIGSTOP {
					t.Fatalf("CRYPTOASSETS_PAUSE_AT=%q: stopped by %v", c.at, ws.StopSignal())
				}
				stdout, _ := os.ReadFile(outF.Name())
				stops = append(stops, strings.Count(string(stdout), "passed "))
				if err := cmd.Process.Signal(syscall.SIGCONT); err != nil {
					t.Fatal(err)
				}
			}
			_ = cmd.Process.Release() // reaped above
			if !ws.Exited() || ws.ExitStatus() != 0 {
				t.Fatalf("CRYPTOASSETS_PAUSE_AT=%q: resumed, the process ended with wait status %#x", c.at, ws)
			}
			if want := []int{c.stopsAt - 1}; !slices.Equal(stops, want) {
				t.Fatalf("CRYPTOASSETS_PAUSE_AT=%q: stopped with %v steps passed, want once, with %v", c.at, stops, want)
			}
			stdout, _ := os.ReadFile(outF.Name())
			stderr, _ := os.ReadFile(errF.Name())
			if got := strings.Count(string(stdout), "passed "); got != c.passed || string(stderr) != c.stderr {
				t.Fatalf("CRYPTOASSETS_PAUSE_AT=%q: resumed, %d steps passed, stderr %q; want %d and %q", c.at, got, stderr, c.passed, c.stderr)
			}
		})
	}
}

// Without the tag, which is how the shipped binaries are built, the same
// program ignores both variables: Hit and Pause are the empty functions.
func TestUntaggedBuildIgnoresTheCrashAndPauseVariables(t *testing.T) {
	bin := build(t, false)
	for _, env := range []string{
		"CRYPTOASSETS_CRASH_AT=test.point", "CRYPTOASSETS_CRASH_AT=test.point:1", "CRYPTOASSETS_CRASH_AT=test.point:0",
		"CRYPTOASSETS_PAUSE_AT=test.pause", "CRYPTOASSETS_PAUSE_AT=test.pause:1", "CRYPTOASSETS_PAUSE_AT=test.pause:0",
	} {
		stdout, stderr, code, sig := runWith(t, command(bin, env))
		if sig != 0 || code != 0 || strings.Count(stdout, "passed ") != 5 || !strings.Contains(stdout, "enabled false") {
			t.Fatalf("%s in an untagged build: exit %d signal %v\n%s%s", env, code, sig, stdout, stderr)
		}
	}
}

// The production binary links the no-ops: the package resolves to off.go
// without the tag, and the built cryptoassets program, which calls Hit at
// each step of a batch and Pause in each election's fence, carries none of
// the tagged file's code (its kill and stop messages), which the tagged
// crasher does.
func TestProductionBinaryLinksTheNoOpOnly(t *testing.T) {
	files := func(tags ...string) string {
		args := append([]string{"list", "-f", "{{join .GoFiles \" \"}}"}, tags...)
		out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
		if err != nil {
			t.Fatalf("go list: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := files(); got != "doc.go off.go" {
		t.Fatalf("without the tag the package builds from %q, want doc.go off.go", got)
	}
	if got := files("-tags", "crashpoints"); got != "doc.go on.go" {
		t.Fatalf("with the tag the package builds from %q, want doc.go on.go", got)
	}

	tagged, err := os.ReadFile(build(t, true))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{killMarker, pauseMarker} {
		if !bytes.Contains(tagged, []byte(m)) {
			t.Fatalf("the tagged crasher lacks %q: the check below would look for the wrong thing", m)
		}
	}
	// The service reaches its crash points, and the election its pause
	// point, through this package, so the check below looks at code that
	// really calls Hit and Pause.
	for _, pkg := range []string{"../../cmd/cryptoassets", "../../online/election"} {
		deps, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, deps)
		}
		if !slices.Contains(strings.Fields(string(deps)), "github.com/cryptoassets/cryptoassets/internal/crashpoint") {
			t.Fatalf("%s does not import internal/crashpoint: its points are not where this test looks", pkg)
		}
	}
	prod := filepath.Join(t.TempDir(), "cryptoassets")
	if out, err := exec.Command("go", "build", "-o", prod, "../../cmd/cryptoassets").CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/cryptoassets: %v\n%s", err, out)
	}
	b, err := os.ReadFile(prod)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{killMarker, pauseMarker} {
		if bytes.Contains(b, []byte(m)) {
			t.Fatalf("the production cryptoassets binary carries the crash or pause points' code (%q)", m)
		}
	}
}
