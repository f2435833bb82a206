package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cryptoassets/cryptoassets/online/addresses"
	"github.com/cryptoassets/cryptoassets/online/api"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/config"
	"github.com/cryptoassets/cryptoassets/online/deposits"
	"github.com/cryptoassets/cryptoassets/online/events"
	"github.com/cryptoassets/cryptoassets/online/hotwallet"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/store"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run the service: the HTTP API, a chain follower per asset, and webhook delivery",
		Description: "Stops gracefully on SIGTERM or Ctrl-C: the listener closes, requests in flight finish\n" +
			"(up to 30 seconds), the followers and the webhook deliverer stop between steps,\n" +
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
			ctx, cancel := context.WithCancel(c.Context)
			defer cancel()
			var workers sync.WaitGroup
			var followers []*deposits.Follower
			for _, name := range e.cfg.AssetNames() {
				f, err := followerFor(e, name)
				if err != nil {
					return err
				}
				// A node on another network is refused before anything runs;
				// one that is down is checked by the follower when it answers.
				if err := f.CheckNetwork(c.Context); errors.Is(err, chain.ErrWrongNetwork) {
					return err
				} else if err != nil {
					e.log.Warn("node not reachable at start: its network is checked when it answers", "asset", name, "err", err)
				}
				followers = append(followers, f)
			}
			hot, err := openHotSigners(c, e)
			if err != nil {
				return err
			}
			defer closeAll(hot)
			// A server that could lose acknowledged commits: refused for
			// mainnet, a loud warning otherwise.
			if err := store.CheckDurability(c.Context, e.runner.Pool(), e.cfg.StoreAssets(), e.log); err != nil {
				return err
			}
			hooks, err := webhooks(e.cfg)
			if err != nil {
				return err
			}
			// The port is taken only once every start-up check has passed.
			ln, err := net.Listen("tcp", e.cfg.HTTP.Listen)
			if err != nil {
				return err
			}
			for _, f := range followers {
				workers.Add(1)
				go func() { defer workers.Done(); _ = f.Run(ctx) }()
			}
			if len(hooks) > 0 {
				d := &events.Deliverer{Runner: e.runner, Hooks: hooks, Log: e.log}
				workers.Add(1)
				go func() { defer workers.Done(); _ = d.Run(ctx) }()
			}
			hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second}
			e.log.Info("API listening", "addr", ln.Addr().String(), "assets", e.cfg.AssetNames())
			done := make(chan error, 1)
			go func() { done <- hs.Serve(ln) }()
			select {
			case err := <-done:
				cancel()
				workers.Wait()
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
			if err := <-done; !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			workers.Wait()
			e.log.Info("stopped")
			return nil
		},
	}
}

func webhooks(cfg *config.Config) ([]events.Webhook, error) {
	var out []events.Webhook
	for _, w := range cfg.Webhooks {
		secret, err := w.SecretBytes()
		if err != nil {
			return nil, err
		}
		out = append(out, events.Webhook{URL: w.URL, Secret: secret})
	}
	return out, nil
}

// nodeFor connects to an asset's node.
func nodeFor(a *config.Asset) (chain.Node, error) {
	c, err := rpcFor(a)
	if err != nil {
		return nil, err
	}
	return chain.NewRPCNode(c), nil
}

func followerFor(e *env, name string) (*deposits.Follower, error) {
	a := e.cfg.Assets[name]
	l, err := ledger.New(e.runner, name)
	if err != nil {
		return nil, err
	}
	node, err := nodeFor(a)
	if err != nil {
		return nil, fmt.Errorf("assets.%s: %w", name, err)
	}
	return deposits.NewFollower(l, node, deposits.Config{Confirmations: a.Confirmations, StartHeight: *a.StartHeight, Poll: a.PollInterval.Duration,
		MinDeposit: *a.MinDepositSat, SeenExpiry: a.SeenExpiry.Duration}, e.log), nil
}

// issuerFor returns the address issuer of an asset, or nil when no hot
// wallet key is configured.
func issuerFor(ctx context.Context, e *env, l *ledger.Ledger) (*addresses.Issuer, error) {
	a := e.cfg.Assets[l.Asset()]
	if a.HotWalletDescriptor == "" {
		return nil, nil
	}
	key, err := addresses.ParseKey(a.HotWalletDescriptor, a.Params())
	if err != nil {
		return nil, fmt.Errorf("assets.%s.hot_wallet_descriptor: %w", l.Asset(), err)
	}
	return addresses.NewIssuer(ctx, l, key)
}

func buildAPI(ctx context.Context, e *env) (*api.Server, error) {
	assets := map[string]api.Asset{}
	for _, name := range e.cfg.AssetNames() {
		l, err := ledger.New(e.runner, name)
		if err != nil {
			return nil, err
		}
		as := api.Asset{Ledger: l}
		if as.Withdrawals, err = withdrawalService(e, l); err != nil {
			return nil, err
		}
		iss, err := issuerFor(ctx, e, l)
		if err != nil {
			return nil, err
		}
		if iss != nil {
			as.Addresses = iss
		}
		assets[name] = as
	}
	return api.NewServer(e.runner, assets, e.log), nil
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
