package status

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// Worker is one background worker of a serve process.
type Worker struct {
	Name     string    `json:"name"` // follower, resolver, batcher, deliverer, audit
	Asset    string    `json:"asset,omitempty"`
	Instance string    `json:"instance"`
	Since    time.Time `json:"since"`
	// Role is RoleRunning for a worker that runs unelected. Elections
	// (one holder of each worker among many instances) report RoleLeader
	// or RoleStandby through SetRole.
	Role string `json:"role"`
}

// Worker roles.
const (
	RoleRunning = "running"
	RoleLeader  = "leader"
	RoleStandby = "standby"
)

// WorkerSource lists the workers a process runs.
type WorkerSource interface {
	Workers() []Worker
}

// Registry is serve's list of the workers it runs: each worker is added
// when it starts and removed when it stops.
type Registry struct {
	instance string
	mu       sync.Mutex
	workers  map[string]*Worker
}

// NewRegistry returns an empty registry for the process named instance.
func NewRegistry(instance string) *Registry {
	return &Registry{instance: instance, workers: map[string]*Worker{}}
}

func workerKey(name, asset string) string { return name + "\x00" + asset }

// Start records that worker name (of asset, "" for a global worker) runs,
// and returns the function that records its stop.
func (r *Registry) Start(name, asset string) (stop func()) {
	k := workerKey(name, asset)
	r.mu.Lock()
	r.workers[k] = &Worker{Name: name, Asset: asset, Instance: r.instance, Since: time.Now().UTC(), Role: RoleRunning}
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		delete(r.workers, k)
		r.mu.Unlock()
	}
}

// SetRole records a worker's role in its election.
func (r *Registry) SetRole(name, asset, role string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if w := r.workers[workerKey(name, asset)]; w != nil && w.Role != role {
		w.Role, w.Since = role, time.Now().UTC()
	}
}

// Workers implements WorkerSource, sorted by asset then name.
func (r *Registry) Workers() []Worker {
	r.mu.Lock()
	out := make([]Worker, 0, len(r.workers))
	for _, w := range r.workers {
		out = append(out, *w)
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b Worker) int {
		if c := strings.Compare(a.Asset, b.Asset); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}
