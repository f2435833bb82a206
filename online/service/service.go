package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/cryptoassets/cryptoassets/online/addresses"
	"github.com/cryptoassets/cryptoassets/online/api"
	"github.com/cryptoassets/cryptoassets/online/audit"
	"github.com/cryptoassets/cryptoassets/online/batcher"
	"github.com/cryptoassets/cryptoassets/online/broadcast"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/chain/rpc"
	"github.com/cryptoassets/cryptoassets/online/cold"
	"github.com/cryptoassets/cryptoassets/online/config"
	"github.com/cryptoassets/cryptoassets/online/deposits"
	"github.com/cryptoassets/cryptoassets/online/election"
	"github.com/cryptoassets/cryptoassets/online/events"
	"github.com/cryptoassets/cryptoassets/online/hotwallet"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/status"
	"github.com/cryptoassets/cryptoassets/online/store"
	"github.com/cryptoassets/cryptoassets/online/withdrawals"
)

// RPC connects to an asset's node.
func RPC(a *config.Asset) (*rpc.Client, error) {
	return rpc.New(rpc.Config{URL: a.RPCURL, User: a.RPCUser, Password: a.RPCPassword, CookieFile: a.RPCCookieFile})
}

// Node is an asset's node as the workers use it.
func Node(a *config.Asset) (*chain.RPCNode, error) {
	c, err := RPC(a)
	if err != nil {
		return nil, err
	}
	return chain.NewRPCNode(c), nil
}

// Follower is the chain follower of asset name.
func Follower(cfg *config.Config, runner *store.Runner, name string, log *slog.Logger) (*deposits.Follower, error) {
	node, err := Node(cfg.Assets[name])
	if err != nil {
		return nil, fmt.Errorf("assets.%s: %w", name, err)
	}
	return followerOn(cfg, runner, name, node, log)
}

func followerOn(cfg *config.Config, runner *store.Runner, name string, node chain.Node, log *slog.Logger) (*deposits.Follower, error) {
	a := cfg.Assets[name]
	l, err := ledger.New(runner, name)
	if err != nil {
		return nil, err
	}
	return deposits.NewFollower(l, node, deposits.Config{Confirmations: a.Confirmations, StartHeight: *a.StartHeight, Poll: a.PollInterval.Duration,
		MinDeposit: *a.MinDepositSat, SeenExpiry: a.SeenExpiry.Duration}, log), nil
}

// Issuer is the address issuer of l's asset, or nil when no hot wallet key
// is configured.
func Issuer(ctx context.Context, cfg *config.Config, l *ledger.Ledger) (*addresses.Issuer, error) {
	a := cfg.Assets[l.Asset()]
	if a.HotWalletDescriptor == "" {
		return nil, nil
	}
	key, err := addresses.ParseKey(a.HotWalletDescriptor, a.Params())
	if err != nil {
		return nil, fmt.Errorf("assets.%s.hot_wallet_descriptor: %w", l.Asset(), err)
	}
	return addresses.NewIssuer(ctx, l, key)
}

// Withdrawals is the withdrawal request service of l's asset.
func Withdrawals(cfg *config.Config, l *ledger.Ledger) (*withdrawals.Service, error) {
	a := cfg.Assets[l.Asset()]
	return withdrawals.New(l, withdrawals.Config{Params: a.Params(), FeeSat: a.WithdrawalFeeSat,
		Limits: withdrawals.Limits{MaxWithdrawalSat: a.MaxWithdrawalSat, AccountWindow: a.AccountWindow.Duration, AccountMaxCount: a.AccountMaxCount,
			AccountMaxSat: a.AccountMaxSat, HotOutflowPerHourSat: a.HotOutflowPerHourSat},
		Approval: withdrawals.Approval{AboveSat: a.ApprovalAboveSat, NewDestinations: a.ApproveNewDestinations, Required: a.Approvals}})
}

// Broadcaster is asset name's one broadcaster.
func Broadcaster(cfg *config.Config, runner *store.Runner, name string, log *slog.Logger) (*broadcast.Broadcaster, error) {
	node, err := Node(cfg.Assets[name])
	if err != nil {
		return nil, fmt.Errorf("assets.%s: %w", name, err)
	}
	return broadcasterOn(cfg, runner, name, node, log)
}

func broadcasterOn(cfg *config.Config, runner *store.Runner, name string, node chain.Node, log *slog.Logger) (*broadcast.Broadcaster, error) {
	return broadcast.New(runner, name, node, log, broadcast.BrokenAfter(cfg.Assets[name].BroadcastBrokenAfter.Duration))
}

