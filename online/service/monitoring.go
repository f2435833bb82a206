package service

import (
	"github.com/cryptoassets/cryptoassets/migrations"
	"github.com/cryptoassets/cryptoassets/online/api"
	"github.com/cryptoassets/cryptoassets/online/config"
	"github.com/cryptoassets/cryptoassets/online/metrics"
	"github.com/cryptoassets/cryptoassets/online/status"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// Status is the reader of every configured asset's figures. nodes and
// audits may miss assets (their node is then not asked, their audit not
// known); workers may be nil (a command that runs none).
func Status(cfg *config.Config, runner *store.Runner, nodes map[string]status.Node, audits map[string]status.Auditor, workers status.WorkerSource) (*status.Reader, error) {
	sc := status.Config{Pool: runner.Pool(), Migrations: migrations.FS, Workers: workers, Elections: Elections(cfg),
		Instance: ElectionConfig(cfg, nil).Instance}
	for _, name := range cfg.AssetNames() {
		a := cfg.Assets[name]
		ac := status.AssetConfig{Name: name, Network: a.Network,
			HotFloorSat: positive(a.HotFloorSat), HotCeilingSat: positive(a.HotCeilingSat)}
		if n, ok := nodes[name]; ok && n != nil {
			ac.Node = n
		}
		if au, ok := audits[name]; ok && au != nil {
			ac.Auditor = au
		}
		sc.Assets = append(sc.Assets, ac)
	}
	for _, w := range cfg.Webhooks {
		sc.Webhooks = append(sc.Webhooks, w.URL)
	}
	return status.New(sc)
}

// Elections are the elections cfg has and the workers each one's leader
// runs, as NewWorkers builds them: per asset the follower, the payments
// (resolver, the batcher with a hot keystore, the cold keeper with a cold
// wallet) and the audit; the deliverer when webhooks are configured.
func Elections(cfg *config.Config) []status.ElectionSpec {
	var out []status.ElectionSpec
	for _, name := range cfg.AssetNames() {
		a := cfg.Assets[name]
		pay := []string{"resolver"}
		if a.HotKeystore != "" {
			pay = append(pay, "batcher")
		}
		if a.ColdWalletDescriptor != "" {
			pay = append(pay, "cold-keeper")
		}
		out = append(out,
			status.ElectionSpec{Name: ElectionFollower, Asset: name, Workers: []string{"follower"}},
			status.ElectionSpec{Name: ElectionPayments, Asset: name, Workers: pay},
			status.ElectionSpec{Name: ElectionAudit, Asset: name, Workers: []string{"audit"}})
	}
	if len(cfg.Webhooks) > 0 {
		out = append(out, status.ElectionSpec{Name: ElectionDeliverer, Workers: []string{"deliverer"}})
	}
	return out
}

// positive is n when set (above 0: 0 turns that side of the keeper off).
func positive(n int64) *int64 {
	if n <= 0 {
		return nil
	}
	return &n
}

// Monitoring is serve's status reader, its metrics and the registry of the
// workers it runs.
type Monitoring struct {
	Status  *status.Reader
	Metrics *metrics.Metrics
}

// NewMonitoring builds serve's monitoring over its workers.
func NewMonitoring(cfg *config.Config, runner *store.Runner, w *Workers) (*Monitoring, error) {
	nodes := map[string]status.Node{}
	for name, n := range w.nodes {
		nodes[name] = n
	}
	audits := map[string]status.Auditor{}
	for _, a := range w.Audits {
		audits[a.Auditor.Asset()] = a.Auditor
	}
	r, err := Status(cfg, runner, nodes, audits, w.Registry)
	if err != nil {
		return nil, err
	}
	els := make([]metrics.Election, 0, len(w.Elections))
	for _, el := range w.Elections {
		els = append(els, el)
	}
	return &Monitoring{Status: r, Metrics: metrics.New(metrics.Options{Status: r, Runner: runner, Elections: els})}, nil
}

// Ops are the operators' endpoints over m.
func (m *Monitoring) Ops() api.Ops {
	return api.Ops{Ready: m.Status.Ready, Metrics: m.Metrics.Handler(), Observe: m.Metrics.ObserveRequest}
}
