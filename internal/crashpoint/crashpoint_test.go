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

// killMarker is a string only the tagged build's Hit carries.
const killMarker = "crashpoint: killing at"

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

// run starts bin with CRYPTOASSETS_CRASH_AT=at (unset when empty) and
// returns its output and the signal that ended it, if one did.
func run(t *testing.T, bin, at string) (stdout, stderr string, code int, sig syscall.Signal) {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = os.Environ()
	for i, e := range cmd.Env {
		if strings.HasPrefix(e, "CRYPTOASSETS_CRASH_AT=") {
			cmd.Env[i] = "CRYPTOASSETS_CRASH_AT_UNSET="
		}
	}
	if at != "" {
		cmd.Env = append(cmd.Env, "CRYPTOASSETS_CRASH_AT="+at)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("running %s: %v", bin, err)
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

// Without the tag, which is how the shipped binaries are built, the same
// program ignores the variable: Hit is the empty function.
func TestUntaggedBuildIgnoresTheCrashVariable(t *testing.T) {
	bin := build(t, false)
	for _, at := range []string{"test.point", "test.point:1", "test.point:0"} {
		stdout, stderr, code, sig := run(t, bin, at)
		if sig != 0 || code != 0 || strings.Count(stdout, "passed ") != 5 || !strings.Contains(stdout, "enabled false") {
			t.Fatalf("CRYPTOASSETS_CRASH_AT=%q in an untagged build: exit %d signal %v\n%s%s", at, code, sig, stdout, stderr)
		}
	}
}

// The production binary links the no-op: the package resolves to off.go
// without the tag, and the built cryptoassets program, which calls Hit at
// each step of a batch, carries none of the tagged file's code (its kill
// message), which the tagged crasher does.
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
	if !bytes.Contains(tagged, []byte(killMarker)) {
		t.Fatalf("the tagged crasher lacks %q: the check below would look for the wrong thing", killMarker)
	}
	// The service reaches its crash points through this package, so the
	// check below looks at code that really calls Hit.
	deps, err := exec.Command("go", "list", "-deps", "../../cmd/cryptoassets").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps ./cmd/cryptoassets: %v\n%s", err, deps)
	}
	if !slices.Contains(strings.Fields(string(deps)), "github.com/cryptoassets/cryptoassets/internal/crashpoint") {
		t.Fatal("cmd/cryptoassets does not import internal/crashpoint: its crash points are not where this test looks")
	}
	prod := filepath.Join(t.TempDir(), "cryptoassets")
	if out, err := exec.Command("go", "build", "-o", prod, "../../cmd/cryptoassets").CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/cryptoassets: %v\n%s", err, out)
	}
	b, err := os.ReadFile(prod)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte(killMarker)) {
		t.Fatalf("the production cryptoassets binary carries the crash points' kill code (%q)", killMarker)
	}
}
