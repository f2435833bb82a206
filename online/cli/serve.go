package cli

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cryptoassets/cryptoassets/online/api"
	"github.com/cryptoassets/cryptoassets/online/ledger"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run the service: the HTTP API for applications",
		Description: "Stops gracefully on SIGTERM or Ctrl-C: the listener closes, requests in flight finish\n" +
			"(up to 30 seconds), then the database pool closes.",
		Action: func(c *cli.Context) error {
			e, err := loadEnv(c, true)
			if err != nil {
				return err
			}
			defer e.close()
			srv, err := buildAPI(e)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", e.cfg.HTTP.Listen)
			if err != nil {
				return err
			}
			hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second}
			e.log.Info("API listening", "addr", ln.Addr().String(), "assets", e.cfg.AssetNames())
			done := make(chan error, 1)
			go func() { done <- hs.Serve(ln) }()
			select {
			case err := <-done:
				return err
			case <-c.Context.Done():
			}
			e.log.Info("shutting down")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := hs.Shutdown(ctx); err != nil {
				return err
			}
			if err := <-done; !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			e.log.Info("stopped")
			return nil
		},
	}
}

func buildAPI(e *env) (*api.Server, error) {
	assets := map[string]api.Asset{}
	for _, name := range e.cfg.AssetNames() {
		l, err := ledger.New(e.runner, name)
		if err != nil {
			return nil, err
		}
		assets[name] = api.Asset{Ledger: l}
	}
	return api.NewServer(e.runner, assets, e.log), nil
}
