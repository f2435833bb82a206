package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/migrations"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// crashRequest is one transfer the load sent and what it was answered.
type crashRequest struct {
	key, body  string
	status     int
	response   []byte
	retryAfter string
	err        error
}

// TestPostgresCrashLosesNoAnsweredTransfer kills the PostgreSQL postmaster
// with SIGKILL three times under API load and restarts it on its port. The
// server's own default is synchronous_commit=off, as on a careless
// development server: the service's connections must make every answered
// transfer durable anyway. Afterwards every 201 is in the ledger and its
// Idempotency-Key answers the same body, every request during an outage was
// a 503 "database_unavailable" with Retry-After, retrying those with their keys moves
// each at most once, and the ledger's invariants hold.
func TestPostgresCrashLosesNoAnsweredTransfer(t *testing.T) {
	ctx := testenv.Ctx(t, 4*time.Minute)
	tmp, err := os.MkdirTemp("", "cryptoassets-crash-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(tmp) })
	dir := filepath.Join(tmp, "data")
	opts := devenv.PostgresOptions{Settings: []string{"synchronous_commit=off"}}
	pg, err := devenv.StartPostgresWith(ctx, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Stop(context.Background()) })

	pool, err := store.Open(ctx, pg.DSN(), 20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	m, err := store.NewMigrator(pool, migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Migrate(ctx, []store.Asset{{Schema: "btc", Network: "regtest"}}); err != nil {
		t.Fatal(err)
	}
	runner := store.NewRunner(pool, store.RunnerConfig{MaxAttempts: 100, BaseDelay: time.Millisecond, MaxDelay: 50 * time.Millisecond}, nil)
	l, err := ledger.New(runner, "btc")
	if err != nil {
		t.Fatal(err)
	}
	const accounts, funding = 16, int64(100_000_000)
	var names []string
	for i := 0; i < accounts; i++ {
		name := fmt.Sprintf("c%02d", i)
		a, err := l.CreateAccount(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if err := runner.InTx(ctx, "fund", func(tx *store.Tx) error {
			hot, _, err := l.Internal(tx, ledger.HotWallet)
			if err != nil {
				return err
			}
			_, err = l.PostTx(tx, "test_funding", "", []ledger.Posting{{AccountID: hot, Available: -funding}, {AccountID: a.ID, Available: funding}})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	_, token, err := NewTokens(runner).Create(ctx, "crash")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewServer(runner, map[string]Asset{"btc": {Ledger: l}}, nil).Handler())
	t.Cleanup(srv.Close)
	client := &http.Client{Timeout: 30 * time.Second}
	send := func(key, body string) crashRequest {
		r := crashRequest{key: key, body: body}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/v1/btc/transfers", bytes.NewReader([]byte(body)))
		if err != nil {
			r.err = err
			return r
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", key)
		resp, err := client.Do(req)
		if err != nil {
			r.err = err
			return r
		}
		defer resp.Body.Close()
		r.status, r.retryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
		r.response, r.err = io.ReadAll(resp.Body)
		return r
	}

	// Load: 8 clients sending transfers as fast as they are answered.
	var (
		mu   sync.Mutex
		sent []crashRequest
		wg   sync.WaitGroup
	)
	stop := make(chan struct{})
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				from := rng.IntN(accounts)
				to := (from + 1 + rng.IntN(accounts-1)) % accounts
				body := fmt.Sprintf(`{"from":%q,"to":%q,"amount_sat":"%d"}`, names[from], names[to], 1+rng.IntN(1000))
				r := send(fmt.Sprintf("crash-%d-%d", w, i), body)
				mu.Lock()
				sent = append(sent, r)
				mu.Unlock()
			}
		}()
	}
	answered := func() (ok, unavailable int) {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range sent {
			switch r.status {
			case http.StatusCreated:
				ok++
			case http.StatusServiceUnavailable:
				unavailable++
			}
		}
		return ok, unavailable
	}
	waitAnswered := func(what string, cond func(ok, unavailable int) bool) {
		deadline := time.Now().Add(60 * time.Second)
		for {
			ok, un := answered()
			if cond(ok, un) {
				return
			}
			if time.Now().After(deadline) {
				close(stop)
				wg.Wait()
				t.Fatalf("%s: %d answered 201 and %d 503 so far", what, ok, un)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	const kills = 3
	for k := 0; k < kills; k++ {
		okBefore, _ := answered()
		waitAnswered("load before the kill", func(ok, _ int) bool { return ok >= okBefore+200 })
		if err := pg.Kill(ctx); err != nil {
			t.Fatal(err)
		}
		_, unBefore := answered()
		waitAnswered("503s during the outage", func(_, un int) bool { return un >= unBefore+20 })
		again, err := devenv.StartPostgresWith(ctx, dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		if again.Port != pg.Port {
			t.Fatalf("PostgreSQL came back on port %d, not %d", again.Port, pg.Port)
		}
	}
	okBefore, _ := answered()
	waitAnswered("load after the last restart", func(ok, _ int) bool { return ok >= okBefore+200 })
	close(stop)
	wg.Wait()

	// Every answer was a 201 or a 503 "database_unavailable" with Retry-After.
	statuses := map[int]int{}
	for _, r := range sent {
		if r.err != nil {
			t.Fatalf("request %s: %v", r.key, r.err)
		}
		statuses[r.status]++
		switch r.status {
		case http.StatusCreated:
		case http.StatusServiceUnavailable:
			var e errorBody
			if err := json.Unmarshal(r.response, &e); err != nil || e.Error.Code != "database_unavailable" || r.retryAfter == "" {
				t.Fatalf("request %s: 503 with code %q and Retry-After %q: %s", r.key, e.Error.Code, r.retryAfter, r.response)
			}
		default:
			t.Fatalf("request %s: %d %s (want 201, or 503 during an outage)", r.key, r.status, r.response)
		}
	}
	t.Logf("%d requests, answers %v, %d kills", len(sent), statuses, kills)

	// Every answered transfer is in the ledger, and its key answers the same.
	var lost []string
	final := map[string]int64{} // key → ledger transaction id
	for _, r := range sent {
		again := send(r.key, r.body)
		if again.err != nil || again.status != http.StatusCreated {
			t.Fatalf("retrying %s after the crashes: %d %s %v", r.key, again.status, again.response, again.err)
		}
		var tr transferJSON
		if err := json.Unmarshal(again.response, &tr); err != nil {
			t.Fatal(err)
		}
		final[r.key] = tr.ID
		if r.status == http.StatusCreated && !bytes.Equal(bytes.TrimSpace(again.response), bytes.TrimSpace(r.response)) {
			lost = append(lost, fmt.Sprintf("%s: answered %s, now %s", r.key, bytes.TrimSpace(r.response), bytes.TrimSpace(again.response)))
		}
	}
	if len(lost) > 0 {
		sort.Strings(lost)
		t.Fatalf("%d transfers answered 201 were lost with their idempotency records (the key moved money again):\n%v", len(lost), lost)
	}
	// Each key moved money once: one ledger transfer per key, no others.
	ids := map[int64]bool{}
	for _, id := range final {
		ids[id] = true
	}
	var transfers int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM btc.ledger_transactions WHERE kind = 'transfer'`).Scan(&transfers); err != nil {
		t.Fatal(err)
	}
	if len(ids) != len(final) || transfers != len(final) {
		t.Fatalf("%d keys, %d distinct transfer ids, %d transfers in the ledger: want one each", len(final), len(ids), transfers)
	}
	var total int64
	if err := pool.QueryRow(ctx, `SELECT coalesce(sum(b.available), 0) FROM btc.balances b JOIN btc.accounts a ON a.id = b.account_id WHERE a.kind = 'customer'`).Scan(&total); err != nil {
		t.Fatal(err)
	}
	if total != accounts*funding {
		t.Fatalf("customer balances sum to %d, want %d", total, accounts*funding)
	}
	if err := l.Check(ctx); err != nil {
		t.Fatalf("ledger check after the crashes: %v", err)
	}
}
