package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/cryptoassets/cryptoassets/online/events"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// orderedLog records event ids as a consumer receives them and the first
// order violation it saw.
type orderedLog struct {
	mu        sync.Mutex
	ids       []int64
	tags      map[string]bool
	violation string
}

func (l *orderedLog) add(id int64, tag string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.ids); n > 0 && id <= l.ids[n-1] && l.violation == "" {
		l.violation = fmt.Sprintf("event %d received after event %d", id, l.ids[n-1])
	}
	l.ids = append(l.ids, id)
	if l.tags == nil {
		l.tags = map[string]bool{}
	}
	l.tags[tag] = true
}

func (l *orderedLog) last() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ids) == 0 {
		return 0
	}
	return l.ids[len(l.ids)-1]
}

type eventBody struct {
	EventID int64  `json:"event_id"`
	Tag     string `json:"tag"`
}

// Many transactions that each write elsewhere first (so their xid is older
// than their event), wait a random while, then emit: the webhook deliverer
// and a client pulling GET /v1/events with acks each receive every
// committed event once, in strictly increasing id order, none skipped.
func TestOutboxNeverSkipsWithConcurrentEmitters(t *testing.T) {
	const workers, txPerWorker = 10, 120
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := f.runner.Pool().Exec(ctx, `CREATE TABLE public.scratch_writes (worker int, n int)`); err != nil {
		t.Fatal(err)
	}

	// The webhook receiver.
	secret := []byte("hook-secret")
	hook := &orderedLog{}
	var badSignatures int
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if events.Verify(secret, body, r.Header.Get(events.SignatureHeader), 0) != nil {
			hook.mu.Lock()
			badSignatures++
			hook.mu.Unlock()
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var e eventBody
		_ = json.Unmarshal(body, &e)
		hook.add(e.EventID, e.Tag)
	}))
	defer receiver.Close()
	d := &events.Deliverer{Runner: f.runner, Hooks: []events.Webhook{{URL: receiver.URL, Secret: secret}},
		Poll: 2 * time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}
	var consumers sync.WaitGroup
	consumers.Add(2)
	go func() { defer consumers.Done(); _ = d.Run(ctx) }()

	// The pulling client: GET /v1/events from its acknowledged position, then ack.
	pulled := &orderedLog{}
	pullErr := make(chan error, 1)
	go func() {
		defer consumers.Done()
		for ctx.Err() == nil {
			st, out, _ := f.do(t, call{method: "GET", path: "/v1/events?limit=100"})
			if st != 200 {
				pullErr <- fmt.Errorf("GET /v1/events: %d %v", st, out)
				return
			}
			evs, _ := out["events"].([]any)
			for _, e := range evs {
				raw, _ := json.Marshal(e)
				var b eventBody
				_ = json.Unmarshal(raw, &b)
				pulled.add(b.EventID, b.Tag)
			}
			if len(evs) == 0 {
				time.Sleep(2 * time.Millisecond)
				continue
			}
			st, out, _ = f.do(t, call{method: "POST", path: "/v1/events/ack", body: fmt.Sprintf(`{"up_to":%v}`, out["next_after"])})
			if st != 200 {
				pullErr <- fmt.Errorf("ack: %d %v", st, out)
				return
			}
		}
	}()

	// The emitters.
	var mu sync.Mutex
	committed := map[string]bool{}
	var emitters sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		emitters.Add(1)
		go func() {
			defer emitters.Done()
			for i := 0; i < txPerWorker; i++ {
				n := 1 + rand.IntN(3)
				tags := make([]string, n)
				for k := range tags {
					tags[k] = fmt.Sprintf("w%d-t%d-e%d", w, i, k)
				}
				err := f.runner.InTx(ctx, "emit", func(tx *store.Tx) error {
					if _, err := tx.Exec(`INSERT INTO public.scratch_writes VALUES ($1, $2)`, w, i); err != nil {
						return err
					}
					time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
					for _, tag := range tags {
						if _, err := events.Emit(tx, "btc", events.DepositSeen, map[string]any{"tag": tag}); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for _, tag := range tags {
					committed[tag] = true
				}
				mu.Unlock()
			}
		}()
	}
	emitters.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// Wait until both consumers have everything that was committed.
	total := int64(len(committed))
	deadline := time.Now().Add(2 * time.Minute)
	for hook.last() < total || pulled.last() < total {
		select {
		case err := <-pullErr:
			t.Fatal(err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 2 minutes: webhook at event %d, pull at %d, of %d committed", hook.last(), pulled.last(), total)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	consumers.Wait()

	if total < 2000 {
		t.Fatalf("only %d events: the test must cover thousands", total)
	}
	if badSignatures != 0 {
		t.Fatalf("%d webhook deliveries with a bad signature", badSignatures)
	}
	for name, l := range map[string]*orderedLog{"webhook": hook, "pull API": pulled} {
		if l.violation != "" {
			t.Errorf("%s: %s", name, l.violation)
		}
		var missing []string
		for tag := range committed {
			if !l.tags[tag] {
				missing = append(missing, tag)
			}
		}
		if len(missing) > 0 || len(l.tags) != len(committed) {
			t.Errorf("%s: received %d distinct events of %d committed; skipped %d, e.g. %v", name, len(l.tags), len(committed), len(missing), missing[:min(len(missing), 5)])
		}
	}

	// The hazard must have happened: events whose insertion number is
	// below that of an event published before them. A reader paging by
	// insertion number would skip each of them if it read in between.
	late := lateInsertions(t, f.runner)
	t.Logf("%d events, %d published after an event inserted later; runner retries %d", total, late, f.runner.Stats().Retries)
	if late == 0 {
		t.Fatal("no event was inserted before one published ahead of it: the test did not exercise late commits")
	}
}

// lateInsertions counts events, taken in published order, whose insertion
// number is below the largest one published before them.
func lateInsertions(t *testing.T, r *store.Runner) int {
	t.Helper()
	var n int
	err := r.Pool().QueryRow(context.Background(), `SELECT count(*) FROM (
		SELECT seq < max(seq) OVER (ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS late
		FROM public.events WHERE id IS NOT NULL) s WHERE late`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// POST /v1/events/ack beyond the newest published event is refused and
// changes nothing: accepted, it would hide every later event from the token.
func TestAckBeyondNewestEventRefused(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if err := f.runner.InTx(ctx, "emit", func(tx *store.Tx) error {
			_, err := events.Emit(tx, "btc", events.DepositSeen, map[string]any{"i": i})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	st, out, _ := f.do(t, call{method: "GET", path: "/v1/events"})
	if evs, _ := out["events"].([]any); st != 200 || len(evs) != 2 {
		t.Fatalf("GET /v1/events: %d %v", st, out)
	}
	if st, out, _ = f.do(t, call{method: "POST", path: "/v1/events/ack", body: `{"up_to":1}`}); st != 200 {
		t.Fatalf("ack 1: %d %v", st, out)
	}
	outbox := func() string {
		var s string
		if err := f.runner.Pool().QueryRow(ctx, `SELECT (SELECT string_agg(token_id || ':' || acked_up_to || ':' || updated_at, ',') FROM public.event_acks)
			|| '/' || (SELECT published_up_to FROM public.event_publication) || '/' || (SELECT count(*) FROM public.events)`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s + "/" + f.state(t)
	}
	before := outbox()
	for _, upTo := range []string{"3", "1000000", "9223372036854775807"} {
		st, out, _ := f.do(t, call{method: "POST", path: "/v1/events/ack", body: `{"up_to":` + upTo + `}`})
		if code, msg := errCode(out); st != 422 || code != "ack_beyond_newest" {
			t.Errorf("ack %s: %d %s %s", upTo, st, code, msg)
		}
		if after := outbox(); after != before {
			t.Errorf("ack %s changed the database: %s -> %s", upTo, before, after)
		}
	}
	st, out, _ = f.do(t, call{method: "GET", path: "/v1/events"})
	if evs, _ := out["events"].([]any); st != 200 || len(evs) != 1 {
		t.Fatalf("after refused acks the token must still get event 2: %d %v", st, out)
	}
}
