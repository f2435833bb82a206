package events

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/cryptoassets/cryptoassets/online/store"
)

// Webhook is a receiver of events.
type Webhook struct {
	URL    string
	Secret []byte
}

// Deliverer posts events to webhooks, in order, at least once.
type Deliverer struct {
	Runner     *store.Runner
	Hooks      []Webhook
	Client     *http.Client
	Log        *slog.Logger
	Poll       time.Duration // how often to look for new events (default 1s)
	MinBackoff time.Duration // first retry delay (default 1s)
	MaxBackoff time.Duration // longest retry delay (default 10m)
}

func (d *Deliverer) defaults() {
	if d.Client == nil {
		d.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Poll <= 0 {
		d.Poll = time.Second
	}
	if d.MinBackoff <= 0 {
		d.MinBackoff = time.Second
	}
	if d.MaxBackoff <= 0 {
		d.MaxBackoff = 10 * time.Minute
	}
}

// Run delivers until ctx ends.
func (d *Deliverer) Run(ctx context.Context) error {
	d.defaults()
	for {
		for _, h := range d.Hooks {
			if err := d.DeliverPending(ctx, h); err != nil && ctx.Err() == nil {
				d.Log.Error("webhook delivery", "url", h.URL, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(d.Poll):
		}
	}
}

type cursor struct {
	upTo     int64
	attempts int
	due      bool
}

func (d *Deliverer) cursor(ctx context.Context, url string) (cursor, error) {
	var c cursor
	err := d.Runner.InTx(ctx, "webhook-cursor", func(tx *store.Tx) error {
		if _, err := tx.Exec(`INSERT INTO public.webhook_cursors (url) VALUES ($1) ON CONFLICT DO NOTHING`, url); err != nil {
			return err
		}
		return tx.QueryRow(`SELECT delivered_up_to, attempts, next_attempt_at <= now() FROM public.webhook_cursors WHERE url = $1`, url).
			Scan(&c.upTo, &c.attempts, &c.due)
	})
	return c, err
}

// DeliverPending posts the events the webhook has not acknowledged yet, in
// order, stopping at the first failure (which is retried after a backoff).
func (d *Deliverer) DeliverPending(ctx context.Context, h Webhook) error {
	d.defaults()
	c, err := d.cursor(ctx, h.URL)
	if err != nil || !c.due {
		return err
	}
	for {
		evs, err := List(ctx, d.Runner.Pool(), c.upTo, 100)
		if err != nil || len(evs) == 0 {
			return err
		}
		for _, e := range evs {
			if err := d.post(ctx, h, e); err != nil {
				c.attempts++
				delay := d.backoff(c.attempts)
				d.Log.Warn("webhook delivery failed; will retry", "url", h.URL, "event", e.ID, "attempt", c.attempts, "retry_in", delay, "err", err)
				return d.Runner.InTx(ctx, "webhook-failed", func(tx *store.Tx) error {
					_, err := tx.Exec(`UPDATE public.webhook_cursors SET attempts = $2, next_attempt_at = now() + $3::interval,
						last_error = $4, updated_at = now() WHERE url = $1`, h.URL, c.attempts, fmt.Sprintf("%d milliseconds", delay.Milliseconds()), truncate(err.Error(), 500))
					return err
				})
			}
			c.upTo, c.attempts = e.ID, 0
			if err := d.Runner.InTx(ctx, "webhook-delivered", func(tx *store.Tx) error {
				_, err := tx.Exec(`UPDATE public.webhook_cursors SET delivered_up_to = greatest(delivered_up_to, $2), attempts = 0,
					next_attempt_at = now(), last_error = NULL, updated_at = now() WHERE url = $1`, h.URL, e.ID)
				return err
			}); err != nil {
				return err
			}
		}
	}
}

func (d *Deliverer) post(ctx context.Context, h Webhook, e Event) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(e.Payload))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "cryptoassets-webhook/1")
	req.Header.Set("X-Cryptoassets-Event-Id", strconv.FormatInt(e.ID, 10))
	req.Header.Set("X-Cryptoassets-Event-Type", e.Type)
	req.Header.Set(SignatureHeader, Sign(h.Secret, e.Payload, time.Now()))
	// A redirect is the receiver's answer, not a delivery: following
	// 301/302/303 would turn the POST into a bodiless GET that could answer
	// 200. Whatever the configured client does, the 3xx comes back here and
	// fails the attempt.
	client := *d.Client
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		return fmt.Errorf("HTTP %d redirect to %q: webhooks are not redirected; configure the URL the receiver answers on", resp.StatusCode, truncate(resp.Header.Get("Location"), 200))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

// backoff doubles from MinBackoff to MaxBackoff with ±25% jitter.
func (d *Deliverer) backoff(attempt int) time.Duration {
	delay := d.MinBackoff << min(attempt-1, 30)
	if delay <= 0 || delay > d.MaxBackoff {
		delay = d.MaxBackoff
	}
	jitter := time.Duration(rand.Int64N(int64(delay)/2+1)) - delay/4
	return delay + jitter
}

// Redeliver moves a webhook's cursor back so events after `after` are sent
// again, and makes it due now. after may not be beyond the newest published
// event (ErrBeyondNewest).
func Redeliver(ctx context.Context, r *store.Runner, url string, after int64) error {
	if after < 0 {
		return fmt.Errorf("redeliver after %d: want an event id, 0 for all", after)
	}
	return r.InTx(ctx, "webhook-redeliver", func(tx *store.Tx) error {
		if err := checkPublished(tx, "after", after); err != nil {
			return err
		}
		_, err := tx.Exec(`INSERT INTO public.webhook_cursors (url, delivered_up_to) VALUES ($1, $2)
			ON CONFLICT (url) DO UPDATE SET delivered_up_to = $2, attempts = 0, next_attempt_at = now(), last_error = NULL, updated_at = now()`, url, after)
		return err
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
