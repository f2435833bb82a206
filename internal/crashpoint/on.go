//go:build crashpoints

package crashpoint

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Enabled reports whether this binary was built with crash points.
const Enabled = true

// EnvVar names the crash point to die at: "name" or "name:N".
const EnvVar = "CRYPTOASSETS_CRASH_AT"

var (
	mu   sync.Mutex
	hits = map[string]int{}
)

// Hit kills the process with SIGKILL when CRYPTOASSETS_CRASH_AT selects this
// hit of name. It never returns in that case.
func Hit(name string) {
	spec := os.Getenv(EnvVar)
	if spec == "" {
		return
	}
	want, nth := spec, 1
	if i := strings.LastIndexByte(spec, ':'); i >= 0 {
		n, err := strconv.Atoi(spec[i+1:])
		if err != nil || n < 1 {
			// A typo must not make a crash test pass by never crashing.
			fmt.Fprintf(os.Stderr, "crashpoint: %s=%q: want NAME or NAME:N with N >= 1\n", EnvVar, spec)
			os.Exit(2)
		}
		want, nth = spec[:i], n
	}
	if want != name {
		return
	}
	mu.Lock()
	hits[name]++
	n := hits[name]
	mu.Unlock()
	if n != nth {
		return
	}
	fmt.Fprintf(os.Stderr, "crashpoint: killing at %s (hit %d)\n", name, n)
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	for { // the signal is on its way; nothing after the point may run
		time.Sleep(time.Hour)
	}
}
