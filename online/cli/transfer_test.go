package cli

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// `transfer --idempotency-key`: the same key with the same transfer prints
// the first result and moves nothing; the same key with another transfer is
// refused; a refusal is stored too, so the key cannot move money later.
func TestTransferIdempotencyKeyIsReplaySafe(t *testing.T) {
	e := newCLIEnv(t, "", "alice", "bob")
	ctx, l := e.ctx, e.ledger(2, e.cfg.RunnerConfig())
	fund := func(sat int64) { e.fund(l, "alice", sat) }
	fund(100_000_000)

	transferID := regexp.MustCompile(`transfer (\d+):`)
	var first string
	steps := []struct {
		name    string
		before  func()
		args    []string
		want    string
		wantErr string
	}{
		{name: "first use moves the money", args: []string{"--idempotency-key", "ticket-1", "alice", "bob", "0.1"}, want: "0.10000000 BTC from alice to bob"},
		{name: "same key, same transfer: the first result", args: []string{"--idempotency-key", "ticket-1", "alice", "bob", "0.1"}, want: "already made under this idempotency key"},
		{name: "same key, same transfer in satoshis", args: []string{"--idempotency-key", "ticket-1", "alice", "bob", "10000000sat"}, want: "already made"},
		{name: "same key, another amount", args: []string{"--idempotency-key", "ticket-1", "alice", "bob", "0.2"}, wantErr: "used for a different request"},
		{name: "same key, another memo", args: []string{"--memo", "x", "--idempotency-key", "ticket-1", "alice", "bob", "0.1"}, wantErr: "used for a different request"},
		{name: "same key, other accounts", args: []string{"--idempotency-key", "ticket-1", "bob", "alice", "0.1"}, wantErr: "used for a different request"},
		{name: "a refusal is stored", args: []string{"--idempotency-key", "ticket-2", "alice", "bob", "5"}, wantErr: "insufficient funds"},
		{name: "the refused key stays refused after funding", before: func() { fund(1_000_000_000) },
			args: []string{"--idempotency-key", "ticket-2", "alice", "bob", "5"}, wantErr: "the refusal stored under this idempotency key"},
		{name: "a key with a space", args: []string{"--idempotency-key", "a b", "alice", "bob", "0.1"}, wantErr: "printable ASCII"},
		{name: "an empty key", args: []string{"--idempotency-key", "", "alice", "bob", "0.1"}, wantErr: "1 to 255"},
		{name: "a new key moves money again", args: []string{"--idempotency-key", "ticket-3", "alice", "bob", "5"}, want: "5.00000000 BTC from alice to bob"},
	}
	for i, s := range steps {
		if s.before != nil {
			s.before()
		}
		out, err := e.run(append([]string{"transfer"}, s.args...)...)
		if s.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), s.wantErr) {
				t.Fatalf("%s: want error %q, got %v\n%s", s.name, s.wantErr, err, out)
			}
			continue
		}
		if err != nil || !strings.Contains(out, s.want) {
			t.Fatalf("%s: want %q, got %v\n%s", s.name, s.want, err, out)
		}
		m := transferID.FindStringSubmatch(out)
		switch {
		case m == nil:
			t.Fatalf("%s: no transfer id in %q", s.name, out)
		case i == 0:
			first = m[1]
		case i < 3 && m[1] != first:
			t.Fatalf("%s: replay named transfer %s, the first was %s", s.name, m[1], first)
		}
	}

	// 1 BTC + 10 BTC funded, 0.1 and 5 moved once each.
	for name, want := range map[string]int64{"alice": 1_100_000_000 - 510_000_000, "bob": 510_000_000} {
		a, err := l.GetAccount(ctx, name)
		if err != nil || a.Available != want {
			t.Fatalf("%s: available %d, want %d (%v)", name, a.Available, want, err)
		}
	}
	if err := l.Check(ctx); err != nil {
		t.Fatal(err)
	}
}

// Eight concurrent runs of the same keyed transfer collide in PostgreSQL
// (counted as the runner's retries), and the money still moves once per
// key: every run names the same ledger transaction.
func TestTransferIdempotencyKeyUnderConcurrentRuns(t *testing.T) {
	e := newCLIEnv(t, "", "alice", "bob")
	ctx := e.ctx
	l := e.ledger(8, store.RunnerConfig{MaxAttempts: 100, BaseDelay: time.Millisecond, MaxDelay: 20 * time.Millisecond})
	runner := l.Runner()
	e.fund(l, "alice", 100_000_000)

	const keys, runs = 10, 8
	for k := 0; k < keys; k++ {
		key := fmt.Sprintf("batch-%d", k)
		req := ledger.TransferRequest{From: "alice", To: "bob", Amount: 1_000_000}
		ids := make([]int64, runs)
		errs := make([]error, runs)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := 0; i < runs; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				tr, _, err := transferOnce(ctx, runner, l, key, req)
				ids[i], errs[i] = tr.TxID, err
			}(i)
		}
		close(start)
		wg.Wait()
		for i := range ids {
			if errs[i] != nil || ids[i] != ids[0] {
				t.Fatalf("key %s run %d: transfer %d, %v (run 0: %d)", key, i, ids[i], errs[i], ids[0])
			}
		}
	}
	if st := runner.Stats(); st.Retries == 0 {
		t.Fatalf("no collision in %d concurrent runs: the test proved nothing (%+v)", keys*runs, st)
	} else {
		t.Logf("%d collisions retried over %d runs", st.Retries, keys*runs)
	}
	b, err := l.GetAccount(ctx, "bob")
	if err != nil || b.Available != keys*1_000_000 {
		t.Fatalf("bob has %d, want %d: a key moved money twice (%v)", b.Available, keys*1_000_000, err)
	}
	if err := l.Check(ctx); err != nil {
		t.Fatal(err)
	}
}
