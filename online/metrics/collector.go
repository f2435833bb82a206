package metrics

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cryptoassets/cryptoassets/online/status"
)

// statusCollector turns one status read per scrape into metrics.
// Scrapes that arrive while a read runs share it, so several Prometheus
// servers (or a hung database) hold one pool connection, not one each.
type statusCollector struct {
	read    StatusReader
	timeout time.Duration
	fails   atomic.Uint64

	mu  sync.Mutex
	cur *flight

	up, readSeconds, readFailures *prometheus.Desc

	nodeUp, nodeHeight, followerHeight, lag               *prometheus.Desc
	deposits, depositsSat, withdrawals, withdrawalsSat    *prometheus.Desc
	open, broken, oldestOpen                              *prometheus.Desc
	balance, unconfirmed, coins, floor, ceiling, reserved *prometheus.Desc
	breaker, auditKnown, auditMismatches, auditAt         *prometheus.Desc
	auditSettled                                          *prometheus.Desc
	published, unpublished                                *prometheus.Desc
	hookDelivered, hookBacklog, hookFailures              *prometheus.Desc
	worker                                                *prometheus.Desc
	leader, leaseHolder, leaseEpoch, leaseExpiresIn       *prometheus.Desc
}

func newStatusCollector(r StatusReader, timeout time.Duration) *statusCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(ns+"_"+name, help, labels, nil)
	}
	return &statusCollector{read: r, timeout: timeout,
		up:           d("status_up", "1 when this scrape read the service's figures from the database, 0 when the read failed or timed out."),
		readSeconds:  d("status_read_seconds", "How long this scrape's read of the figures took."),
		readFailures: d("status_read_failures_total", "Reads of the figures that failed or timed out (scrapes sharing a read count it once)."),

		nodeUp:         d("node_up", "1 when the asset's node answered this scrape.", "asset"),
		nodeHeight:     d("node_height", "The node's best block height.", "asset"),
		followerHeight: d("follower_height", "The chain follower's last processed block height.", "asset"),
		lag:            d("follower_lag_blocks", "The node's tip minus the follower's height.", "asset"),

		deposits:       d("deposits", "Deposits by state.", "asset", "state"),
		depositsSat:    d("deposits_sat", "Deposit amounts by state, in satoshis.", "asset", "state"),
		withdrawals:    d("withdrawals", "Withdrawals by state.", "asset", "state"),
		withdrawalsSat: d("withdrawals_sat", "Withdrawal amounts by state, in satoshis.", "asset", "state"),

		open:       d("broadcasts_open", "Broadcast records opened and not closed (the outcome not recorded yet).", "asset"),
		broken:     d("broadcasts_broken", "Open broadcast records marked broken: an operator must resolve them.", "asset"),
		oldestOpen: d("broadcasts_oldest_open_timestamp_seconds", "When the oldest open broadcast record was opened (absent when none is open).", "asset"),

		balance:     d("wallet_balance_sat", "Unspent coins of a wallet (hot or cold), confirmed or not, in satoshis.", "asset", "wallet"),
		unconfirmed: d("wallet_unconfirmed_sat", "The part of wallet_balance_sat not yet in a block.", "asset", "wallet"),
		coins:       d("wallet_coins", "Unspent coins of a wallet.", "asset", "wallet"),
		reserved:    d("wallet_reserved_sat", "The part of wallet_balance_sat reserved by batches being built or sent.", "asset", "wallet"),
		floor:       d("hot_floor_sat", "The configured hot wallet floor (absent when not configured).", "asset"),
		ceiling:     d("hot_ceiling_sat", "The configured hot wallet ceiling (absent when not configured).", "asset"),

		breaker:         d("breaker_tripped", "1 while the asset's withdrawal circuit breaker is tripped.", "asset"),
		auditKnown:      d("audit_known", "1 when this process has finished an audit of the asset.", "asset"),
		auditMismatches: d("audit_mismatches", "Mismatches the last audit of this process found (when audit_known).", "asset"),
		auditSettled:    d("audit_settled", "1 when the last audit ran with the follower at the node's tip.", "asset"),
		auditAt:         d("audit_last_timestamp_seconds", "When the last audit of this process ran.", "asset"),

		published:     d("events_published_up_to", "The newest published event id."),
		unpublished:   d("events_unpublished", "Committed events not yet given an id."),
		hookDelivered: d("webhook_delivered_up_to", "The newest event id the webhook acknowledged.", "url"),
		hookBacklog:   d("webhook_backlog_events", "Events the webhook has not acknowledged yet.", "url"),
		hookFailures:  d("webhook_failures", "Consecutive failed deliveries to the webhook (0 after a success).", "url"),

		worker: d("worker_running", "1 for each worker this process runs or stands by for; process is this process's election instance (election.instance, default host-pid), role is leader where it holds the worker's election, standby where another instance does.", "worker", "asset", "process", "role"),

		leader:         d("election_leader", "1 while the election's lease is held (its holder runs its workers), 0 when it has expired or no instance was ever elected: no leader now. From the lease table, the same on every instance.", "election", "asset"),
		leaseHolder:    d("election_lease_holder", "1 for the instance (election.instance) named in the election's lease row, held or expired.", "election", "asset", "holder"),
		leaseEpoch:     d("election_lease_epoch", "The epoch of the election's lease, raised by every takeover.", "election", "asset"),
		leaseExpiresIn: d("election_lease_expires_in_seconds", "The lease's expiry less the database's clock: negative once it has passed (how long there has been no leader).", "election", "asset"),
	}
}

