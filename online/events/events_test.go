package events

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cryptoassets/cryptoassets/internal/storetest"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func emitN(t *testing.T, r *store.Runner, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		err := r.InTx(context.Background(), "emit", func(tx *store.Tx) error {
			_, err := Emit(tx, "btc", DepositSeen, map[string]any{"n": i, "amount_sat": "1000"})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// receiver is a webhook endpoint that can be down.
type receiver struct {
	mu     sync.Mutex
	up     atomic.Bool
	secret []byte
	got    []int64
	bad    int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !rc.up.Load() {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if Verify(rc.secret, body, r.Header.Get(SignatureHeader), 0) != nil {
		rc.bad++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var p struct {
		EventID int64 `json:"event_id"`
	}
	_ = json.Unmarshal(body, &p)
	rc.got = append(rc.got, p.EventID)
}

func TestWebhookDownThenUpReceivesEverything(t *testing.T) {
	r := storetest.Runner(t, 8)
	rc := &receiver{secret: []byte("s3cret")}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	d := &Deliverer{Runner: r, Hooks: []Webhook{{URL: srv.URL, Secret: rc.secret}}, Poll: 20 * time.Millisecond,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 40 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { _ = d.Run(ctx); close(done) }()

	emitN(t, r, 0, 5)
	time.Sleep(300 * time.Millisecond) // several failed attempts while down
	var attempts int
	if err := r.Pool().QueryRow(ctx, `SELECT attempts FROM public.webhook_cursors`).Scan(&attempts); err != nil || attempts < 2 {
		t.Fatalf("attempts while down: %d %v", attempts, err)
	}
	emitN(t, r, 5, 5)
	rc.up.Store(true)
	deadline := time.Now().Add(20 * time.Second)
	for {
		rc.mu.Lock()
		n := len(rc.got)
		rc.mu.Unlock()
		if n >= 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of 10 events delivered", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.bad != 0 {
		t.Fatalf("%d deliveries with a bad signature", rc.bad)
	}
	seen := map[int64]bool{}
	for i, id := range rc.got {
		if i > 0 && id <= rc.got[i-1] {
			t.Fatalf("out of order: %v", rc.got)
		}
		seen[id] = true
	}
	if len(seen) != 10 {
		t.Fatalf("delivered %v", rc.got)
	}
}

// scratchTable makes a table for transactions to write to before they emit,
// as the follower writes chain_blocks before its events: their xid then comes
// from that first write, not from the event insert.
func scratchTable(t *testing.T, r *store.Runner) {
	t.Helper()
	if _, err := r.Pool().Exec(context.Background(), `CREATE TABLE IF NOT EXISTS public.scratch_writes (n bigint)`); err != nil {
		t.Fatal(err)
	}
}

// A transaction that wrote elsewhere first (its xid is older) and emits
// last, committing before a younger transaction that emitted first: a
// reader paging by id must still see both events.
func TestReaderNeverSkipsALateCommit(t *testing.T) {
	r := storetest.Runner(t, 8)
	scratchTable(t, r)
	ctx := context.Background()
	older, err := r.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer older.Rollback(ctx)
	// The older transaction takes its xid with a write elsewhere...
	if _, err := older.Exec(ctx, `INSERT INTO public.scratch_writes VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	// ...a younger one emits and stays open...
	younger, err := r.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer younger.Rollback(ctx)
	if _, err := younger.Exec(ctx, `INSERT INTO public.scratch_writes VALUES (2)`); err != nil {
		t.Fatal(err)
	}
	if _, err := younger.Exec(ctx, emitSQL, "btc", DepositSeen, []byte(`{"who":"younger"}`)); err != nil {
		t.Fatal(err)
	}
	// ...the older one emits after it and commits first.
	if _, err := older.Exec(ctx, emitSQL, "btc", DepositSeen, []byte(`{"who":"older"}`)); err != nil {
		t.Fatal(err)
	}
	if err := older.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// A reader pages by id while the younger transaction is still open...
	var cursor int64
	var got []string
	read := func() {
		evs, err := List(ctx, r.Pool(), cursor, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			var p struct{ Who string }
			_ = json.Unmarshal(e.Payload, &p)
			got = append(got, p.Who)
			cursor = e.ID
		}
	}
	read()
	if err := younger.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// ...and again after it committed.
	read()
	if len(got) != 2 {
		t.Fatalf("a reader paging by id saw %v of the two committed events (cursor %d): one was skipped", got, cursor)
	}
}

func TestRedeliverAndAck(t *testing.T) {
	r := storetest.Runner(t, 8)
	ctx := context.Background()
	emitN(t, r, 0, 3)
	if n, err := Publish(ctx, r); err != nil || n != 3 {
		t.Fatalf("published %d %v", n, err)
	}
	if err := Ack(ctx, r, 7, 2); err != nil {
		t.Fatal(err)
	}
	if err := Ack(ctx, r, 7, 1); err != nil {
		t.Fatal(err)
	}
	if n, err := Acked(ctx, r.Pool(), 7); err != nil || n != 2 {
		t.Fatalf("acked %d %v: the cursor must only move forward", n, err)
	}
	// An event emitted but not yet published cannot be acknowledged either.
	emitN(t, r, 3, 1)
	if err := Ack(ctx, r, 7, 4); !errors.Is(err, ErrBeyondNewest) {
		t.Fatalf("ack beyond the newest published event: %v", err)
	}
	if n, err := Acked(ctx, r.Pool(), 7); err != nil || n != 2 {
		t.Fatalf("acked %d %v after a refused ack", n, err)
	}
	if err := Redeliver(ctx, r, "http://example.invalid/hook", 1); err != nil {
		t.Fatal(err)
	}
	var upTo int64
	if err := r.Pool().QueryRow(ctx, `SELECT delivered_up_to FROM public.webhook_cursors`).Scan(&upTo); err != nil || upTo != 1 {
		t.Fatalf("redeliver: %d %v", upTo, err)
	}
	// Redelivering "after" an event not yet published would skip events.
	if err := Redeliver(ctx, r, "http://example.invalid/hook", 4); !errors.Is(err, ErrBeyondNewest) {
		t.Fatalf("redeliver beyond the newest published event: %v", err)
	}
	if err := r.Pool().QueryRow(ctx, `SELECT delivered_up_to FROM public.webhook_cursors`).Scan(&upTo); err != nil || upTo != 1 {
		t.Fatalf("a refused redeliver moved the cursor: %d %v", upTo, err)
	}
}

// EmitBatchSQL writes its events in the arrays' order, and a bad one (a
// type the table refuses, a payload that is not JSON) writes none of them.
func TestEmitBatchInOrderAllOrNothing(t *testing.T) {
	r := storetest.Runner(t, 4)
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		types    []string
		payloads []string
		wantErr  bool
	}{
		{"three in order", []string{DepositSeen, DepositConfirmations, DepositCredited}, []string{`{"n": 0}`, `{"n": 1}`, `{"n": 2}`}, false},
		{"a refused type", []string{DepositSeen, "Not A Type"}, []string{`{"n": 3}`, `{"n": 4}`}, true},
		{"a payload that is not JSON", []string{DepositSeen, DepositSeen}, []string{`{"n": 5}`, `{n: 6`}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := r.InTx(ctx, "emit-batch", func(tx *store.Tx) error {
				_, err := tx.Exec(EmitBatchSQL, "btc", tc.types, tc.payloads)
				return err
			})
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want an error: %v", err, tc.wantErr)
			}
		})
	}
	evs, err := List(ctx, r.Pool(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 {
		t.Fatalf("%d events, want the first batch's 3", len(evs))
	}
	for i, ev := range evs {
		var p struct{ N int }
		if err := json.Unmarshal(ev.Payload, &p); err != nil || p.N != i {
			t.Fatalf("event %d: %s (%v), want n %d", ev.ID, ev.Payload, err, i)
		}
	}
}
