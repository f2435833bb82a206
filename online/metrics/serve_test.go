package metrics_test

import (
	"bufio"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/servetest"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/status"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// serveTOML follows, batches and resolves at test speed: one requested
// withdrawal is batched at once.
const serveTOML = `confirmations = 1
coin_confirmations = 1
poll_interval = "100ms"
batch_interval = "1h"
batch_threshold_count = 1
resolve_interval = "1s"
`

// scrape is one read of /metrics: each sample by its name and labels as
// the text format prints them (labels sorted by name).
type scrape map[string]float64

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func scrapeOf(t *testing.T, url string) scrape {
	t.Helper()
	code, body := get(t, url)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", url, code, body)
	}
	out := scrape{}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// has reports the value of the sample and whether it is present.
func (s scrape) has(key string) (float64, bool) { v, ok := s[key]; return v, ok }

func (s scrape) must(t *testing.T, key string) float64 {
	t.Helper()
	v, ok := s[key]
	if !ok {
		t.Fatalf("no sample %s in the scrape", key)
	}
	return v
}

// withPrefix sums the samples whose key starts with prefix.
func (s scrape) withPrefix(prefix string) (sum float64, n int) {
	for k, v := range s {
		if strings.HasPrefix(k, prefix) {
			sum += v
			n++
		}
	}
	return sum, n
}

type harness struct {
	t    *testing.T
	btcd *devenv.Btcd
	node chain.Node
	s    *servetest.Service
}

func (h *harness) api(method, path, body, key string, want int, out any) {
	h.t.Helper()
	code, b, err := h.s.Do(method, path, body, key)
	if err != nil || code != want {
		h.t.Fatalf("%s %s: %d %s %v, want %d", method, path, code, b, err, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			h.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}

func (h *harness) mine(n int) {
	h.t.Helper()
	if _, err := h.btcd.Generate(testenv.Ctx(h.t, time.Minute), n); err != nil {
		h.t.Fatal(err)
	}
}

// eventually scrapes until cond holds, mining a block a second when mine
// is set, for up to two minutes; it returns the scrape that satisfied it.
func (h *harness) eventually(what string, mine bool, cond func(scrape) bool) scrape {
	h.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	last := time.Now()
	for {
		s := scrapeOf(h.t, h.s.APIURL+"/metrics")
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: not within 2 minutes; last scrape:\n%v", what, s)
		}
		if mine && time.Since(last) > time.Second {
			h.mine(1)
			last = time.Now()
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// scraper scrapes every 100ms until stopped and fails the test on a
// scrape that did not read the database or a counter that went back.
type scraper struct {
	stopc chan struct{}
	done  chan int
	once  sync.Once
	n     int
}

func startScraper(t *testing.T, url string) *scraper {
	sc := &scraper{stopc: make(chan struct{}), done: make(chan int, 1)}
	// Stopped before serve is (cleanups run last first) when the test
	// ends early.
	t.Cleanup(func() { sc.stop() })
	monotone := []string{commits, "cryptoassets_runner_attempts_total", `cryptoassets_http_requests_total{route="POST /v1/{asset}/transfers",status="201"}`,
		`cryptoassets_deposits{asset="btc",state="credited"}`, follower}
	go func() {
		n := 0
		last := map[string]float64{}
		defer func() { sc.done <- n }()
		for {
			select {
			case <-sc.stopc:
				return
			case <-time.After(100 * time.Millisecond):
			}
			resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(url)
			if err != nil {
				t.Errorf("background scrape: %v", err)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			s := scrape{}
			for _, line := range strings.Split(string(body), "\n") {
				if i := strings.LastIndexByte(line, ' '); i > 0 && !strings.HasPrefix(line, "#") {
					if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
						s[line[:i]] = v
					}
				}
			}
			n++
			if resp.StatusCode != http.StatusOK || s[up] != 1 {
				t.Errorf("background scrape %d: %d, status_up %v", n, resp.StatusCode, s[up])
				return
			}
			for _, k := range monotone {
				if v, ok := s[k]; ok {
					if v < last[k] {
						t.Errorf("background scrape %d: %s went back from %v to %v", n, k, last[k], v)
						return
					}
					last[k] = v
				}
			}
		}
	}()
	return sc
}

func (sc *scraper) stop() int {
	sc.once.Do(func() {
		close(sc.stopc)
		sc.n = <-sc.done
	})
	return sc.n
}

const (
	credited  = `cryptoassets_deposits{asset="btc",state="credited"}`
	seen      = `cryptoassets_deposits{asset="btc",state="seen"}`
	follower  = `cryptoassets_follower_height{asset="btc"}`
	nodeTip   = `cryptoassets_node_height{asset="btc"}`
	lag       = `cryptoassets_follower_lag_blocks{asset="btc"}`
	commits   = `cryptoassets_runner_commits_total`
	confirmed = `cryptoassets_withdrawals{asset="btc",state="confirmed"}`
	hot       = `cryptoassets_wallet_balance_sat{asset="btc",wallet="hot"}`
	openBC    = `cryptoassets_broadcasts_open{asset="btc"}`
	up        = `cryptoassets_status_up`
)

// /metrics scraped from a real serve while deposits arrive, transfers run
// concurrently and a withdrawal is paid: the deposit counts, the
// follower's height, the hot coins, the withdrawal states, the runner's
// commits and the API request counters all move, and the workers serve
// runs are listed. A scraper runs all along: every scrape reads the
// database and no counter ever goes back.
func TestMetricsMoveWithDepositsAndAWithdrawal(t *testing.T) {
	btcd := testenv.NewNode(t, devenv.BtcdOptions{})
	h := &harness{t: t, btcd: btcd, node: chain.NewRPCNode(btcd.Client)}
	h.s = servetest.New(t, servetest.Options{RPCURL: btcd.RPCURL(), AssetTOML: serveTOML})
	h.s.StartReady()
	bg := startScraper(t, h.s.APIURL+"/metrics")

	before := h.eventually("the follower at the node's tip", false, func(s scrape) bool {
		l, ok := s.has(lag)
		return ok && l == 0 && s[up] == 1
	})
	if before.must(t, credited) != 0 || before.must(t, confirmed) != 0 || before.must(t, hot) != 0 {
		t.Fatalf("a fresh service shows deposits, withdrawals or coins: %v", before)
	}
	for _, w := range []string{"follower", "resolver", "batcher", "audit"} {
		found := false
		for k := range before {
			found = found || (strings.HasPrefix(k, `cryptoassets_worker_running{asset="btc"`) && strings.Contains(k, `worker="`+w+`"`))
		}
		if !found {
			t.Fatalf("worker %s is not listed: %v", w, before)
		}
	}
	// The follower runs: this instance holds its election, elected once.
	for _, key := range []string{
		`cryptoassets_election_leader{asset="btc",election="follower"}`,
		`cryptoassets_election_lease_holder{asset="btc",election="follower",holder="` + h.s.Instance + `"}`,
		`cryptoassets_election_terms_total{asset="btc",election="follower"}`,
	} {
		if v := before.must(t, key); v != 1 {
			t.Fatalf("%s = %v, want 1", key, v)
		}
	}

	h.api(http.MethodPost, "/v1/btc/accounts", `{"name":"alice"}`, "acct", http.StatusCreated, nil)
	h.api(http.MethodGet, "/v1/btc/accounts/nobody", "", "", http.StatusNotFound, nil)
	const deposits = 3
	var total int64
	faucet := devenv.NewFaucet(h.node)
	for i := range deposits {
		var addr struct {
			Address string `json:"address"`
		}
		h.api(http.MethodPost, "/v1/btc/accounts/alice/addresses", "", fmt.Sprintf("addr-%d", i), http.StatusCreated, &addr)
		amt := int64(20_000_000 + i*1000)
		if _, err := faucet.Pay(testenv.Ctx(t, time.Minute), devenv.Payment{Address: addr.Address, Amount: amt}); err != nil {
			t.Fatal(err)
		}
		total += amt
	}
	inPool := h.eventually("the deposits seen in the mempool", false, func(s scrape) bool { return s[seen] == deposits })
	t.Logf("in the mempool: seen %.0f, credited %.0f, hot %.0f sat, unconfirmed %.0f", inPool[seen], inPool[credited], inPool[hot],
		inPool[`cryptoassets_wallet_unconfirmed_sat{asset="btc",wallet="hot"}`])
	h.mine(1)
	after := h.eventually("the deposits credited", false, func(s scrape) bool { return s[credited] == deposits && s[lag] == 0 })
	if after[seen] != 0 || after[hot] != float64(total) {
		t.Fatalf("after crediting: seen %v, hot %v sat, want 0 and %d", after[seen], after[hot], total)
	}
	if after.must(t, follower) <= before.must(t, follower) || after.must(t, nodeTip) != after.must(t, follower) {
		t.Fatalf("follower height %v -> %v, node %v", before[follower], after[follower], after[nodeTip])
	}
	if after.must(t, commits) <= before.must(t, commits) {
		t.Fatalf("runner commits %v -> %v", before[commits], after[commits])
	}
	created := `cryptoassets_http_requests_total{route="POST /v1/{asset}/accounts",status="201"}`
	notFound := `cryptoassets_http_requests_total{route="GET /v1/{asset}/accounts/{name}",status="404"}`
	addrs := `cryptoassets_http_requests_total{route="POST /v1/{asset}/accounts/{name}/addresses",status="201"}`
	if after.must(t, created) != 1 || after.must(t, notFound) != 1 || after.must(t, addrs) != deposits {
		t.Fatalf("API counters: accounts 201 %v, account 404 %v, addresses 201 %v", after[created], after[notFound], after[addrs])
	}
	if _, ok := after.has(`cryptoassets_http_request_duration_seconds_count{route="POST /v1/{asset}/accounts",status="201"}`); !ok {
		t.Fatal("no latency histogram for the account creation")
	}

	// Transfers from alice to bob, concurrently, while the scraper reads.
	h.api(http.MethodPost, "/v1/btc/accounts", `{"name":"bob"}`, "acct-bob", http.StatusCreated, nil)
	const transfers = 40
	type answer struct {
		busy int // 503 busy answers before the 201
		err  error
	}
	answers := make(chan answer, transfers)
	for i := range transfers {
		go func() {
			// A 503 busy (the runner gave up on conflicts) is retried with
			// the same Idempotency-Key, as docs/api.md tells clients to.
			var a answer
			for {
				code, b, err := h.s.Do(http.MethodPost, "/v1/btc/transfers", `{"from":"alice","to":"bob","amount_sat":"1000"}`, fmt.Sprintf("tr-%d", i))
				switch {
				case err == nil && code == http.StatusServiceUnavailable && strings.Contains(string(b), `"busy"`):
					a.busy++
					continue
				case err == nil && code != http.StatusCreated:
					err = fmt.Errorf("transfer %d: %d %s", i, code, b)
				}
				a.err = err
				answers <- a
				return
			}
		}()
	}
	busy := 0
	for range transfers {
		a := <-answers
		if a.err != nil {
			t.Fatal(a.err)
		}
		busy += a.busy
	}
	moved := scrapeOf(t, h.s.APIURL+"/metrics")
	if got := moved.must(t, `cryptoassets_http_requests_total{route="POST /v1/{asset}/transfers",status="201"}`); got != transfers {
		t.Fatalf("transfers counted %v, want %d", got, transfers)
	}
	if moved[commits] < after[commits]+transfers {
		t.Fatalf("runner commits %v -> %v over %d transfers", after[commits], moved[commits], transfers)
	}
	// Transfers from one account meet on its balance row: the runner's
	// retries show it.
	retries := "cryptoassets_runner_retries_total"
	if moved.must(t, retries) <= after.must(t, retries) {
		t.Fatalf("runner retries %v -> %v: %d concurrent transfers from one account never collided", after[retries], moved[retries], transfers)
	}
	gaveUp := moved.must(t, "cryptoassets_runner_give_ups_total") - after.must(t, "cryptoassets_runner_give_ups_total")
	busyCounted, _ := moved.has(`cryptoassets_http_requests_total{route="POST /v1/{asset}/transfers",status="503"}`)
	if gaveUp != float64(busy) || busyCounted != float64(busy) {
		t.Fatalf("%d busy answers; the runner counted %v give-ups and the API %v 503s", busy, gaveUp, busyCounted)
	}
	t.Logf("%d concurrent transfers: commits %.0f -> %.0f, retries %.0f -> %.0f, give-ups %.0f (answered 503 busy and retried by the client)",
		transfers, after[commits], moved[commits], after[retries], moved[retries], gaveUp)

	var a [20]byte
	_, _ = rand.Read(a[:])
	dest, err := btcutil.NewAddressWitnessPubKeyHash(a[:], &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	const paid = 5_000_000
	h.api(http.MethodPost, "/v1/btc/withdrawals", fmt.Sprintf(`{"account":"alice","address":%q,"amount_sat":"%d"}`, dest.EncodeAddress(), paid),
		"w-1", http.StatusCreated, nil)
	done := h.eventually("the withdrawal confirmed", true, func(s scrape) bool { return s[confirmed] == 1 && s[lag] == 0 })
	if done[openBC] != 0 || done[`cryptoassets_broadcasts_broken{asset="btc"}`] != 0 {
		t.Fatalf("broadcasts after the withdrawal confirmed: open %v broken %v", done[openBC], done[`cryptoassets_broadcasts_broken{asset="btc"}`])
	}
	if done[hot] >= float64(total-paid) || done[hot] <= 0 {
		t.Fatalf("hot coins %v sat after paying %d (fee included) from %d", done[hot], paid, total)
	}
	if done[commits] <= after[commits] || done[follower] <= after[follower] {
		t.Fatalf("commits %v -> %v, follower %v -> %v", after[commits], done[commits], after[follower], done[follower])
	}
	if done.must(t, `cryptoassets_http_requests_total{route="POST /v1/{asset}/withdrawals",status="201"}`) != 1 {
		t.Fatal("the withdrawal request is not counted")
	}
	if done.must(t, `cryptoassets_breaker_tripped{asset="btc"}`) != 0 {
		t.Fatal("the breaker shows tripped")
	}
	// The money after it all: bob holds exactly the transfers, the ledger
	// holds together, and the audit finds the chain agrees.
	var bob struct {
		AvailableSat string `json:"available_sat"`
	}
	h.api(http.MethodGet, "/v1/btc/accounts/bob", "", "", http.StatusOK, &bob)
	if bob.AvailableSat != strconv.Itoa(transfers*1000) {
		t.Fatalf("bob holds %s sat after %d transfers of 1000", bob.AvailableSat, transfers)
	}
	if out, err := h.s.CLI("ledger", "check"); err != nil || !strings.Contains(out, "consistent") {
		t.Fatalf("ledger check: %v\n%s", err, out)
	}
	if out, err := h.s.CLI("audit"); err != nil {
		t.Fatalf("audit: %v\n%s", err, out)
	}

	// The status command reads the same figures.
	out, err := h.s.CLI("status", "--json")
	if err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	var rep status.Report
	if err := json.Unmarshal([]byte(out[strings.IndexByte(out, '{'):]), &rep); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	st := rep.Assets[0]
	if st.Deposits["credited"].Count != deposits || st.Deposits["credited"].Sat != total || st.Withdrawals["confirmed"].Count != 1 ||
		st.Withdrawals["confirmed"].Sat != paid || st.Follower.Height == nil || float64(*st.Follower.Height) < done[follower] || st.Hot.Sat <= 0 {
		t.Fatalf("status --json after the run: %+v", st)
	}

	n := bg.stop()
	if n < 10 {
		t.Fatalf("only %d scrapes during the run", n)
	}
	t.Logf("%d scrapes during the run, each with status_up 1 and no counter going back", n)
	t.Logf("figures: follower %.0f -> %.0f, credited %.0f, hot %.0f -> %.0f sat, runner commits %.0f -> %.0f, retries %.0f, give-ups %.0f",
		before[follower], done[follower], done[credited], after[hot], done[hot], before[commits], done[commits],
		done[`cryptoassets_runner_retries_total`], done[`cryptoassets_runner_give_ups_total`])
}
