package events

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader carries the webhook signature:
//
//	X-Cryptoassets-Signature: t=1767225600,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd
//
// t is the Unix time of the attempt; v1 is the hex HMAC-SHA256, under the
// webhook's secret, of t, a full stop and the raw body. Signing the time
// lets a receiver refuse a captured delivery replayed later (Verify's
// tolerance); the body carries event_id for the receiver to drop a repeat
// inside that window. Every attempt is signed afresh.
const SignatureHeader = "X-Cryptoassets-Signature"

// DefaultTolerance is how far a signature's time may be from the
// receiver's clock when Verify is given no tolerance.
const DefaultTolerance = 5 * time.Minute

// Reasons Verify refuses a delivery.
var (
	ErrSignatureMalformed = errors.New("webhook signature header malformed")
	ErrSignatureMismatch  = errors.New("webhook signature does not match the body and time")
	ErrSignatureTime      = errors.New("webhook signature time outside the tolerance")
)

// Sign returns the SignatureHeader value for body sent at time at.
func Sign(secret, body []byte, at time.Time) string {
	t := strconv.FormatInt(at.Unix(), 10)
	return "t=" + t + ",v1=" + hex.EncodeToString(mac(secret, t, body))
}

func mac(secret []byte, t string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(t))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a SignatureHeader value against the raw body, before the
// receiver parses it: the HMAC must match (compared in constant time) and
// the signed time must be within tolerance of now, either way (zero or
// less: DefaultTolerance). More than one v1 is accepted, any matching, so a
// secret can be rotated.
func Verify(secret, body []byte, header string, tolerance time.Duration) error {
	return VerifyAt(secret, body, header, tolerance, time.Now())
}

// VerifyAt is Verify with the receiver's clock given.
func VerifyAt(secret, body []byte, header string, tolerance time.Duration, now time.Time) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var t string
	var sigs [][]byte
	for _, part := range strings.Split(strings.TrimSpace(header), ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		switch {
		case !ok:
			return fmt.Errorf("%w: %q is not key=value", ErrSignatureMalformed, truncate(part, 80))
		case k == "t":
			if t != "" {
				return fmt.Errorf("%w: t given twice", ErrSignatureMalformed)
			}
			t = v
		case k == "v1":
			sig, err := hex.DecodeString(v)
			if err != nil || len(sig) != sha256.Size {
				return fmt.Errorf("%w: v1 is not a hex HMAC-SHA256", ErrSignatureMalformed)
			}
			sigs = append(sigs, sig)
		}
		// Other keys are left for later schemes.
	}
	unix, err := strconv.ParseInt(t, 10, 64)
	if err != nil || len(sigs) == 0 {
		return fmt.Errorf("%w: want t=<unix seconds>,v1=<hex>", ErrSignatureMalformed)
	}
	want := mac(secret, t, body)
	match := false
	for _, sig := range sigs {
		match = hmac.Equal(sig, want) || match
	}
	if !match {
		return ErrSignatureMismatch
	}
	at := time.Unix(unix, 0)
	if d := now.Sub(at); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: signed at %s, %s from now (tolerance %s)", ErrSignatureTime, at.UTC().Format(time.RFC3339), d.Round(time.Second), tolerance)
	}
	return nil
}
