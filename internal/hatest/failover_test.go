package hatest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/internal/chainscan"
	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/servetest"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/election"
)

// serveTOML follows the node at test speed and credits after one block.
const serveTOML = `confirmations = 1
coin_confirmations = 1
poll_interval = "100ms"
batch_interval = "1h"
resolve_interval = "1s"
batch_threshold_count = 1
`

// electionTOML elects at test speed, as election_serve_test.go does.
const electionTOML = `lease = "2s"
renew_interval = "500ms"
`

type withdrawal struct {
	ID        int64  `json:"id"`
	Address   string `json:"address"`
	AmountSat string `json:"amount_sat"`
	FeeSat    string `json:"fee_sat"`
	State     string `json:"state"`
}

func sat(s string) int64 { n, _ := strconv.ParseInt(s, 10, 64); return n }

// answer is one API request the load sent and what it was answered.
type answer struct {
	key, body  string
	status     int
	body2      []byte // the response
	retryAfter string
	err        error
	sentBefore bool // sent before the primary was killed
	afterKill  bool // answered after
	via        int  // the instance it was sent to, whose client's key it is
}

type errorJSON struct {
	Error struct {
		Code string `json:"code"`
	} `json:"error"`
}

func do(s *servetest.Service, method, path, body, key string) answer {
	a := answer{key: key, body: body}
	req, err := http.NewRequest(method, s.APIURL+path, strings.NewReader(body))
	if err != nil {
		a.err = err
		return a
	}
	req.Header.Set("Authorization", "Bearer "+s.Token())
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		a.err = err
		return a
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, a.err = buf.ReadFrom(resp.Body)
	a.status, a.body2, a.retryAfter = resp.StatusCode, bytes.TrimSpace(buf.Bytes()), resp.Header.Get("Retry-After")
	return a
}

