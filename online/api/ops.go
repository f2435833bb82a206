package api

import (
	"context"
	"net/http"
	"time"

	"github.com/cryptoassets/cryptoassets/online/status"
)

// Ops are the operators' endpoints, answered without a token: GET /healthz
// (the process serves), GET /readyz (it can do its work) and, when Metrics
// is set, GET /metrics. docs/monitoring.md says to keep them off the
// public interface.
type Ops struct {
	// Ready checks the database, the migrations and the nodes; nil: only
	// the database is pinged.
	Ready func(ctx context.Context) status.Readiness
	// Metrics serves /metrics; nil: not served here.
	Metrics http.Handler
	// Observe counts every API request by route pattern and status; nil:
	// none are counted.
	Observe func(route string, code int, d time.Duration)
}

// SetOps adds the operators' endpoints and request metrics to Handler.
// Call it before Handler.
func (s *Server) SetOps(o Ops) { s.ops = o }

func (s *Server) opsRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	if s.ops.Metrics != nil {
		mux.Handle("GET /metrics", s.ops.Metrics)
	}
}

// OpsHandler serves /metrics, /healthz and /readyz alone, for a listener of
// their own (http.metrics_listen).
func OpsHandler(o Ops) http.Handler {
	s := &Server{ops: o}
	mux := http.NewServeMux()
	s.opsRoutes(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeRaw(w, http.StatusNotFound, errorJSON(newError(http.StatusNotFound, "not_found", "this listener serves GET /metrics, /healthz and /readyz only")))
	})
	return mux
}

// healthz answers 200 while the process serves HTTP, whatever the state of
// the database or the nodes: a probe that restarts processes must not
// restart them for an outage elsewhere.
func healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "alive"})
}

// readyz answers 200 when every check passes, else 503 with the checks,
// each failing one with its reason.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	var rd status.Readiness
	if s.ops.Ready != nil {
		rd = s.ops.Ready(r.Context())
	} else {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		err := s.runner.Pool().Ping(ctx)
		cancel()
		c := status.Check{Name: "database", OK: err == nil}
		if err != nil {
			c.Error = err.Error()
		}
		rd = status.Readiness{Ready: c.OK, Checks: []status.Check{c}}
	}
	code := http.StatusOK
	if !rd.Ready {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, rd)
}

// instrument counts each request by the pattern of the route that answered
// it ("unmatched" when none did) and its status.
func (s *Server) instrument(next http.Handler) http.Handler {
	if s.ops.Observe == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		s.ops.Observe(route, rec.code, time.Since(start))
	})
}

type statusRecorder struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.code, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
