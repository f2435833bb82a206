package service

import (
	"log/slog"

	"github.com/cryptoassets/cryptoassets/online/audit"
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
