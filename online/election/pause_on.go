//go:build crashpoints

package election

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// PauseEnvVar names the point where a crashpoints build stops itself with
// SIGSTOP, as a frozen process would, to be resumed by SIGCONT: "NAME" or
// "NAME:N" for the Nth hit, NAME being "fence/WORKER/ASSET" (the fence of
// that election, after it read its epoch and before it asks the database).
const PauseEnvVar = "CRYPTOASSETS_PAUSE_AT"

var (
	pauseMu   sync.Mutex
	pauseHits = map[string]int{}
)

func pause(name string) {
	spec := os.Getenv(PauseEnvVar)
	if spec == "" {
		return
	}
	want, nth := spec, 1
	if i := strings.LastIndexByte(spec, ':'); i >= 0 {
		n, err := strconv.Atoi(spec[i+1:])
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "pausepoint: %s=%q: want NAME or NAME:N with N >= 1\n", PauseEnvVar, spec)
			os.Exit(2)
		}
		want, nth = spec[:i], n
	}
	if want != name {
		return
	}
	pauseMu.Lock()
	pauseHits[name]++
	n := pauseHits[name]
	pauseMu.Unlock()
	if n != nth {
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
