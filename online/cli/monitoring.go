package cli

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/cryptoassets/cryptoassets/online/api"
	"github.com/cryptoassets/cryptoassets/online/service"
)

// opsListener serves /metrics, /healthz and /readyz on http.metrics_listen.
type opsListener struct {
	hs   *http.Server
	ln   net.Listener
	done chan error
}

// setOps adds the operators' endpoints to the API and, with
// http.metrics_listen, returns the listener of their own (not yet
// serving): /metrics then leaves the API's listener, the health endpoints
// stay on both (a load balancer probes the API's port).
func setOps(e *env, srv *api.Server, mon *service.Monitoring) (*opsListener, error) {
	ops := mon.Ops()
	if e.cfg.HTTP.MetricsListen == "" {
		srv.SetOps(ops)
		return nil, nil
	}
	apiOps := ops
	apiOps.Metrics = nil
	srv.SetOps(apiOps)
	ln, err := net.Listen("tcp", e.cfg.HTTP.MetricsListen)
	if err != nil {
		return nil, err
	}
	return &opsListener{ln: ln, done: make(chan error, 1),
		hs: &http.Server{Handler: api.OpsHandler(ops), ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second}}, nil
}

func (o *opsListener) serve(e *env) {
	if o == nil {
		return
	}
	e.log.Info("metrics listening", "addr", o.ln.Addr().String())
	go func() { o.done <- o.hs.Serve(o.ln) }()
}

func (o *opsListener) shutdown(ctx context.Context) error {
	if o == nil {
		return nil
	}
	if err := o.hs.Shutdown(ctx); err != nil {
		return err
	}
	if err := <-o.done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
