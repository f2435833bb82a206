package events

import (
	"context"
	"encoding/json"
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
	if !Verify(rc.secret, body, r.Header.Get(SignatureHeader)) {
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

func TestSignature(t *testing.T) {
	body := []byte(`{"a":1}`)
	sig := Sign([]byte("k"), body)
	if !Verify([]byte("k"), body, sig) || Verify([]byte("other"), body, sig) || Verify([]byte("k"), []byte(`{"a":2}`), sig) {
		t.Fatal("signature check")
	}
}

// An event whose transaction started earlier but commits later is not
// skipped by a reader paging by id.
func TestReaderNeverSkipsALateCommit(t *testing.T) {
	r := storetest.Runner(t, 8)
	ctx := context.Background()
	slow, err := r.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The slow transaction takes its event id first...
	var slowID int64
	if err := slow.QueryRow(ctx, emitSQL, "btc", DepositSeen, []byte(`{}`)).Scan(&slowID); err != nil {
		t.Fatal(err)
	}
	// ...a fast one commits a higher id.
	emitN(t, r, 0, 1)
	evs, err := List(ctx, r.Pool(), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 0 {
		t.Fatalf("events visible while an older transaction is open: %v (a reader would skip id %d)", evs, slowID)
	}
	if err := slow.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	evs, err = List(ctx, r.Pool(), 0, 10)
	if err != nil || len(evs) != 2 || evs[0].ID != slowID {
		t.Fatalf("after commit: %v %v", evs, err)
	}
}

func TestRedeliverAndAck(t *testing.T) {
	r := storetest.Runner(t, 8)
	ctx := context.Background()
	emitN(t, r, 0, 3)
	if err := Ack(ctx, r, 7, 2); err != nil {
		t.Fatal(err)
	}
	if err := Ack(ctx, r, 7, 1); err != nil {
		t.Fatal(err)
	}
	if n, err := Acked(ctx, r.Pool(), 7); err != nil || n != 2 {
		t.Fatalf("acked %d %v: the cursor must only move forward", n, err)
	}
	if err := Redeliver(ctx, r, "http://example.invalid/hook", 1); err != nil {
		t.Fatal(err)
	}
	var upTo int64
	if err := r.Pool().QueryRow(ctx, `SELECT delivered_up_to FROM public.webhook_cursors`).Scan(&upTo); err != nil || upTo != 1 {
		t.Fatalf("redeliver: %d %v", upTo, err)
	}
}
