package status

import (
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/election"
)

// ElectionSpec is one election the configuration has: its name (the
// worker column of its lease row), its asset ("" for one of every asset)
// and the workers its leader runs.
type ElectionSpec struct {
	Name    string
	Asset   string
	Workers []string
}

// Election is one election across the cluster, as its lease row in
// public.worker_leases shows it on the database's clock.
type Election struct {
	Name  string `json:"election"` // follower, payments, audit, deliverer
	Asset string `json:"asset,omitempty"`
	// Workers run on the holder; empty for a lease the configuration does
	// not name (an election of an asset no longer configured).
	Workers []string `json:"workers"`
	// State is ElectionHeld, ElectionExpired (no leader now) or
	// ElectionNeverElected (no lease row: no serve process has campaigned).
	State  string `json:"state"`
	Holder string `json:"holder,omitempty"` // the instance named in the lease (election.instance)
	Epoch  int64  `json:"epoch"`            // raised by every takeover; 0 when never elected
	// AcquiredAt is when the holder took the lease (its current term).
	AcquiredAt *time.Time `json:"acquired_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	// ExpiresInSeconds is expires_at less the database's clock: negative
	// once passed (how long there has been no leader); nil when never
	// elected.
	ExpiresInSeconds *float64 `json:"expires_in_seconds"`
}

// Election states.
const (
	ElectionHeld         = "held"
	ElectionExpired      = "expired"
	ElectionNeverElected = "never_elected"
)

// readElections reads the lease rows in tx and places them: the specs of
// each asset in names (and the global ones) first, in their order, then
// any other lease row of those assets (or global).
func (r *Reader) readElections(ctx context.Context, tx pgx.Tx, names []string, rep *Report) error {
	leases, err := election.Leases(ctx, tx)
	if err != nil {
		return err
	}
	key := func(name, asset string) string { return name + "\x00" + asset }
	byKey := map[string]election.Lease{}
	for _, l := range leases {
		byKey[key(l.Worker, l.Asset)] = l
	}
	used := map[string]bool{}
	place := func(e Election) {
		if e.Asset == "" {
			rep.Elections = append(rep.Elections, e)
			return
		}
		for i := range rep.Assets {
			if rep.Assets[i].Name == e.Asset {
				rep.Assets[i].Elections = append(rep.Assets[i].Elections, e)
			}
		}
	}
	wanted := func(asset string) bool { return asset == "" || slices.Contains(names, asset) }
	for _, sp := range r.cfg.Elections {
		if !wanted(sp.Asset) {
			continue
		}
		k := key(sp.Name, sp.Asset)
		used[k] = true
		e := Election{Name: sp.Name, Asset: sp.Asset, Workers: slices.Clone(sp.Workers), State: ElectionNeverElected}
		if l, ok := byKey[k]; ok {
			fill(&e, l)
		}
		if e.Workers == nil {
			e.Workers = []string{}
		}
		place(e)
	}
	for _, l := range leases {
		if used[key(l.Worker, l.Asset)] || !wanted(l.Asset) {
			continue
		}
		e := Election{Name: l.Worker, Asset: l.Asset, Workers: []string{}}
		fill(&e, l)
		place(e)
	}
	return nil
}

func fill(e *Election, l election.Lease) {
	acq, exp := l.AcquiredAt.UTC(), l.ExpiresAt.UTC()
	in := l.ExpiresIn.Seconds()
	e.Holder, e.Epoch, e.AcquiredAt, e.ExpiresAt, e.ExpiresInSeconds = l.Holder, l.Epoch, &acq, &exp, &in
	e.State = ElectionExpired
	if l.Live {
		e.State = ElectionHeld
	}
}

// Key is the election's name, with its asset after a slash.
func (e Election) Key() string {
	if e.Asset == "" {
		return e.Name
	}
	return e.Name + "/" + e.Asset
}
