package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cryptoassets/cryptoassets/online/addresses"
	"github.com/cryptoassets/cryptoassets/online/api"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/config"
	"github.com/cryptoassets/cryptoassets/online/deposits"
	"github.com/cryptoassets/cryptoassets/online/hotwallet"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/service"
	"github.com/cryptoassets/cryptoassets/online/store"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run the service: the HTTP API, and per asset a chain follower, the broadcast resolver and (with a hot key) the withdrawal batcher; webhook delivery",
		Description: "Stops gracefully on SIGTERM or Ctrl-C: the listener closes, requests in flight finish\n" +
			"(up to 30 seconds), the workers stop between steps,\n" +
			"then the database pool closes. Every step is a committed transaction, so a stop at\n" +
			"any moment resumes cleanly from the stored cursors.",
		Flags: []cli.Flag{&cli.IntFlag{Name: "hot-passphrase-fd", Value: -1,
			Usage: "read the hot keystores' passphrases from this file descriptor, one line per asset with hot_keystore and no hot_passphrase_file, in asset name order"}},
		Action: func(c *cli.Context) error {
			e, err := loadEnv(c, true)
			if err != nil {
				return err
			}
			defer e.close()
			if err := checkMigrated(c, e); err != nil {
				return err
			}
			srv, err := buildAPI(c.Context, e)
			if err != nil {
				return err
			}
			hot, err := openHotSigners(c, e)
			if err != nil {
				return err
			}
			defer closeAll(hot)
			workers, err := service.NewWorkers(c.Context, e.cfg, e.runner, hot, e.log)
			if err != nil {
				return err
			}
			// A node on another network is refused before anything runs.
			if err := workers.CheckNetworks(c.Context); err != nil {
				return err
			}
			// A server that could lose acknowledged commits: refused for
			// mainnet, a loud warning otherwise.
			if err := store.CheckDurability(c.Context, e.runner.Pool(), e.cfg.StoreAssets(), e.log); err != nil {
				return err
			}
			mon, err := service.NewMonitoring(e.cfg, e.runner, workers)
			if err != nil {
				return err
			}
			// The port is taken only once every start-up check has passed.
			ln, err := net.Listen("tcp", e.cfg.HTTP.Listen)
			if err != nil {
				return err
			}
			opsLn, err := setOps(e, srv, mon)
			if err != nil {
				ln.Close()
				return err
			}
			opsLn.serve(e)
			ctx, cancel := context.WithCancel(c.Context)
			defer cancel()
			workersDone := make(chan struct{})
			go func() { defer close(workersDone); workers.Run(ctx) }()
			hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second}
			e.log.Info("API listening", "addr", ln.Addr().String(), "assets", e.cfg.AssetNames())
			done := make(chan error, 1)
			go func() { done <- hs.Serve(ln) }()
			select {
			case err := <-done:
				cancel()
				<-workersDone
				return err
			case <-c.Context.Done():
			}
			e.log.Info("shutting down")
			cancel()
			sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer scancel()
			if err := hs.Shutdown(sctx); err != nil {
				return err
			}
			if err := opsLn.shutdown(sctx); err != nil {
				return err
			}
			if err := <-done; !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			<-workersDone
			e.log.Info("stopped")
			return nil
		},
	}
}

// nodeFor connects to an asset's node.
func nodeFor(a *config.Asset) (chain.Node, error) { return service.Node(a) }

func followerFor(e *env, name string) (*deposits.Follower, error) {
	return service.Follower(e.cfg, e.runner, name, e.log)
}

// issuerFor returns the address issuer of an asset, or nil when no hot
// wallet key is configured.
func issuerFor(ctx context.Context, e *env, l *ledger.Ledger) (*addresses.Issuer, error) {
	return service.Issuer(ctx, e.cfg, l)
}

func buildAPI(ctx context.Context, e *env) (*api.Server, error) {
	return service.API(ctx, e.cfg, e.runner, e.log)
}

// openHotSigners unlocks the hot keystore of every asset that has one and
// refuses to start (so no withdrawal worker can run) unless its account key
// is the asset's hot_wallet_descriptor.
func openHotSigners(c *cli.Context, e *env) (map[string]*hotwallet.Signer, error) {
	hot := map[string]*hotwallet.Signer{}
	for _, name := range e.cfg.AssetNames() {
		a := e.cfg.Assets[name]
		if a.HotKeystore == "" {
			continue
		}
		// A core dump of this process would hold the hot seed in clear.
		_ = syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{})
		if a.HotWalletDescriptor == "" {
			closeAll(hot)
			return nil, fmt.Errorf("assets.%s.hot_wallet_descriptor is not set: with hot_keystore set, set it to what `cryptoassets hotkey xpub` prints", name)
		}
		u := hotwallet.Unlock{Keystore: a.HotKeystore, PassphraseFile: a.HotPassphraseFile, PassphraseFD: -1}
		if u.PassphraseFile == "" {
			u.PassphraseFD = c.Int("hot-passphrase-fd")
		}
		s, err := hotwallet.Open(u, a.HotWalletDescriptor, a.Params())
		if err != nil {
			closeAll(hot)
			return nil, fmt.Errorf("assets.%s: %w", name, err)
		}
		hot[name] = s
		e.log.Info("hot keystore unlocked", "asset", name, "account", s.Account().Descriptor())
	}
	return hot, nil
}

func closeAll(hot map[string]*hotwallet.Signer) {
	for _, s := range hot {
		s.Close()
	}
}