func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.readSeconds, c.readFailures, c.nodeUp, c.nodeHeight, c.followerHeight, c.lag,
		c.deposits, c.depositsSat, c.withdrawals, c.withdrawalsSat, c.open, c.broken, c.oldestOpen,
		c.balance, c.unconfirmed, c.coins, c.reserved, c.floor, c.ceiling, c.breaker, c.auditKnown, c.auditMismatches, c.auditSettled, c.auditAt,
		c.published, c.unpublished, c.hookDelivered, c.hookBacklog, c.hookFailures, c.worker,
		c.leader, c.leaseHolder, c.leaseEpoch, c.leaseExpiresIn} {
		ch <- d
	}
}

// flight is one status read and the scrapes waiting for it.
type flight struct {
	done    chan struct{}
	rep     *status.Report
	err     error
	seconds float64
}

// readShared returns the result of the read in flight, or of a new one.
func (c *statusCollector) readShared() *flight {
	c.mu.Lock()
	f := c.cur
	if f == nil {
		f = &flight{done: make(chan struct{})}
		c.cur = f
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
			defer cancel()
			start := time.Now()
			f.rep, f.err = c.read.Read(ctx)
			f.seconds = time.Since(start).Seconds()
			if f.err != nil {
				c.fails.Add(1)
			}
			c.mu.Lock()
			c.cur = nil
			c.mu.Unlock()
			close(f.done)
		}()
	}
	c.mu.Unlock()
	<-f.done
	return f
}

func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	f := c.readShared()
	rep, err := f.rep, f.err
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(c.readSeconds, f.seconds)
	ch <- prometheus.MustNewConstMetric(c.readFailures, prometheus.CounterValue, float64(c.fails.Load()))
	if err != nil {
		gauge(c.up, 0)
		return
	}
	gauge(c.up, 1)
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	for _, a := range rep.Assets {
		gauge(c.nodeUp, b(a.Node.Reachable), a.Name)
		if a.Node.Height != nil {
			gauge(c.nodeHeight, float64(*a.Node.Height), a.Name)
		}
		if a.Follower.Height != nil {
			gauge(c.followerHeight, float64(*a.Follower.Height), a.Name)
		}
		if a.LagBlocks != nil {
			gauge(c.lag, float64(*a.LagBlocks), a.Name)
		}
		for _, st := range a.Deposits.Names(status.DepositStates) {
			gauge(c.deposits, float64(a.Deposits[st].Count), a.Name, st)
			gauge(c.depositsSat, float64(a.Deposits[st].Sat), a.Name, st)
		}
		for _, st := range a.Withdrawals.Names(status.WithdrawalStates) {
			gauge(c.withdrawals, float64(a.Withdrawals[st].Count), a.Name, st)
			gauge(c.withdrawalsSat, float64(a.Withdrawals[st].Sat), a.Name, st)
		}
		gauge(c.open, float64(a.Broadcasts.Open), a.Name)
		gauge(c.broken, float64(a.Broadcasts.Broken), a.Name)
		if a.Broadcasts.OldestOpenAt != nil {
			gauge(c.oldestOpen, float64(a.Broadcasts.OldestOpenAt.Unix()), a.Name)
		}
		for _, w := range []struct {
			name string
			w    status.Wallet
		}{{"hot", a.Hot}, {"cold", a.Cold}} {
			gauge(c.balance, float64(w.w.Sat), a.Name, w.name)
			gauge(c.unconfirmed, float64(w.w.UnconfirmedSat), a.Name, w.name)
			gauge(c.coins, float64(w.w.Coins), a.Name, w.name)
			gauge(c.reserved, float64(w.w.ReservedSat), a.Name, w.name)
		}
		if a.Hot.FloorSat != nil {
			gauge(c.floor, float64(*a.Hot.FloorSat), a.Name)
		}
		if a.Hot.CeilingSat != nil {
			gauge(c.ceiling, float64(*a.Hot.CeilingSat), a.Name)
		}
		gauge(c.breaker, b(a.Breaker.Tripped), a.Name)
		gauge(c.auditKnown, b(a.Audit.Known), a.Name)
		if a.Audit.Known {
			gauge(c.auditMismatches, float64(a.Audit.Mismatches), a.Name)
			gauge(c.auditSettled, b(a.Audit.Settled), a.Name)
			gauge(c.auditAt, float64(a.Audit.At.Unix()), a.Name)
		}
	}
	gauge(c.published, float64(rep.Events.PublishedUpTo))
	gauge(c.unpublished, float64(rep.Events.Unpublished))
	for _, w := range rep.Webhooks {
		gauge(c.hookDelivered, float64(w.DeliveredUpTo), w.URL)
		gauge(c.hookBacklog, float64(w.Backlog), w.URL)
		gauge(c.hookFailures, float64(w.Failures), w.URL)
	}
	for _, w := range rep.Workers {
		gauge(c.worker, 1, w.Name, w.Asset, w.Instance, w.Role)
	}
	els := slices.Clone(rep.Elections)
	for _, a := range rep.Assets {
		els = append(els, a.Elections...)
	}
	for _, e := range els {
		gauge(c.leader, b(e.State == status.ElectionHeld), e.Name, e.Asset)
		if e.State == status.ElectionNeverElected {
			continue
		}
		gauge(c.leaseHolder, 1, e.Name, e.Asset, e.Holder)
		gauge(c.leaseEpoch, float64(e.Epoch), e.Name, e.Asset)
		gauge(c.leaseExpiresIn, *e.ExpiresInSeconds, e.Name, e.Asset)
	}
}
