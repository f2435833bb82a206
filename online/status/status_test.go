package status_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/electiontest"
	"github.com/cryptoassets/cryptoassets/internal/jsontest"
	"github.com/cryptoassets/cryptoassets/internal/storetest"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/migrations"
	"github.com/cryptoassets/cryptoassets/online/audit"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/chain/rpc"
	"github.com/cryptoassets/cryptoassets/online/events"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/status"
	"github.com/cryptoassets/cryptoassets/online/store"
	"github.com/cryptoassets/cryptoassets/online/withdrawals"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// deadNode is an RPC node on a port nobody listens on.
func deadNode(t *testing.T) chain.Node {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := rpc.New(rpc.Config{URL: "http://" + addr, User: "u", Password: "p"})
	if err != nil {
		t.Fatal(err)
	}
	return chain.NewRPCNode(c)
}

// A fresh database reads as zeros in every state, a follower not started
// and no lag; the circuit breaker, a broken broadcast and a webhook's
// cursor then show as the real packages (and the broadcasts table) write
// them; a node that does not answer is named, not fatal.
func TestReadFollowsTheTables(t *testing.T) {
	ctx := testenv.Ctx(t, 2*time.Minute)
	runner := storetest.Runner(t, 4, "btc", "tbtc")
	btcd := testenv.NewNode(t, devenv.BtcdOptions{})
	node := chain.NewRPCNode(btcd.Client)
	floor, ceiling := int64(1_000), int64(5_000)
	const hook = "https://user:secret@shop.example/hook?token=abc"
	r, err := status.New(status.Config{Pool: runner.Pool(), Webhooks: []string{hook}, Migrations: migrations.FS,
		Assets: []status.AssetConfig{
			{Name: "btc", Network: "regtest", Node: node, HotFloorSat: &floor, HotCeilingSat: &ceiling},
			{Name: "tbtc", Network: "regtest", Node: deadNode(t)},
		}})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Assets) != 2 || rep.Assets[0].Name != "btc" || rep.Assets[1].Name != "tbtc" {
		t.Fatalf("assets %+v", rep.Assets)
	}
	btc, tbtc := rep.Assets[0], rep.Assets[1]
	tip, _, err := node.Tip(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !btc.Node.Reachable || btc.Node.Height == nil || *btc.Node.Height != tip {
		t.Fatalf("btc node %+v, want tip %d", btc.Node, tip)
	}
	if tbtc.Node.Reachable || tbtc.Node.Error == "" || tbtc.LagBlocks != nil {
		t.Fatalf("tbtc's dead node read as %+v (lag %v)", tbtc.Node, tbtc.LagBlocks)
	}
	if btc.Follower.Height != nil || btc.LagBlocks != nil {
		t.Fatalf("a follower that never ran: height %v lag %v", btc.Follower.Height, btc.LagBlocks)
	}
	for _, tc := range []struct {
		what   string
		got    status.StateCounts
		states []string
	}{{"deposits", btc.Deposits, status.DepositStates}, {"withdrawals", btc.Withdrawals, status.WithdrawalStates}} {
		if len(tc.got) != len(tc.states) {
			t.Fatalf("%s: %v, want every state of %v", tc.what, tc.got, tc.states)
		}
		for _, st := range tc.states {
			if c, ok := tc.got[st]; !ok || c.Count != 0 || c.Sat != 0 {
				t.Fatalf("%s %s: %+v %v", tc.what, st, c, ok)
			}
		}
	}
	if btc.Hot.Band != status.BandBelowFloor || tbtc.Hot.Band != status.BandUnbounded || btc.Breaker.Tripped || btc.Broadcasts.Open != 0 {
		t.Fatalf("fresh btc: hot %+v, tbtc hot %+v, breaker %+v, broadcasts %+v", btc.Hot, tbtc.Hot, btc.Breaker, btc.Broadcasts)
	}
	if len(rep.Webhooks) != 1 || rep.Webhooks[0].URL != "https://shop.example/hook" || rep.Webhooks[0].Backlog != 0 {
		t.Fatalf("webhooks %+v (the URL's credentials must not show)", rep.Webhooks)
	}

	// The follower's cursor, as the follower stores it.
	hash, err := node.BlockHash(ctx, tip)
	if err != nil {
		t.Fatal(err)
	}
	behind := tip - 3
	if _, err := runner.Pool().Exec(ctx, `UPDATE btc.chain_cursor SET height = $1, hash = $2`, behind, hash[:]); err != nil {
		t.Fatal(err)
	}
	// The breaker, tripped by the withdrawals package.
	l, err := ledger.New(runner, "btc")
	if err != nil {
		t.Fatal(err)
	}
	ws, err := withdrawals.New(l, withdrawals.Config{Params: &chaincfg.RegressionNetParams})
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.TripOnBreach(ctx, fmt.Errorf("%w: 2 BTC in the last hour", withdrawals.ErrLimitHotOutflow)); err != nil {
		t.Fatal(err)
	}
	// Two open broadcast records, one of them broken.
	for i, broken := range []bool{false, true} {
		var txid chainhash.Hash
		txid[0] = byte(i + 1)
		if _, err := runner.Pool().Exec(ctx, `INSERT INTO btc.broadcasts (txid, raw_tx, kind, broken_at, broken_reason)
			VALUES ($1, '\x00', 'withdrawal', CASE WHEN $2 THEN now() END, CASE WHEN $2 THEN 'test' END)`, txid[:], broken); err != nil {
			t.Fatal(err)
		}
	}
	// Three more published events (the breaker wrote one); the webhook has
	// acknowledged the first.
	if err := runner.InTx(ctx, "emit", func(tx *store.Tx) error {
		for i := range 3 {
			if _, err := events.Emit(tx, "btc", "test.event", map[string]any{"n": i}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := events.Publish(ctx, runner); err != nil {
		t.Fatal(err)
	}
	if err := events.Redeliver(ctx, runner, hook, 1); err != nil {
		t.Fatal(err)
	}
	newest, err := events.Newest(ctx, runner.Pool())
	if err != nil || newest < 4 {
		t.Fatalf("newest event %d %v, want the breaker's and three more", newest, err)
	}

	rep, err = r.ReadAsset(ctx, "btc")
	if err != nil {
		t.Fatal(err)
	}
	btc = rep.Assets[0]
	if btc.Follower.Height == nil || *btc.Follower.Height != behind || btc.Follower.Hash != hash.String() || btc.LagBlocks == nil || *btc.LagBlocks != 3 {
		t.Fatalf("follower %+v lag %v, want %d (%s) 3 behind", btc.Follower, btc.LagBlocks, behind, hash)
	}
	if !btc.Breaker.Tripped || btc.Breaker.TrippedAt == nil || !strings.Contains(btc.Breaker.Reason, "2 BTC in the last hour") {
		t.Fatalf("breaker %+v", btc.Breaker)
	}
	if btc.Broadcasts.Open != 2 || btc.Broadcasts.Broken != 1 || btc.Broadcasts.OldestOpenAt == nil {
		t.Fatalf("broadcasts %+v, want 2 open, 1 broken", btc.Broadcasts)
	}
	if rep.Events.PublishedUpTo != newest || len(rep.Webhooks) != 1 || rep.Webhooks[0].DeliveredUpTo != 1 || rep.Webhooks[0].Backlog != newest-1 {
		t.Fatalf("events %+v webhooks %+v, want %d published, 1 delivered, backlog %d", rep.Events, rep.Webhooks, newest, newest-1)
	}

	if _, err := ws.Resume(ctx, "operator"); err != nil {
		t.Fatal(err)
	}
	if rep, err = r.ReadAsset(ctx, "btc"); err != nil || rep.Assets[0].Breaker.Tripped {
		t.Fatalf("breaker after resume: %+v %v", rep.Assets[0].Breaker, err)
	}
}

// Asking for an asset the configuration does not have is a clear error
// naming the ones it has.
func TestReadAssetRefusesAnUnknownAsset(t *testing.T) {
	runner := storetest.Runner(t, 2, "btc")
	r, err := status.New(status.Config{Pool: runner.Pool(), Assets: []status.AssetConfig{{Name: "btc", Network: "regtest"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ltc", "", "BTC", "btc; DROP TABLE x"} {
		_, err := r.ReadAsset(context.Background(), name)
		if !errors.Is(err, status.ErrUnknownAsset) || !strings.Contains(err.Error(), "[btc]") {
			t.Fatalf("ReadAsset(%q): %v", name, err)
		}
	}
	if _, err := status.New(status.Config{Pool: runner.Pool(), Assets: []status.AssetConfig{{Name: "Bad Name"}}}); err == nil {
		t.Fatal("a schema name that is not an identifier was accepted")
	}
}

// Ready names what is not ready: a database not migrated for this release,
// an asset whose node does not answer.
func TestReadyNamesWhatIsNotReady(t *testing.T) {
	ctx := testenv.Ctx(t, time.Minute)
	btcd := testenv.NewNode(t, devenv.BtcdOptions{NoMine: true})
	migrated := storetest.Runner(t, 2, "btc")
	bare := testenv.NewPool(t, 2)
	tests := []struct {
		name    string
		cfg     status.Config
		ready   bool
		failing map[string]string // check -> part of its error
	}{
		{"all good", status.Config{Pool: migrated.Pool(), Assets: []status.AssetConfig{{Name: "btc", Network: "regtest", Node: chain.NewRPCNode(btcd.Client)}}}, true, nil},
		{"node down", status.Config{Pool: migrated.Pool(), Assets: []status.AssetConfig{{Name: "btc", Network: "regtest", Node: deadNode(t)}}}, false,
			map[string]string{"node:btc": "does not answer"}},
		{"not migrated", status.Config{Pool: bare, Assets: []status.AssetConfig{{Name: "btc", Network: "regtest", Node: chain.NewRPCNode(btcd.Client)}}}, false,
			map[string]string{"migrations": "cryptoassets migrate"}},
		{"another network", status.Config{Pool: migrated.Pool(), Assets: []status.AssetConfig{{Name: "btc", Network: "mainnet", Node: chain.NewRPCNode(btcd.Client)}}}, false,
			map[string]string{"migrations": "regtest"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Migrations = migrations.FS
			r, err := status.New(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			rd := r.Ready(ctx)
			if rd.Ready != tc.ready {
				t.Fatalf("ready %v, want %v: %+v", rd.Ready, tc.ready, rd.Checks)
			}
			names := map[string]bool{}
			for _, c := range rd.Checks {
				names[c.Name] = true
				want, failing := tc.failing[c.Name]
				if c.OK == failing || (failing && !strings.Contains(c.Error, want)) {
					t.Fatalf("check %+v, want failing=%v with %q", c, failing, want)
				}
			}
			for _, n := range []string{"database", "migrations", "node:btc"} {
				if !names[n] {
					t.Fatalf("no %s check in %+v", n, rd.Checks)
				}
			}
		})
	}
}

func TestBandAgainstFloorAndCeiling(t *testing.T) {
	p := func(n int64) *int64 { return &n }
	runner := storetest.Runner(t, 2, "btc")
	tests := []struct {
		floor, ceiling *int64
		want           string
	}{
		{nil, nil, status.BandUnbounded},
		{p(1), nil, status.BandBelowFloor}, // 0 coins
		{p(0), nil, status.BandWithin},
		{nil, p(0), status.BandWithin},
		{p(0), p(10), status.BandWithin},
	}
	for _, tc := range tests {
		r, err := status.New(status.Config{Pool: runner.Pool(), Assets: []status.AssetConfig{{Name: "btc", HotFloorSat: tc.floor, HotCeilingSat: tc.ceiling}}})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := r.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got := rep.Assets[0].Hot.Band; got != tc.want {
			t.Fatalf("floor %v ceiling %v: %s, want %s", tc.floor, tc.ceiling, got, tc.want)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://shop.example/hook":                "https://shop.example/hook",
		"https://u:p@shop.example/hook?key=s#frag": "https://shop.example/hook",
		"http://127.0.0.1:9000/h?a=b":              "http://127.0.0.1:9000/h",
		"://bad":                                   "(unparsable url)",
	} {
		if got := status.RedactURL(in); got != want {
			t.Fatalf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// The registry lists a worker from its start to its stop, with the role
// an election gives it.
func TestRegistryListsRunningWorkers(t *testing.T) {
	reg := status.NewRegistry("host:1")
	stopF := reg.Start("follower", "btc")
	stopD := reg.Start("deliverer", "")
	reg.SetRole("follower", "btc", status.RoleLeader)
	reg.SetRole("nothing", "btc", status.RoleLeader)
	got := reg.Workers()
	if len(got) != 2 || got[0].Name != "deliverer" || got[1].Name != "follower" || got[1].Role != status.RoleLeader || got[0].Role != status.RoleRunning || got[1].Instance != "host:1" {
		t.Fatalf("workers %+v", got)
	}
	stopF()
	stopD()
	if got := reg.Workers(); len(got) != 0 {
		t.Fatalf("after stop: %+v", got)
	}
}

// Every field of the report is in its JSON, omitempty ones aside.
func TestReportJSONHasEveryField(t *testing.T) {
	runner := storetest.Runner(t, 2, "btc")
	r, err := status.New(status.Config{Pool: runner.Pool(), Assets: []status.AssetConfig{{Name: "btc", Network: "regtest"}}, Workers: status.NewRegistry("x"),
		Elections: []status.ElectionSpec{{Name: "follower", Asset: "btc", Workers: []string{"follower"}}, {Name: "deliverer"}}})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if missing := jsontest.MissingFields(reflect.TypeOf(status.Report{}), m, ""); len(missing) > 0 {
		t.Fatalf("JSON lacks %v:\n%s", missing, b)
	}
}

// lastResult hands the reader an audit result as serve's audit worker
// keeps it.
type lastResult struct{ r *audit.Result }

func (l lastResult) LastResult() *audit.Result { return l.r }

// The last audit of this process is reported with its mismatches (those
// listed and those omitted past the list's limit); without one it is not
// known, never "passed".
func TestAuditSummary(t *testing.T) {
	runner := storetest.Runner(t, 2, "btc")
	at := time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		auditor status.Auditor
		want    status.AuditSummary
	}{
		{"no audit in this process", nil, status.AuditSummary{}},
		{"not finished yet", lastResult{nil}, status.AuditSummary{}},
		{"passed", lastResult{&audit.Result{At: at, Settled: true, Reserves: audit.Reserves{Ratio: "1.0000"}}},
			status.AuditSummary{Known: true, At: &at, Settled: true, ReserveRatio: "1.0000"}},
		{"mismatches", lastResult{&audit.Result{At: at, Settled: true, Mismatches: make([]audit.Mismatch, 3), Omitted: 2}},
			status.AuditSummary{Known: true, At: &at, Settled: true, Mismatches: 5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := status.New(status.Config{Pool: runner.Pool(), Assets: []status.AssetConfig{{Name: "btc", Auditor: tc.auditor}}})
			if err != nil {
				t.Fatal(err)
			}
			rep, err := r.Read(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := rep.Assets[0].Audit; !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("audit %+v, want %+v", got, tc.want)
			}
		})
	}
}

// findElection is the election key of rep, of an asset or global.
func findElection(rep *status.Report, key string) (status.Election, bool) {
	els := slices.Clone(rep.Elections)
	for _, a := range rep.Assets {
		els = append(els, a.Elections...)
	}
	for _, e := range els {
		if e.Key() == key {
			return e, true
		}
	}
	return status.Election{}, false
}

func electionOf(t *testing.T, rep *status.Report, key string) status.Election {
	t.Helper()
	e, ok := findElection(rep, key)
	if !ok {
		t.Fatalf("no election %s in %+v %+v", key, rep.Assets, rep.Elections)
	}
	return e
}

// The elections of three instances, as the lease table has them: each
// election names its holder and epoch while the holder renews; when alpha
// stops, beta (its standby) takes the follower over at the next epoch;
// gamma, cut off from the database like a killed process, leaves its lease
// to pass, and it reads expired; when beta stops too, every lease reads
// expired (no leader), naming its last holder. An election nobody
// campaigned in reads never elected, and a lease row the configuration
// does not name is still shown.
func TestElectionsShowWhichInstanceHoldsEachLease(t *testing.T) {
	dsn := testenv.NewDatabase(t)
	runner := storetest.RunnerOn(t, dsn, 8, "btc")
	// gamma has a database pool of its own, to lose it as a killed
	// process would.
	gammaRunner := storetest.RunnerOn(t, dsn, 2, "btc")
	ctx := testenv.Ctx(t, 2*time.Minute)
	r, err := status.New(status.Config{Pool: runner.Pool(), Assets: []status.AssetConfig{{Name: "btc", Network: "regtest"}},
		Elections: []status.ElectionSpec{
			{Name: "follower", Asset: "btc", Workers: []string{"follower"}},
			{Name: "payments", Asset: "btc", Workers: []string{"resolver", "batcher"}},
			{Name: "deliverer", Workers: []string{"deliverer"}},
		}})
	if err != nil {
		t.Fatal(err)
	}
	read := func() *status.Report {
		t.Helper()
		rep, err := r.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	alphaF, stopAlpha := electiontest.Campaign(t, runner, "follower", "btc", "alpha")
	testenv.WaitFor(t, "alpha leading follower/btc", func() bool { return alphaF.Epoch() != 0 })
	_, stopBetaP := electiontest.Campaign(t, runner, "payments", "btc", "beta")
	betaF, stopBetaF := electiontest.Campaign(t, runner, "follower", "btc", "beta")
	electiontest.Campaign(t, gammaRunner, "audit", "btc", "gamma")
	testenv.WaitFor(t, "beta holding payments/btc, gamma audit/btc", func() bool {
		rep := read()
		a, ok := findElection(rep, "audit/btc")
		return ok && a.State == status.ElectionHeld && electionOf(t, rep, "payments/btc").State == status.ElectionHeld
	})
	rep := read()
	tests := []struct {
		key, state, holder string
		epoch              int64
		workers            []string
	}{
		{"follower/btc", status.ElectionHeld, "alpha", 1, []string{"follower"}},
		{"payments/btc", status.ElectionHeld, "beta", 1, []string{"resolver", "batcher"}},
		{"audit/btc", status.ElectionHeld, "gamma", 1, []string{}},
		{"deliverer", status.ElectionNeverElected, "", 0, []string{"deliverer"}},
	}
	for _, tc := range tests {
		e := electionOf(t, rep, tc.key)
		if e.State != tc.state || e.Holder != tc.holder || e.Epoch != tc.epoch || !slices.Equal(e.Workers, tc.workers) {
			t.Fatalf("%s: %+v, want %s by %q at epoch %d running %v", tc.key, e, tc.state, tc.holder, tc.epoch, tc.workers)
		}
		if held := tc.state == status.ElectionHeld; held != (e.ExpiresInSeconds != nil && *e.ExpiresInSeconds > 0) {
			t.Fatalf("%s %s expires in %v", tc.key, e.State, e.ExpiresInSeconds)
		}
	}
	if betaF.Epoch() != 0 {
		t.Fatal("beta leads follower/btc beside alpha")
	}
	if len(rep.Assets[0].Elections) != 3 || len(rep.Elections) != 1 {
		t.Fatalf("asset elections %+v, global %+v", rep.Assets[0].Elections, rep.Elections)
	}

	// alpha stops: its standby takes the follower over.
	stopAlpha()
	testenv.WaitFor(t, "beta holding follower/btc", func() bool {
		e := electionOf(t, read(), "follower/btc")
		return e.State == status.ElectionHeld && e.Holder == "beta"
	})
	if e := electionOf(t, read(), "follower/btc"); e.Epoch != 2 {
		t.Fatalf("beta took follower/btc over at epoch %d, want 2", e.Epoch)
	}

	// gamma is cut off from the database, as a killed process is: it
	// neither renews nor releases its lease, which passes by itself.
	gammaRunner.Pool().Close()
	testenv.WaitFor(t, "audit/btc expired", func() bool { return electionOf(t, read(), "audit/btc").State == status.ElectionExpired })

	// beta stops (releasing its leases): nobody holds an election any more.
	stopBetaF()
	stopBetaP()
	rep = read()
	for _, tc := range []struct {
		key, holder string
		epoch       int64
	}{{"follower/btc", "beta", 2}, {"payments/btc", "beta", 1}, {"audit/btc", "gamma", 1}} {
		e := electionOf(t, rep, tc.key)
		if e.State != status.ElectionExpired || e.ExpiresInSeconds == nil || *e.ExpiresInSeconds > 0 || e.Holder != tc.holder || e.Epoch != tc.epoch {
			t.Fatalf("%s after its holder stopped: %+v, want expired, last held by %s at epoch %d", tc.key, e, tc.holder, tc.epoch)
		}
	}
}