// API builds the HTTP API over every configured asset.
func API(ctx context.Context, cfg *config.Config, runner *store.Runner, log *slog.Logger) (*api.Server, error) {
	assets := map[string]api.Asset{}
	for _, name := range cfg.AssetNames() {
		l, err := ledger.New(runner, name)
		if err != nil {
			return nil, err
		}
		as := api.Asset{Ledger: l}
		if as.Withdrawals, err = Withdrawals(cfg, l); err != nil {
			return nil, err
		}
		iss, err := Issuer(ctx, cfg, l)
		if err != nil {
			return nil, err
		}
		if iss != nil {
			as.Addresses = iss
		}
		assets[name] = as
	}
	return api.NewServer(runner, assets, log), nil
}

// Webhooks are the configured webhook receivers.
func Webhooks(cfg *config.Config) ([]events.Webhook, error) {
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

// BatcherConfig is an asset's batching and fee policy.
func BatcherConfig(a *config.Asset) batcher.Config {
	rate := func(satPerVB float64) int64 { return int64(satPerVB*1000 + 0.5) }
	deadline := a.BumpDeadlineBlocks
	if a.AutoBump != nil && !*a.AutoBump {
		deadline = -1
	}
	return batcher.Config{
		Interval: a.BatchInterval.Duration, Poll: a.PollInterval.Duration,
		ThresholdCount: a.BatchThresholdCount, ThresholdSat: a.BatchThresholdSat, MaxOutputs: a.BatchMaxOutputs,
		ConfTarget: a.FeeConfTarget, FallbackFeeRate: rate(a.FallbackFeeRate), MinRelayFeeRate: rate(a.MinRelayFeeRate), MaxFeeRate: rate(a.MaxFeeRate),
		MaxFee: a.MaxFeeSat, MaxFeeRatio: a.MaxFeeRatio, Confirmations: a.Confirmations, CoinConfirmations: a.CoinConfirmations,
		DeadlineBlocks: deadline,
	}
}

// Workers are the background workers of one serve process. Each runs under
// its election (Elections), on a Runner fenced by it, so among several serve
// processes on one database each runs on one at a time.
type Workers struct {
	Followers    []*deposits.Follower
	Broadcasters map[string]*broadcast.Broadcaster
	Batchers     map[string]*batcher.Batcher
	// Keepers hold each asset with a cold wallet between its thresholds.
	Keepers   map[string]*cold.Keeper
	Deliverer *events.Deliverer
	Audits    []*audit.Worker // per asset; Auditor.LastResult is what the metrics endpoint reads
	// Registry lists the workers Run runs, for status and metrics, with
	// each one's role in its election.
	Registry *status.Registry
	// Elections are the elections Run campaigns in, in the order it
	// starts them.
	Elections []*election.Election
	groups    []group
	nodes     map[string]*chain.RPCNode
	cfg       *config.Config
	log       *slog.Logger
}

// A group is the workers that run under one election: they write through
// one fenced Runner. The resolver, batcher and cold keeper of an asset are
// one group because they share its broadcaster (the batcher's hooks settle
// what the resolver finds) and the keeper's sweeps are the batcher's
// batches.
type group struct {
	el      *election.Election
	workers []groupWorker
}

type groupWorker struct {
	name, asset string
	run         func(context.Context) error
}

// The elections of serve's workers, one of each per asset but the
// deliverer's, which serves every asset.
const (
	ElectionFollower  = "follower"
	ElectionPayments  = "payments" // resolver, batcher (bumping, following), cold keeper
	ElectionAudit     = "audit"
	ElectionDeliverer = "deliverer"
)

// ElectionConfig is cfg's election settings; log may be nil.
func ElectionConfig(cfg *config.Config, log *slog.Logger) election.Config {
	inst := cfg.Election.Instance
	if inst == "" {
		inst = election.DefaultInstance()
	}
	return election.Config{Instance: inst, Lease: cfg.Election.Lease.Duration, Renew: cfg.Election.RenewInterval.Duration, Log: log}
}

// NewWorkers builds every worker; hot holds the unlocked hot signers of the
// assets that pay withdrawals (an asset without one runs no batcher).
// Each election's workers are built on a Runner fenced by it; what they
// write while being built (their wallets' registration, which every
// instance makes) passes unchecked, before Run campaigns.
func NewWorkers(ctx context.Context, cfg *config.Config, runner *store.Runner, hot map[string]*hotwallet.Signer, log *slog.Logger) (*Workers, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ec := ElectionConfig(cfg, log)
	w := &Workers{Broadcasters: map[string]*broadcast.Broadcaster{}, Batchers: map[string]*batcher.Batcher{},
		Keepers: map[string]*cold.Keeper{}, cfg: cfg, log: log,
		Registry: status.NewRegistry(ec.Instance)}
	elect := func(worker, asset string) (*election.Election, *store.Runner, error) {
		el, err := election.New(runner, worker, asset, ec)
		if err != nil {
			return nil, nil, err
		}
		w.Elections = append(w.Elections, el)
		w.groups = append(w.groups, group{el: el})
		return el, el.Runner(runner), nil
	}
	add := func(name, asset string, run func(context.Context) error) {
		g := &w.groups[len(w.groups)-1]
		g.workers = append(g.workers, groupWorker{name: name, asset: asset, run: run})
	}
	// One node client per asset, shared by its workers.
	nodes := map[string]*chain.RPCNode{}
	w.nodes = nodes
	for _, name := range cfg.AssetNames() {
		a := cfg.Assets[name]
		node, err := Node(a)
		if err != nil {
			return nil, fmt.Errorf("assets.%s: %w", name, err)
		}
		nodes[name] = node
		_, fr, err := elect(ElectionFollower, name)
		if err != nil {
			return nil, err
		}
		f, err := followerOn(cfg, fr, name, node, log)
		if err != nil {
			return nil, err
		}
		w.Followers = append(w.Followers, f)
		add("follower", name, f.Run)

		_, pr, err := elect(ElectionPayments, name)
		if err != nil {
			return nil, err
		}
		bc, err := broadcasterOn(cfg, pr, name, node, log)
		if err != nil {
			return nil, err
		}
		w.Broadcasters[name] = bc
		interval := a.ResolveInterval.Duration
		add("resolver", name, func(ctx context.Context) error { return bc.Run(ctx, interval) })
		l, err := ledger.New(pr, name)
		if err != nil {
			return nil, err
		}
		var bt *batcher.Batcher
		if signer := hot[name]; signer != nil {
			iss, err := Issuer(ctx, cfg, l)
			if err != nil {
				return nil, err
			}
			if bt, err = batcher.New(l, node, iss, signer, bc, BatcherConfig(a), log); err != nil {
				return nil, fmt.Errorf("assets.%s: %w", name, err)
			}
			w.Batchers[name] = bt
			add("batcher", name, bt.Run)
		}
		if a.ColdWalletDescriptor != "" {
			if bt == nil {
				// The resolver still settles imported top-ups' broadcasts.
				batcher.RegisterHooks(bc, l, log)
			}
			k, err := keeper(ctx, cfg, l, node, bt, log)
			if err != nil {
				return nil, err
			}
			w.Keepers[name] = k
			add("cold-keeper", name, k.Run)
		}

		_, ar, err := elect(ElectionAudit, name)
		if err != nil {
			return nil, err
		}
		au, err := audit.New(ar, name, node, log)
		if err != nil {
			return nil, err
		}
		aw := audit.NewWorker(au, a.AuditInterval.Duration)
		w.Audits = append(w.Audits, aw)
		add("audit", name, aw.Run)
	}
	hooks, err := Webhooks(cfg)
	if err != nil {
		return nil, err
	}
	if len(hooks) > 0 {
		_, dr, err := elect(ElectionDeliverer, "")
		if err != nil {
			return nil, err
		}
		w.Deliverer = &events.Deliverer{Runner: dr, Hooks: hooks, Log: log}
		add("deliverer", "", w.Deliverer.Run)
	}
	return w, nil
}

// CheckNetworks refuses a node on another network than its asset's; a node
// that is down is only logged (its follower checks it when it answers).
func (w *Workers) CheckNetworks(ctx context.Context) error {
	for _, f := range w.Followers {
		if err := f.CheckNetwork(ctx); errors.Is(err, chain.ErrWrongNetwork) {
			return err
		} else if err != nil {
			w.log.Warn("node not reachable at start: its network is checked when it answers", "err", err)
		}
	}
	return nil
}

// Run campaigns in every election until ctx ends, and returns when all have
// stopped. The workers of an election run while this process leads it; the
// Registry shows each as leader or standby.
func (w *Workers) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, g := range w.groups {
		for _, gw := range g.workers {
			stop := w.Registry.Start(gw.name, gw.asset)
			w.Registry.SetRole(gw.name, gw.asset, status.RoleStandby)
			defer stop()
		}
		g.el.OnRole(func(leading bool) {
			role := status.RoleStandby
			if leading {
				role = status.RoleLeader
			}
			for _, gw := range g.workers {
				w.Registry.SetRole(gw.name, gw.asset, role)
			}
		})
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := g.el.Run(ctx, func(ctx context.Context) error { return runAll(ctx, g.workers) })
			if err != nil {
				w.log.Error("workers stopped", "election", g.el.Key(), "err", err)
			}
		}()
	}
	wg.Wait()
}

// runAll runs a group's workers until ctx ends, or until all of them have
// returned by themselves (a follower that found its node on another
// network), with the first error.
func runAll(ctx context.Context, ws []groupWorker) error {
	type ended struct {
		gw  groupWorker
		err error
	}
	out := make(chan ended, len(ws))
	for _, gw := range ws {
		go func() { out <- ended{gw, gw.run(ctx)} }()
	}
	var first error
	for range ws {
		if e := <-out; e.err != nil && first == nil {
			first = fmt.Errorf("%s %s: %w", e.gw.name, e.gw.asset, e.err)
		}
	}
	return first
}
