package servetest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// dirPrefix names the per-process build folders under os.TempDir.
const dirPrefix = "cryptoassets-servetest-"

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// Binary returns the path of cmd/cryptoassets built with -tags crashpoints,
// building it the first time a test of this process asks.
func Binary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() { buildPath, buildErr = build() })
	if buildErr != nil {
		tb.Fatalf("building cryptoassets with crash points: %v", buildErr)
	}
	return buildPath
}

func build() (string, error) {
	removeStale()
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(os.TempDir(), dirPrefix+strconv.Itoa(os.Getpid()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "cryptoassets")
	cmd := exec.Command("go", "build", "-tags", "crashpoints", "-o", bin, "./cmd/cryptoassets")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build -tags crashpoints ./cmd/cryptoassets: %v\n%s", err, out)
	}
	return bin, nil
}

// removeStale deletes the build folders of test processes that have ended
// (a test binary has no hook that runs after its last test).
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, d := range dirs {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), dirPrefix))
		if err != nil || pid == os.Getpid() {
			continue
		}
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			_ = os.RemoveAll(d)
		}
	}
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the cryptoassets module: run from inside the project")
	}
	return filepath.Dir(mod), nil
}

// killMarker is a string only crashpoint's tagged Hit carries.
const killMarker = "crashpoint: killing at"

// MissingCrashPoints returns the names of points that the binary at bin
// does not carry (all of them when it was built without the tag). A crash
// test checks it first: one that kills at a point the program never
// reaches would wait for a death that never comes.
func MissingCrashPoints(tb testing.TB, bin string, points ...string) []string {
	tb.Helper()
	b, err := os.ReadFile(bin)
	if err != nil {
		tb.Fatal(err)
	}
	if !bytes.Contains(b, []byte(killMarker)) {
		return points
	}
	var missing []string
	for _, p := range points {
		if !bytes.Contains(b, []byte(p)) {
			missing = append(missing, p)
		}
	}
	return missing
}
