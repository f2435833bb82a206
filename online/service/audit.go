package service

import (
	"log/slog"

	"github.com/cryptoassets/cryptoassets/online/audit"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/config"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// Auditor is asset name's audit of the ledger and our coins against its node.
func Auditor(cfg *config.Config, runner *store.Runner, name string, log *slog.Logger) (*audit.Auditor, error) {
	node, err := Node(cfg.Assets[name])
	if err != nil {
		return nil, err
	}
	return audit.New(runner, name, node, log)
}

// auditWorkers are serve's audit workers, one per asset, each every
// assets.NAME.audit_interval.
func auditWorkers(cfg *config.Config, runner *store.Runner, nodes map[string]*chain.RPCNode, log *slog.Logger) ([]*audit.Worker, error) {
	var out []*audit.Worker
	for _, name := range cfg.AssetNames() {
		a, err := audit.New(runner, name, nodes[name], log)
		if err != nil {
			return nil, err
		}
		out = append(out, audit.NewWorker(a, cfg.Assets[name].AuditInterval.Duration))
	}
	return out, nil
}
