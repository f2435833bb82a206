package events

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cryptoassets/cryptoassets/internal/storetest"
)

// A webhook that answers with a redirect has not received the event: the
// deliverer does not follow it (a client following 301/302/303 would turn
// the POST into a bodiless GET), records a failed attempt with a clear
// last_error, keeps its cursor, and retries.
func TestWebhookRedirectIsAFailedDelivery(t *testing.T) {
	for _, status := range []int{301, 302, 303, 307, 308} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			r := storetest.Runner(t, 4)
			ctx := context.Background()
			var mu sync.Mutex
			var followed []string
			target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				mu.Lock()
				followed = append(followed, req.Method)
				mu.Unlock()
			}))
			defer target.Close()
			hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				http.Redirect(w, req, target.URL+"/moved", status)
			}))
			defer hook.Close()
			emitN(t, r, 0, 1)
			d := &Deliverer{Runner: r, Hooks: []Webhook{{URL: hook.URL, Secret: []byte("k")}}, MinBackoff: time.Hour}
			if err := d.DeliverPending(ctx, d.Hooks[0]); err != nil {
				t.Fatal(err)
			}
			var upTo int64
			var attempts int
			var lastErr *string
			if err := r.Pool().QueryRow(ctx, `SELECT delivered_up_to, attempts, last_error FROM public.webhook_cursors WHERE url = $1`, hook.URL).
				Scan(&upTo, &attempts, &lastErr); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(followed) != 0 || upTo != 0 || attempts != 1 || lastErr == nil {
				t.Fatalf("redirect %d: followed with %v, delivered_up_to %d, attempts %d, last_error %v", status, followed, upTo, attempts, lastErr)
			}
			if want := fmt.Sprintf("HTTP %d", status); !strings.Contains(*lastErr, want) || !strings.Contains(*lastErr, "redirect") || !strings.Contains(*lastErr, target.URL) {
				t.Fatalf("last_error %q: want %q, the word redirect and where it pointed", *lastErr, want)
			}
		})
	}
}
