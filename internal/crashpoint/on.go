//go:build crashpoints

package crashpoint

import (
	"fmt"
	"os"
	"os/signal"
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

// PauseEnvVar names the pause point to stop at: "name" or "name:N".
const PauseEnvVar = "CRYPTOASSETS_PAUSE_AT"

// A mode is what a point does when its variable selects it: kill or pause,
// each with its own variable and its own count of hits.
type mode struct {
	env, prefix string
	mu          sync.Mutex
	hits        map[string]int
}

var (
	crash = &mode{env: EnvVar, prefix: "crashpoint", hits: map[string]int{}}
	pause = &mode{env: PauseEnvVar, prefix: "pausepoint", hits: map[string]int{}}
)

// selects counts this hit of name when the mode's variable names it and
// reports whether it is the hit the variable selects, and its number.
func (m *mode) selects(name string) (int, bool) {
	spec := os.Getenv(m.env)
	if spec == "" {
		return 0, false
	}
	want, nth := spec, 1
	if i := strings.LastIndexByte(spec, ':'); i >= 0 {
		n, err := strconv.Atoi(spec[i+1:])
		if err != nil || n < 1 {
			// A typo must not make a crash test pass by never crashing.
			fmt.Fprintf(os.Stderr, "%s: %s=%q: want NAME or NAME:N with N >= 1\n", m.prefix, m.env, spec)
			os.Exit(2)
		}
		want, nth = spec[:i], n
	}
	if want != name {
		return 0, false
	}
	m.mu.Lock()
	m.hits[name]++
	n := m.hits[name]
	m.mu.Unlock()
	return n, n == nth
}

// Hit kills the process with SIGKILL when CRYPTOASSETS_CRASH_AT selects this
// hit of name. It never returns in that case.
func Hit(name string) {
	n, ok := crash.selects(name)
	if !ok {
		return
	}
	fmt.Fprintf(os.Stderr, "crashpoint: killing at %s (hit %d)\n", name, n)
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	for { // the signal is on its way; nothing after the point may run
		time.Sleep(time.Hour)
	}
}

// Pause stops the process with SIGSTOP, as a frozen process would, when
// CRYPTOASSETS_PAUSE_AT selects this hit of name, and returns once a
// SIGCONT has resumed it.
func Pause(name string) {
	n, ok := pause.selects(name)
	if !ok {
		return
	}
	// The stop takes effect a moment after kill returns: wait for the
	// SIGCONT, so this goroutine goes on only after the resume.
	cont := make(chan os.Signal, 1)
	signal.Notify(cont, syscall.SIGCONT)
	defer signal.Stop(cont)
	fmt.Fprintf(os.Stderr, "pausepoint: stopping at %s (hit %d)\n", name, n)
	_ = syscall.Kill(os.Getpid(), syscall.SIGSTOP)
	<-cont
	fmt.Fprintf(os.Stderr, "pausepoint: resumed at %s\n", name)
}
