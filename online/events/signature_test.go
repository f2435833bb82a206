package events

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cryptoassets/cryptoassets/internal/storetest"
)

// A signature binds the body to the time it was sent: a receiver refuses a
// forged body or time, a replay outside the tolerance, and malformed headers.
func TestWebhookSignatureRefusesOldForgedAndReplayed(t *testing.T) {
	secret := []byte("whsec-test")
	body := []byte(`{"event_id":7,"type":"deposit.credited"}`)
	sent := time.Unix(1_767_225_600, 0)
	good := Sign(secret, body, sent)
	sig := strings.TrimPrefix(good, "t=1767225600,v1=")
	forgedTime := "t=" + strconv.FormatInt(sent.Unix()+3600, 10) + ",v1=" + sig
	tol := 5 * time.Minute
	for _, c := range []struct {
		name   string
		secret []byte
		body   []byte
		header string
		now    time.Time
		want   error
	}{
		{"fresh", secret, body, good, sent.Add(2 * time.Second), nil},
		{"receiver clock a little behind", secret, body, good, sent.Add(-time.Minute), nil},
		{"at the tolerance", secret, body, good, sent.Add(tol), nil},
		{"replayed after the tolerance", secret, body, good, sent.Add(tol + time.Second), ErrSignatureTime},
		{"old", secret, body, good, sent.Add(24 * time.Hour), ErrSignatureTime},
		{"from the future", secret, body, good, sent.Add(-tol - time.Second), ErrSignatureTime},
		{"time forged to look fresh", secret, body, forgedTime, sent.Add(time.Hour), ErrSignatureMismatch},
		{"body forged", secret, []byte(`{"event_id":7,"type":"deposit.credited","x":1}`), good, sent, ErrSignatureMismatch},
		{"other secret", []byte("another"), body, good, sent, ErrSignatureMismatch},
		{"rotated: second v1 matches", secret, body, "t=1767225600,v1=" + strings.Repeat("00", 32) + ",v1=" + sig, sent, nil},
		{"empty", secret, body, "", sent, ErrSignatureMalformed},
		{"old scheme", secret, body, "sha256=" + sig, sent, ErrSignatureMalformed},
		{"no time", secret, body, "v1=" + sig, sent, ErrSignatureMalformed},
		{"no v1", secret, body, "t=1767225600", sent, ErrSignatureMalformed},
		{"time twice", secret, body, "t=1,t=1767225600,v1=" + sig, sent, ErrSignatureMalformed},
		{"short v1", secret, body, "t=1767225600,v1=abcd", sent, ErrSignatureMalformed},
		{"time not a number", secret, body, "t=soon,v1=" + sig, sent, ErrSignatureMalformed},
	} {
		err := VerifyAt(c.secret, c.body, c.header, tol, c.now)
		if (c.want == nil) != (err == nil) || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
	if err := VerifyAt(secret, body, good, 0, sent.Add(DefaultTolerance+time.Second)); !errors.Is(err, ErrSignatureTime) {
		t.Errorf("no tolerance given must mean DefaultTolerance, not none: %v", err)
	}
}

// The deliverer signs each attempt with the time it is sent, so a captured
// delivery replayed later is refused by a receiver that checks the time.
func TestWebhookDeliverySignedWithItsTime(t *testing.T) {
	r := storetest.Runner(t, 4)
	secret := []byte("whsec-live")
	var mu sync.Mutex
	type capture struct {
		header string
		body   []byte
	}
	var got []capture
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		mu.Lock()
		got = append(got, capture{req.Header.Get(SignatureHeader), b})
		mu.Unlock()
	}))
	defer hook.Close()
	emitN(t, r, 0, 1)
	before := time.Now()
	d := &Deliverer{Runner: r, Hooks: []Webhook{{URL: hook.URL, Secret: secret}}}
	if err := d.DeliverPending(context.Background(), d.Hooks[0]); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("%d deliveries", len(got))
	}
	c := got[0]
	if err := Verify(secret, c.body, c.header, time.Minute); err != nil {
		t.Fatalf("live delivery %q: %v", c.header, err)
	}
	ts, _, _ := strings.Cut(strings.TrimPrefix(c.header, "t="), ",")
	if unix, err := strconv.ParseInt(ts, 10, 64); err != nil || unix < before.Unix() || unix > time.Now().Unix() {
		t.Fatalf("signed time %q is not the time of the attempt", ts)
	}
	if err := VerifyAt(secret, c.body, c.header, time.Minute, time.Now().Add(time.Hour)); !errors.Is(err, ErrSignatureTime) {
		t.Fatalf("the same delivery replayed an hour later: %v", err)
	}
}

// Receivers feed Verify whatever header arrives: it never panics, accepts
// only what Sign made for that body, and accepts that.
func FuzzVerifySignature(f *testing.F) {
	secret := []byte("whsec-fuzz")
	now := time.Unix(1_767_225_600, 0)
	f.Add([]byte(`{"event_id":1}`), Sign(secret, []byte(`{"event_id":1}`), now))
	f.Add([]byte(`{}`), "t=1767225600,v1=zz")
	f.Add([]byte(``), "t=,v1=,v1")
	f.Fuzz(func(t *testing.T, body []byte, header string) {
		err := VerifyAt(secret, body, header, time.Minute, now)
		if err == nil {
			// Accepted: the header must carry the body's true MAC for its time.
			var ts string
			for _, part := range strings.Split(header, ",") {
				if k, v, _ := strings.Cut(strings.TrimSpace(part), "="); k == "t" {
					ts = v
				}
			}
			unix, perr := strconv.ParseInt(ts, 10, 64)
			want := Sign(secret, body, time.Unix(unix, 0))
			_, sig, _ := strings.Cut(want, ",v1=")
			if perr != nil || !strings.Contains(strings.ToLower(header), sig) {
				t.Fatalf("accepted %q for %q", header, body)
			}
		}
		if err := VerifyAt(secret, body, Sign(secret, body, now), time.Minute, now); err != nil {
			t.Fatalf("own signature refused: %v", err)
		}
	})
}
