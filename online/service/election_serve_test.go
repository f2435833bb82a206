package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cryptoassets/cryptoassets/internal/chainscan"
	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/servetest"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/election"
)

// The elections among real serve processes on one database and one btcd.

const (
	lease = 2 * time.Second
	renew = 500 * time.Millisecond
)

var electionTOML = fmt.Sprintf("lease = %q\nrenew_interval = %q\n", lease, renew)

// serveTOML follows, batches and resolves at test speed.
const serveTOML = `confirmations = 1
coin_confirmations = 1
poll_interval = "100ms"
batch_interval = "1h"
batch_threshold_count = 1
resolve_interval = "1s"
`

// cluster is several serve installations on one database.
type cluster struct {
	t    *testing.T
	ctx  context.Context
	btcd *devenv.Btcd
	node chain.Node
	db   *pgxpool.Pool
	pay  *devenv.Faucet
	s    []*servetest.Service
}

func newCluster(t *testing.T, n int) *cluster {
	ctx := testenv.Ctx(t, 5*time.Minute)
	btcd := testenv.NewNode(t, devenv.BtcdOptions{})
	dsn := testenv.NewDatabase(t)
	c := &cluster{t: t, ctx: ctx, btcd: btcd, node: chain.NewRPCNode(btcd.Client)}
	c.pay = devenv.NewFaucet(c.node)
	for range n {
		c.s = append(c.s, servetest.New(t, servetest.Options{DatabaseURL: dsn, RPCURL: btcd.RPCURL(), AssetTOML: serveTOML, ElectionTOML: electionTOML}))
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	c.db = pool
	return c
}

func (c *cluster) leases() map[string]election.Lease {
	c.t.Helper()
	ls, err := election.Leases(c.ctx, c.db)
	if err != nil {
		c.t.Fatal(err)
	}
	out := map[string]election.Lease{}
	for _, l := range ls {
		key := l.Worker
		if l.Asset != "" {
			key += "/" + l.Asset
		}
		out[key] = l
	}
	return out
}

// holder is the installation holding election key's live lease, or nil.
func (c *cluster) holder(key string) *servetest.Service {
	l, ok := c.leases()[key]
	if !ok || !l.Live {
		return nil
	}
	for _, s := range c.s {
		if s.Instance == l.Holder {
			return s
		}
	}
	return nil
}

func (c *cluster) api(s *servetest.Service, method, path, body, key string, want int, out any) {
	c.t.Helper()
	code, b, err := s.Do(method, path, body, key)
	if err != nil || code != want {
		c.t.Fatalf("%s %s: %d %s %v, want %d", method, path, code, b, err, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}

func (c *cluster) available(s *servetest.Service, account string) int64 {
	c.t.Helper()
	var a struct {
		AvailableSat string `json:"available_sat"`
	}
	c.api(s, http.MethodGet, "/v1/btc/accounts/"+account, "", "", http.StatusOK, &a)
	n, _ := strconv.ParseInt(a.AvailableSat, 10, 64)
	return n
}

// deposit pays amount to a new address of account, asked of s.
func (c *cluster) deposit(s *servetest.Service, account string, amount int64, key string) {
	c.t.Helper()
	var addr struct {
		Address string `json:"address"`
	}
	c.api(s, http.MethodPost, "/v1/btc/accounts/"+account+"/addresses", "", key, http.StatusCreated, &addr)
	if _, err := c.pay.Pay(c.ctx, devenv.Payment{Address: addr.Address, Amount: amount}); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cluster) mine(n int) {
	c.t.Helper()
	if _, err := c.btcd.Generate(c.ctx, n); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cluster) eventually(what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: not within 2 minutes", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *cluster) count(sql string, args ...any) int {
	c.t.Helper()
	var n int
	if err := c.db.QueryRow(c.ctx, sql, args...).Scan(&n); err != nil {
		c.t.Fatal(err)
	}
	return n
}

// ledgerAndAuditHold runs the ledger check and the audit with the CLI.
func (c *cluster) ledgerAndAuditHold(s *servetest.Service) {
	c.t.Helper()
	if out, err := s.CLI("ledger", "check"); err != nil || !strings.Contains(out, "consistent") {
		c.t.Fatalf("ledger check: %v\n%s", err, out)
	}
	var out string
	var err error
	for range 10 { // unsettled while a block is being followed: again
		if out, err = s.CLI("audit"); err == nil {
			break
		}
		time.Sleep(time.Second)
	}
	if err != nil || !strings.Contains(out, "no mismatches") {
		c.t.Fatalf("audit: %v\n%s", err, out)
	}
}

// A serve process frozen (SIGSTOP) in its follower's first transaction,
// after its fence read the epoch it leads at and before the database was
// asked, while it has the whole chain to catch up with. Another process
// takes every lease over once it has passed, and credits a deposit. The
// frozen one resumed (SIGCONT) goes on with that transaction: the database
// refuses it, it stops leading, and it commits nothing: no block connected
// in its log after the resume, the deposit credited once, every lease the
// other's, the ledger and the audit hold.
func TestFrozenLeaderCannotWrite(t *testing.T) {
	c := newCluster(t, 2)
	a, b := c.s[0], c.s[1]
	a.Start("CRYPTOASSETS_PAUSE_AT=fence/follower/btc:1")
	if err := a.WaitLog("pausepoint: stopping at fence/follower/btc", time.Minute); err != nil {
		t.Fatal(err)
	}
	if h := c.holder("follower/btc"); h != a {
		t.Fatalf("the follower's lease is not the frozen process's: %+v", c.leases())
	}
	frozenEpoch := c.leases()["follower/btc"].Epoch
	b.StartReady()
	c.eventually("b holding every lease", func() bool {
		ls := c.leases()
		for _, k := range []string{"follower/btc", "payments/btc", "audit/btc"} {
			if l, ok := ls[k]; !ok || !l.Live || l.Holder != b.Instance {
				return false
			}
		}
		return true
	})
	if e := c.leases()["follower/btc"].Epoch; e != frozenEpoch+1 {
		t.Fatalf("b took the follower over at epoch %d, want %d", e, frozenEpoch+1)
	}
	c.api(b, http.MethodPost, "/v1/btc/accounts", `{"name":"alice"}`, "acct", http.StatusCreated, nil)
	const amount = 50_000_000
	c.deposit(b, "alice", amount, "addr")
	c.mine(1)
	c.eventually("alice's deposit credited", func() bool { return c.available(b, "alice") == amount })

	a.Signal(syscall.SIGCONT)
	if err := a.WaitLog(`election=follower/btc instance=`+a.Instance+fmt.Sprintf(` epoch=%d why="refused by the database"`, frozenEpoch), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := a.WaitLog("election: stopped leading", time.Minute); err != nil {
		t.Fatal(err)
	}
	// Give a's other workers a renew interval more to try.
	time.Sleep(3 * renew)
	log := a.Log()
	refusals := strings.Count(log, "write refused by the fence")
	_, resumed, ok := strings.Cut(log, "pausepoint: resumed at fence/follower/btc")
	if !ok || refusals == 0 {
		t.Fatalf("resumed %v, %d refusals: the test proves nothing unless the frozen process tried to write", ok, refusals)
	}
	if strings.Contains(resumed, "block connected") {
		t.Fatalf("the resumed process connected a block:\n%s", resumed)
	}
	for k, l := range c.leases() {
		if l.Holder != b.Instance {
			t.Fatalf("lease %s is %s's after the resume, want b's (%s)", k, l.Holder, b.Instance)
		}
	}
	if n := c.count(`SELECT count(*) FROM btc.deposits WHERE state = 'credited'`); n != 1 {
		t.Fatalf("%d deposits credited, want 1", n)
	}
	if got := c.available(a, "alice"); got != amount {
		t.Fatalf("alice has %d sat, want %d", got, amount)
	}
	c.ledgerAndAuditHold(b)
	t.Logf("the resumed process's writes refused by the fence: %d", refusals)
}

// A serve process frozen (SIGSTOP) inside the transaction of its campaign
// for the follower's lease, after the statement that locked the lease row
// and before the commit: the row is held by a session its process will not
// finish while it is stopped. The database ends that transaction once it is
// idle for a renew interval, so another process takes the lease and
// follows the chain while the frozen one stays stopped.
func TestFrozenCampaignHoldsNoLeaseRow(t *testing.T) {
	c := newCluster(t, 2)
	a, b := c.s[0], c.s[1]
	a.Start("CRYPTOASSETS_PAUSE_AT=campaign/follower/btc:1")
	if err := a.WaitLog("pausepoint: stopping at campaign/follower/btc", time.Minute); err != nil {
		t.Fatal(err)
	}
	b.StartReady()
	c.eventually("b holding the follower's lease", func() bool {
		l, ok := c.leases()["follower/btc"]
		return ok && l.Live && l.Holder == b.Instance
	})
	if strings.Contains(a.Log(), "pausepoint: resumed") {
		t.Fatal("a was resumed: the test proves nothing unless b took the lease while a stayed frozen")
	}
	c.api(b, http.MethodPost, "/v1/btc/accounts", `{"name":"alice"}`, "acct", http.StatusCreated, nil)
	const amount = 50_000_000
	c.deposit(b, "alice", amount, "addr")
	c.mine(1)
	c.eventually("alice's deposit credited", func() bool { return c.available(b, "alice") == amount })

	a.Signal(syscall.SIGCONT)
	if err := a.WaitLog("pausepoint: resumed at campaign/follower/btc", time.Minute); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * renew)
	if h := c.holder("follower/btc"); h != b {
		t.Fatalf("the follower's lease left b after a resumed: %+v", c.leases())
	}
	if n := c.count(`SELECT count(*) FROM btc.deposits WHERE state = 'credited'`); n != 1 {
		t.Fatalf("%d deposits credited, want 1", n)
	}
	c.ledgerAndAuditHold(b)
}

// do sends a request to the first installation that answers, starting at
// the i-th: one may be down, killed by the test. The same key makes the
// retry on another instance safe.
func (c *cluster) do(i int, method, path, body, key string, want int, out any) error {
	var last error
	for try := range 3 * len(c.s) {
		s := c.s[(i+try)%len(c.s)]
		code, b, err := s.Do(method, path, body, key)
		if err != nil {
			last = err
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if code != want {
			return fmt.Errorf("%s %s: %d %s, want %d", method, path, code, b, want)
		}
		if out != nil {
			return json.Unmarshal(b, out)
		}
		return nil
	}
	return fmt.Errorf("%s %s: no instance answered: %w", method, path, last)
}

type withdrawal struct {
	ID        int64  `json:"id"`
	Address   string `json:"address"`
	AmountSat string `json:"amount_sat"`
	FeeSat    string `json:"fee_sat"`
	State     string `json:"state"`
}

func sat(s string) int64 { n, _ := strconv.ParseInt(s, 10, 64); return n }

// Three serve processes under deposits and withdrawals; the leader of
// each election (follower, payments, audit) is killed with SIGKILL in
// turn, twice each, and restarted. Each time another instance takes the
// lease over within the bound the documentation promises, computed from the
// configuration: lease (the dead leader's last renewal, before the kill,
// passes at most that long after it) + renew interval (a standby's longest
// wait between two campaigns: renew/2 plus up to renew/2) + renew interval
// (the one campaign transaction, which the election bounds by that). The
// takeover is measured on the database's clock, from a clock_timestamp()
// read just before the SIGKILL to the new leader's acquired_at, so the time
// the test takes to notice is not in it. After the
// load: every deposit credited once, every withdrawal paid by exactly one
// output on the chain (scanned block by block) and none in the mempool,
// alice's balance what the deposits and withdrawals make it, the ledger
// check and the audit pass.
func TestLeadersKilledRepeatedlyUnderLoad(t *testing.T) {
	c := newCluster(t, 3)
	for _, s := range c.s {
		s.StartReady()
	}
	c.api(c.s[0], http.MethodPost, "/v1/btc/accounts", `{"name":"alice"}`, "acct", http.StatusCreated, nil)
	const funding = 200_000_000
	c.deposit(c.s[0], "alice", funding, "addr-funding")
	c.mine(1)
	c.eventually("alice funded", func() bool { return c.available(c.s[1], "alice") == funding })

	// The load: a withdrawal request, every other round a deposit, and a
	// block, about every 300ms, through whichever instance answers.
	stop, loaded := make(chan struct{}), make(chan struct{})
	var ws []withdrawal
	deposited := int64(funding)
	deposits := 1
	go func() {
		defer close(loaded)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(300 * time.Millisecond):
			}
			var h [20]byte
			h[0], h[1] = byte(i), 0xee
			addr, err := btcutil.NewAddressWitnessPubKeyHash(h[:], &chaincfg.RegressionNetParams)
			if err != nil {
				t.Error(err)
				return
			}
			var x withdrawal
			body := fmt.Sprintf(`{"account":"alice","address":%q,"amount_sat":"%d"}`, addr.EncodeAddress(), 1_000_000+int64(i)*1000)
			if err := c.do(i, http.MethodPost, "/v1/btc/withdrawals", body, fmt.Sprintf("wd-%d", i), http.StatusCreated, &x); err != nil {
				t.Error(err)
				return
			}
			ws = append(ws, x)
			if i%2 == 0 {
				var a struct {
					Address string `json:"address"`
				}
				if err := c.do(i, http.MethodPost, "/v1/btc/accounts/alice/addresses", "", fmt.Sprintf("addr-%d", i), http.StatusCreated, &a); err != nil {
					t.Error(err)
					return
				}
				amt := int64(10_000_000 + i)
				if _, err := c.pay.Pay(c.ctx, devenv.Payment{Address: a.Address, Amount: amt}); err != nil {
					t.Error(err)
					return
				}
				deposited += amt
				deposits++
			}
			if _, err := c.btcd.Generate(c.ctx, 1); err != nil {
				t.Error(err)
				return
			}
		}
	}()

	bound := lease + renew + renew // see above, and docs/architecture.md
	var worst time.Duration
	kills := 0
	for round := range 6 {
		key := []string{"follower/btc", "payments/btc", "audit/btc"}[round%3]
		var victim *servetest.Service
		c.eventually(key+" led", func() bool { victim = c.holder(key); return victim != nil })
		before := c.leases()[key].Epoch
		time.Sleep(time.Duration(round%3+1) * 400 * time.Millisecond) // mid-work, at varied phases of the renewals
		// The kill's time on the database's clock, as acquired_at is.
		var killed time.Time
		if err := c.db.QueryRow(c.ctx, `SELECT clock_timestamp()`).Scan(&killed); err != nil {
			t.Fatal(err)
		}
		noticed := time.Now()
		victim.Kill()
		kills++
		var took time.Duration
		for {
			l := c.leases()[key]
			if l.Live && l.Holder != victim.Instance && l.Epoch > before {
				took = l.AcquiredAt.Sub(killed)
				break
			}
			if time.Since(noticed) > 3*bound {
				t.Fatalf("round %d: nobody took %s over within %v of killing %s: %+v", round, key, 3*bound, victim.Instance, l)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if took > bound {
			t.Errorf("round %d: %s taken over %v after its leader was killed (database clock), above lease %v + 2 × renew interval %v", round, key, took, lease, renew)
		}
		worst = max(worst, took)
		t.Logf("round %d: %s's leader %s killed; taken over after %v", round, key, victim.Instance, took)
		victim.StartReady()
	}
	close(stop)
	<-loaded
	if t.Failed() {
		return
	}

	// Everything settles: every withdrawal confirmed, every deposit credited.
	want := deposited
	for _, x := range ws {
		want -= sat(x.AmountSat) + sat(x.FeeSat)
	}
	last := time.Now()
	c.eventually("every withdrawal confirmed and every deposit credited", func() bool {
		if time.Since(last) > time.Second {
			c.mine(1)
			last = time.Now()
		}
		if c.count(`SELECT count(*) FROM btc.deposits WHERE state = 'credited'`) != deposits {
			return false
		}
		for _, x := range ws {
			var y withdrawal
			if err := c.do(0, http.MethodGet, fmt.Sprintf("/v1/btc/withdrawals/%d", x.ID), "", "", http.StatusOK, &y); err != nil || y.State != "confirmed" {
				return false
			}
		}
		return true
	})
	if n := c.count(`SELECT count(*) FROM btc.deposits`); n != deposits {
		t.Fatalf("%d deposit rows for %d deposits", n, deposits)
	}
	if got := c.available(c.s[0], "alice"); got != want {
		t.Fatalf("alice has %d sat, want %d (deposits %d, %d withdrawals)", got, want, deposited, len(ws))
	}
	var scan *chainscan.Scan
	var err error
	for range 5 { // a block mined during the scan: again
		if scan, err = chainscan.EveryBlock(c.ctx, c.node); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range ws {
		script, err := chainscan.AddressScript(x.Address, &chaincfg.RegressionNetParams)
		if err != nil {
			t.Fatal(err)
		}
		if n, m := scan.Confirmed(script, sat(x.AmountSat)), scan.Unconfirmed(script, sat(x.AmountSat)); n != 1 || m != 0 {
			t.Fatalf("withdrawal %d is paid by %d outputs on the chain and %d in the mempool, want 1 and 0", x.ID, n, m)
		}
	}
	c.ledgerAndAuditHold(c.s[2])
	t.Logf("%d kills, worst takeover %v (bound %v); %d deposits credited once, %d withdrawals paid once in %d blocks", kills, worst, bound, deposits, len(ws), scan.Blocks)
}
