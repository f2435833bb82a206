package status

import (
	"context"
	"sync"
	"time"

	"github.com/cryptoassets/cryptoassets/online/store"
)

// Check is one readiness condition.
type Check struct {
	Name  string `json:"name"` // database, migrations, node:ASSET
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// Readiness says whether the process can do its work, and what stops it.
type Readiness struct {
	Ready  bool    `json:"ready"`
	Checks []Check `json:"checks"`
}

// readyTimeout bounds each readiness check, so a probe answers while the
// database or a node hangs.
const readyTimeout = 3 * time.Second

// Ready checks that the database answers, that it is migrated for this
// release and the configured assets, and that each asset's node answers.
func (r *Reader) Ready(ctx context.Context) Readiness {
	var out Readiness
	add := func(name string, err error) {
		c := Check{Name: name, OK: err == nil}
		if err != nil {
			c.Error = err.Error()
		}
		out.Checks = append(out.Checks, c)
	}
	dbctx, cancel := context.WithTimeout(ctx, readyTimeout)
	err := r.cfg.Pool.Ping(dbctx)
	cancel()
	add("database", err)
	if err == nil && r.cfg.Migrations != nil {
		var assets []store.Asset
		for _, a := range r.cfg.Assets {
			assets = append(assets, store.Asset{Schema: a.Name, Network: a.Network})
		}
		mctx, cancel := context.WithTimeout(ctx, readyTimeout)
		add("migrations", store.CheckMigrated(mctx, r.cfg.Pool, r.cfg.Migrations, assets))
		cancel()
	} else if r.cfg.Migrations != nil {
		add("migrations", errNotChecked)
	}
	// The nodes are asked together, so a probe waits at most one node
	// timeout however many assets there are.
	tips := make([]NodeTip, len(r.cfg.Assets))
	var wg sync.WaitGroup
	for i, a := range r.cfg.Assets {
		wg.Go(func() { tips[i] = r.tip(ctx, a.Node) })
	}
	wg.Wait()
	for i, a := range r.cfg.Assets {
		var err error
		if !tips[i].Reachable {
			err = nodeError(tips[i].Error)
		}
		add("node:"+a.Name, err)
	}
	out.Ready = true
	for _, c := range out.Checks {
		out.Ready = out.Ready && c.OK
	}
	return out
}

type nodeError string

func (e nodeError) Error() string { return "the node does not answer: " + string(e) }

var errNotChecked = notChecked{}

type notChecked struct{}

func (notChecked) Error() string { return "not checked: the database does not answer" }
