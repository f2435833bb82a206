package api

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cryptoassets/cryptoassets/shared/amount"
)

// Any body either decodes to a valid amount or is refused; nothing panics;
// an accepted body is UTF-8 without NUL, has only the exact field names,
// each once, and its canonical form is stable (a canonical body is its own
// canonical form) and decodes to the same request.
func FuzzTransferBody(f *testing.F) {
	for _, s := range []string{
		`{"from":"a","to":"b","amount":"0.1"}`, `{"from":"a","to":"b","amount_sat":5}`, `{"amount_sat":"7"}`,
		`{"amount":0.1}`, `{"amount_sat":1e3}`, `[]`, `{"from":"a",}`, `{"amount":"1","amount_sat":1}`, `{}`,
		`{"From":"a","Amount_Sat":1}`, `{"from":"a","from":"b"}`, `{"memo":"\u0000"}`, "{\"memo\":\"\xff\"}",
		`{"memo":"\ud800"}`, `{"memo":"\ud83d\ude00"}`, `{"amount":{"a":1,"a":2}}`, ` { "to" : "b\u0061" } `,
		"\v{}", "\u00a0{}", "\f{\"to\":\"b\"}", "\u0085{}",
	} {
		f.Add(s)
	}
	type transfer struct {
		From string `json:"from"`
		To   string `json:"to"`
		Memo string `json:"memo"`
		amountFields
	}
	f.Fuzz(func(t *testing.T, body string) {
		var in transfer
		if err := decodeStrict([]byte(body), &in); err != nil {
			if !strings.HasPrefix(err.Error(), "invalid_json: ") && !strings.HasPrefix(err.Error(), "invalid_text: ") {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		for _, s := range []string{in.From, in.To, in.Memo} {
			if strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s) || strings.ContainsRune(s, utf8.RuneError) && !strings.Contains(body, "\ufffd") && !strings.Contains(strings.ToLower(body), `\ufffd`) {
				t.Fatalf("%q accepted with bad text %q", body, s)
			}
		}
		var keys map[string]json.RawMessage
		if err := json.Unmarshal([]byte(body), &keys); err != nil {
			t.Fatalf("%q accepted but is not an object: %v", body, err)
		}
		for k := range keys {
			if !map[string]bool{"from": true, "to": true, "memo": true, "amount": true, "amount_sat": true}[k] {
				t.Fatalf("%q accepted with field %q", body, k)
			}
		}
		canon, err := canonicalJSON([]byte(body))
		if err != nil {
			t.Fatalf("%q accepted but has no canonical form: %v", body, err)
		}
		again, err := canonicalJSON(canon)
		if err != nil || !bytes.Equal(again, canon) {
			t.Fatalf("canonical form of %q is not stable: %s then %s (%v)", body, canon, again, err)
		}
		var out transfer
		if err := decodeStrict(canon, &out); err != nil || out.From != in.From || out.To != in.To || out.Memo != in.Memo {
			t.Fatalf("canonical form %s of %q is another request: %+v vs %+v (%v)", canon, body, out, in, err)
		}
		sat, err := in.satoshis()
		if err != nil {
			return
		}
		if sat <= 0 || sat > amount.MaxSat {
			t.Fatalf("%q accepted as %d satoshis", body, sat)
		}
	})
}

// The strict reader's cost per transfer body: the token pass, the decode
// and the canonical form an Idempotency-Key is bound to.
func BenchmarkReadTransferBody(b *testing.B) {
	body := []byte(`{"from":"customer-000123","to":"customer-000456","amount":"0.00150000","memo":"order 1001 refund"}`)
	type transfer struct {
		From string `json:"from"`
		To   string `json:"to"`
		Memo string `json:"memo"`
		amountFields
	}
	b.ReportAllocs()
	for b.Loop() {
		var in transfer
		if err := decodeStrict(body, &in); err != nil {
			b.Fatal(err)
		}
		if _, err := canonicalJSON(body); err != nil {
			b.Fatal(err)
		}
	}
}