// until retries an idempotent request through an outage until it is
// answered want.
func until(t *testing.T, s *servetest.Service, method, path, body, key string, want int) answer {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		a := do(s, method, path, body, key)
		if a.err == nil && a.status == want {
			return a
		}
		if time.Now().After(deadline) || (a.err == nil && a.status != http.StatusServiceUnavailable) {
			t.Fatalf("%s %s (%s): %d %s %v, want %d", method, path, key, a.status, a.body2, a.err, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestPrimaryKilledStandbyPromotedMidLoad runs three serve processes, with
// elections, on the multi-host URL of a primary and its synchronous
// standby, with transfers, deposits and withdrawals running through all
// three, then SIGKILLs the primary and promotes the standby. Requests in
// flight and those sent before the promotion are answered 503
// database_unavailable with Retry-After (counted: the test fails if none
// were), each instance's /readyz is 503 while no primary takes writes and
// 200 after, and the same three processes go on against the promoted
// standby. Every transfer answered 201 is in the new primary's ledger and
// its key answers the same; every key retried moves money once; every
// deposit paid is credited once, also two paid and mined while no primary
// took writes (the follower resumed from its cursor); every withdrawal is
// paid by exactly one output on the chain, also those requested after the
// promotion (the batcher resumed); each election has one live leader among
// the three; the ledger check and the audit pass.
func TestPrimaryKilledStandbyPromotedMidLoad(t *testing.T) {
	start := time.Now()
	ctx := testenv.Ctx(t, 3*time.Minute)
	ha, dsn := testenv.NewHA(t)
	btcd := testenv.NewNode(t, devenv.BtcdOptions{})
	var ss []*servetest.Service
	for range 3 {
		ss = append(ss, servetest.New(t, servetest.Options{DatabaseURL: dsn, RPCURL: btcd.RPCURL(), AssetTOML: serveTOML, ElectionTOML: electionTOML}))
	}
	for _, x := range ss {
		x.StartReady()
	}
	s := ss[0]
	faucet := devenv.NewFaucet(chain.NewRPCNode(btcd.Client))

	// Customers funded by deposits.
	const customers, funding = 8, int64(50_000_000)
	names := make([]string, customers)
	var payments []devenv.Payment
	for i := range names {
		names[i] = fmt.Sprintf("c%d", i)
		until(t, s, http.MethodPost, "/v1/btc/accounts", fmt.Sprintf(`{"name":%q}`, names[i]), "acct-"+names[i], http.StatusCreated)
		a := until(t, s, http.MethodPost, "/v1/btc/accounts/"+names[i]+"/addresses", "", "fund-"+names[i], http.StatusCreated)
		var addr struct {
			Address string `json:"address"`
		}
		if err := json.Unmarshal(a.body2, &addr); err != nil {
			t.Fatal(err)
		}
		payments = append(payments, devenv.Payment{Address: addr.Address, Amount: funding})
	}
	if _, err := faucet.Pay(ctx, payments...); err != nil {
		t.Fatal(err)
	}
	if _, err := btcd.Generate(ctx, 1); err != nil {
		t.Fatal(err)
	}
	db := func() *pgx.Conn {
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(ctx) })
		return c
	}
	waitCredited := func(c *pgx.Conn, n int, sum int64) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			var got int
			var total int64
			err := c.QueryRow(ctx, "SELECT count(*), coalesce(sum(amount), 0) FROM btc.deposits WHERE state = 'credited'").Scan(&got, &total)
			if err == nil && got == n && total == sum {
				return
			}
			if err == nil && (got > n || total > sum) {
				t.Fatalf("%d deposits credited for %d sat; only %d were paid, for %d", got, total, n, sum)
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d deposits credited for %d sat (%v); want %d for %d", got, total, err, n, sum)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitCredited(db(), customers, customers*funding)

	var (
		mu       sync.Mutex
		sent     []answer
		killed   bool
		readyz   = map[string]map[int]int{} // phase → status → count
		readyzOf = make([]map[string]map[int]int, len(ss))
		ws       []withdrawal
		wsAfter  int // withdrawals requested after the promotion
		ws503    int // withdrawal requests answered 503 database_unavailable
		phase    = "before"
		depN     int
		depSum   int64
		depAfter int // deposits paid after the kill
		wg       sync.WaitGroup
	)
	stop := make(chan struct{})
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}
	// Transfers between random customers, as fast as they are answered.
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 11))
			for i := 0; !stopped(); i++ {
				from := rng.IntN(customers)
				to := (from + 1 + rng.IntN(customers-1)) % customers
				body := fmt.Sprintf(`{"from":%q,"to":%q,"amount_sat":"%d"}`, names[from], names[to], 1+rng.IntN(1000))
				mu.Lock()
				before := !killed
				mu.Unlock()
				via := (w + i) % len(ss)
				a := do(ss[via], http.MethodPost, "/v1/btc/transfers", body, fmt.Sprintf("tr-%d-%d", w, i))
				mu.Lock()
				a.sentBefore, a.afterKill, a.via = before, killed, via
				sent = append(sent, a)
				mu.Unlock()
			}
		}()
	}
	// Deposits: an address, a payment to it and a block, over and over;
	// the address is asked again with its key through an outage.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stopped(); i++ {
			key := fmt.Sprintf("dep-%d", i)
			var a answer
			for !stopped() {
				if a = do(ss[i%len(ss)], http.MethodPost, "/v1/btc/accounts/"+names[i%customers]+"/addresses", "", key); a.err == nil && a.status == http.StatusCreated {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if a.status != http.StatusCreated {
				return
			}
			var addr struct {
				Address string `json:"address"`
			}
			if err := json.Unmarshal(a.body2, &addr); err != nil {
				t.Error(err)
				return
			}
			amt := int64(100_000 + i)
			if _, err := faucet.Pay(ctx, devenv.Payment{Address: addr.Address, Amount: amt}); err != nil {
				t.Error(err)
				return
			}
			if _, err := btcd.Generate(ctx, 1); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			depN++
			depSum += amt
			if killed {
				depAfter++
			}
			mu.Unlock()
			time.Sleep(200 * time.Millisecond)
		}
	}()
	// /readyz, every 50ms, counted by phase: before the kill, while the
	// primary is being killed, with no primary, while the standby is being
	// promoted, after.
	// Withdrawals: one about every 300ms from a customer to a new address,
	// through each instance in turn, its key asked again through an outage
	// until it is answered 201.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stopped(); i++ {
			var h [20]byte
			h[0], h[1], h[2] = byte(i), byte(i>>8), 0xdd
			addr, err := btcutil.NewAddressWitnessPubKeyHash(h[:], &chaincfg.RegressionNetParams)
			if err != nil {
				t.Error(err)
				return
			}
			body := fmt.Sprintf(`{"account":%q,"address":%q,"amount_sat":"%d"}`, names[i%customers], addr.EncodeAddress(), 200_000+i)
			var a answer
			for !stopped() {
				if a = do(ss[i%len(ss)], http.MethodPost, "/v1/btc/withdrawals", body, fmt.Sprintf("wd-%d", i)); a.err == nil && a.status == http.StatusCreated {
					break
				}
				if a.err == nil && a.status != http.StatusServiceUnavailable {
					t.Errorf("withdrawal %d: %d %s", i, a.status, a.body2)
					return
				}
				if a.err == nil && bytes.Contains(a.body2, []byte("database_unavailable")) {
					mu.Lock()
					ws503++
					mu.Unlock()
				}
				time.Sleep(100 * time.Millisecond)
			}
			if a.status != http.StatusCreated {
				return
			}
			var x withdrawal
			if err := json.Unmarshal(a.body2, &x); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			ws = append(ws, x)
			if phase == "promoted" {
				wsAfter++
			}
			mu.Unlock()
			time.Sleep(300 * time.Millisecond)
		}
	}()
	for i, x := range ss {
		readyzOf[i] = map[string]map[int]int{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 10 * time.Second}
			for !stopped() {
				// A probe counts in the phase it began and ended in.
				mu.Lock()
				p := phase
				mu.Unlock()
				resp, err := client.Get(x.APIURL + "/readyz")
				if err != nil {
					t.Errorf("/readyz: %v", err)
					return
				}
				resp.Body.Close()
				mu.Lock()
				if phase != p {
					p = "during a change of phase"
				}
				if readyz[p] == nil {
					readyz[p] = map[int]int{}
				}
				readyz[p][resp.StatusCode]++
				if readyzOf[i][p] == nil {
					readyzOf[i][p] = map[int]int{}
				}
				readyzOf[i][p][resp.StatusCode]++
				mu.Unlock()
				time.Sleep(50 * time.Millisecond)
			}
		}()
	}
	count := func(cond func(answer) bool) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, a := range sent {
			if cond(a) {
				n++
			}
		}
		return n
	}
	ok := func(a answer) bool { return a.status == http.StatusCreated }
	unavailable := func(a answer) bool { return a.afterKill && a.status == http.StatusServiceUnavailable }
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				close(stop)
				wg.Wait()
				t.Fatalf("%s: not within 30s (%d answered 201, %d 503 after the kill, readyz %v)", what, count(ok), count(unavailable), readyz)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// Addresses to pay while no primary takes writes: the follower can
	// credit those deposits only after the promotion, from its cursor.
	var outage []string
	for i := range 2 {
		a := until(t, s, http.MethodPost, "/v1/btc/accounts/"+names[i]+"/addresses", "", fmt.Sprintf("outage-%d", i), http.StatusCreated)
		var addr struct {
			Address string `json:"address"`
		}
		if err := json.Unmarshal(a.body2, &addr); err != nil {
			t.Fatal(err)
		}
		outage = append(outage, addr.Address)
	}

	okBefore := count(ok)
	waitFor("200 transfers before the kill", func() bool { return count(ok) >= okBefore+200 })
	mu.Lock()
	killed, phase = true, "killing"
	mu.Unlock()
	if err := ha.Primary.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	phase = "no primary"
	mu.Unlock()
	// Each instance's own probe, begun and ended with no primary: a probe
	// of a slow instance can straddle the phases, and the one check below
	// is of every instance.
	waitFor("503s and each instance's /readyz 503 with no primary", func() bool {
		mu.Lock()
		r := readyz["no primary"][http.StatusServiceUnavailable]
		for i := range ss {
			r = min(r, readyzOf[i]["no primary"][http.StatusServiceUnavailable])
		}
		mu.Unlock()
		return count(unavailable) >= 20 && r >= 1
	})
	for i, addr := range outage {
		amt := int64(7_000_000 + i)
		if _, err := faucet.Pay(ctx, devenv.Payment{Address: addr, Amount: amt}); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		depN++
		depSum += amt
		depAfter++
		mu.Unlock()
	}
	if _, err := btcd.Generate(ctx, 1); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	phase = "promoting"
	mu.Unlock()
	if err := ha.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	phase = "promoted"
	mu.Unlock()
	okPromoted := count(ok)
	waitFor("200 transfers and /readyz 200 after the promotion", func() bool {
		mu.Lock()
		r := readyz["promoted"][http.StatusOK]
		for i := range ss {
			r = min(r, readyzOf[i]["promoted"][http.StatusOK])
		}
		d, w := depAfter, wsAfter
		mu.Unlock()
		return count(ok) >= okPromoted+200 && r >= 3 && d >= 4 && w >= 3
	})
	close(stop)
	wg.Wait()
	if t.Failed() {
		return
	}

	// Every answer was a 201, a 503 database_unavailable with Retry-After
	// (only once the primary was killed), or a 503 busy.
	statuses := map[string]int{}
	inFlight := 0
	for _, a := range sent {
		if a.err != nil {
			t.Fatalf("transfer %s: %v", a.key, a.err)
		}
		var e errorJSON
		_ = json.Unmarshal(a.body2, &e)
		statuses[fmt.Sprintf("%d %s", a.status, e.Error.Code)]++
		switch {
		case a.status == http.StatusCreated:
		case a.status == http.StatusServiceUnavailable && e.Error.Code == "database_unavailable" && a.retryAfter != "" && a.afterKill:
		case a.status == http.StatusServiceUnavailable && e.Error.Code == "busy":
		default:
			t.Fatalf("transfer %s (after the kill: %v): %d %s %q; want 201, or 503 database_unavailable with Retry-After once the primary is gone", a.key, a.afterKill, a.status, a.body2, a.retryAfter)
		}
		// Sent before the kill and refused after it: in flight when the
		// primary died.
		if a.sentBefore && a.afterKill && a.status == http.StatusServiceUnavailable && e.Error.Code == "database_unavailable" {
			inFlight++
		}
	}
	for i := range ss {
		if n := readyzOf[i]["no primary"][http.StatusOK]; n > 0 {
			t.Fatalf("instance %d's /readyz answered 200 %d times while no server took writes", i, n)
		}
		if readyzOf[i]["no primary"][http.StatusServiceUnavailable] == 0 || readyzOf[i]["promoted"][http.StatusOK] == 0 {
			t.Fatalf("instance %d's /readyz: %v; want 503 with no primary and 200 after the promotion", i, readyzOf[i])
		}
	}
	if statuses["503 database_unavailable"] == 0 || inFlight == 0 {
		t.Fatalf("%d transfers answered 503 database_unavailable, %d of them in flight at the kill: the kill never met the load", statuses["503 database_unavailable"], inFlight)
	}
	t.Logf("%d transfers: %v; /readyz %v; %d deposits (%d paid after the kill); %d withdrawals (%d requested after the promotion, %d requests answered 503 database_unavailable); %d in flight", len(sent), statuses, readyz, depN, depAfter, len(ws), wsAfter, ws503, inFlight)

	// The new primary has every answered transfer, and each key moves money
	// once however often it is retried.
	c := db()
	var port int
	if err := c.QueryRow(ctx, "SELECT inet_server_port()").Scan(&port); err != nil || port != ha.Standby.Port {
		t.Fatalf("the database URL reaches port %d (%v), not the promoted standby's %d", port, err, ha.Standby.Port)
	}
	ids := map[int64]string{}
	for _, a := range sent {
		again := until(t, ss[a.via], http.MethodPost, "/v1/btc/transfers", a.body, a.key, http.StatusCreated)
		if a.status == http.StatusCreated && !bytes.Equal(again.body2, a.body2) {
			t.Fatalf("transfer %s answered %s, now %s: an acknowledged commit was lost", a.key, a.body2, again.body2)
		}
		var tr struct {
			ID int64 `json:"id"`
		}
		if err := json.Unmarshal(again.body2, &tr); err != nil {
			t.Fatal(err)
		}
		if prev, dup := ids[tr.ID]; dup {
			t.Fatalf("keys %s and %s answered the same transfer %d", prev, a.key, tr.ID)
		}
		ids[tr.ID] = a.key
	}
	var transfers int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM btc.ledger_transactions WHERE kind = 'transfer'").Scan(&transfers); err != nil {
		t.Fatal(err)
	}
	if transfers != len(ids) {
		t.Fatalf("%d transfers in the ledger for %d keys: want one each", transfers, len(ids))
	}

	// Deposits: each paid one credited once, and the customers hold
	// exactly what was deposited.
	if _, err := btcd.Generate(ctx, 1); err != nil {
		t.Fatal(err)
	}
	waitCredited(c, customers+depN, customers*funding+depSum)
	var held int64
	if err := c.QueryRow(ctx, `SELECT coalesce(sum(b.available), 0) FROM btc.balances b JOIN btc.accounts a ON a.id = b.account_id WHERE a.kind = 'customer'`).Scan(&held); err != nil {
		t.Fatal(err)
	}
	// Withdrawals: each paid by exactly one output on the chain, none left
	// in the mempool; the batcher paid those asked after the promotion too.
	node := chain.NewRPCNode(btcd.Client)
	out := int64(0)
	for _, x := range ws {
		out += sat(x.AmountSat) + sat(x.FeeSat)
	}
	for deadline, last := time.Now().Add(time.Minute), time.Now(); ; {
		confirmed := 0
		for _, x := range ws {
			var state string
			if err := c.QueryRow(ctx, "SELECT state FROM btc.withdrawals WHERE id = $1", x.ID).Scan(&state); err != nil {
				t.Fatal(err)
			}
			if state == "confirmed" {
				confirmed++
			}
		}
		if confirmed == len(ws) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d withdrawals confirmed within a minute of the load", confirmed, len(ws))
		}
		if time.Since(last) > time.Second {
			if _, err := btcd.Generate(ctx, 1); err != nil {
				t.Fatal(err)
			}
			last = time.Now()
		}
		time.Sleep(100 * time.Millisecond)
	}
	var scan *chainscan.Scan
	var err error
	for range 5 { // a block mined during the scan: again
		if scan, err = chainscan.EveryBlock(ctx, node); err == nil {
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
	if err := c.QueryRow(ctx, `SELECT coalesce(sum(b.available), 0) FROM btc.balances b JOIN btc.accounts a ON a.id = b.account_id WHERE a.kind = 'customer'`).Scan(&held); err != nil {
		t.Fatal(err)
	}
	if held != customers*funding+depSum-out {
		t.Fatalf("customers hold %d sat; %d were deposited and %d withdrawn with fees", held, customers*funding+depSum, out)
	}
	if out, err := s.CLI("ledger", "check"); err != nil || !strings.Contains(out, "consistent") {
		t.Fatalf("ledger check on the new primary: %v\n%s", err, out)
	}
	// The audit settles once the follower has the node's tip.
	for deadline := time.Now().Add(30 * time.Second); ; {
		out, err := s.CLI("audit")
		if err == nil {
			break
		}
		if !strings.Contains(out, "not settled") || time.Now().After(deadline) {
			t.Fatalf("audit on the new primary: %v\n%s", err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The follower, resumed from its stored cursor, reaches the node's tip.
	tip, _, err := node.Tip(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		var h int32
		if err := c.QueryRow(ctx, "SELECT coalesce(height, -1) FROM btc.chain_cursor").Scan(&h); err != nil {
			t.Fatal(err)
		}
		if h == tip {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the follower's cursor is at %d, the node's tip at %d", h, tip)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// One live leader for each election, among the three.
	leases, err := election.Leases(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	led := map[string]string{}
	for _, l := range leases {
		if !l.Live {
			t.Fatalf("election %s/%s has no live leader after the failover: %+v", l.Worker, l.Asset, l)
		}
		led[l.Worker+"/"+l.Asset] = l.Holder
	}
	for _, k := range []string{"follower/btc", "payments/btc", "audit/btc"} {
		h, found := led[k]
		if !found {
			t.Fatalf("no lease for %s: %v", k, led)
		}
		known := false
		for _, x := range ss {
			known = known || x.Instance == h
		}
		if !known {
			t.Fatalf("%s is held by %s, none of the three", k, h)
		}
	}
	for i, x := range ss {
		if x.Runs() != 1 {
			t.Fatalf("serve %d was started %d times; each process must ride the failover", i, x.Runs())
		}
	}
	t.Logf("leaders after the failover: %v; %d withdrawals paid once in %d blocks", led, len(ws), scan.Blocks)
	t.Logf("the whole test took %v", time.Since(start).Round(time.Second))
}
