package api

import (
	"strings"
	"testing"

	"github.com/cryptoassets/cryptoassets/shared/amount"
)

// Any body either decodes to a valid amount or is refused; nothing panics,
// and an accepted amount is within (0, 21M BTC].
func FuzzTransferBody(f *testing.F) {
	for _, s := range []string{
		`{"from":"a","to":"b","amount":"0.1"}`, `{"from":"a","to":"b","amount_sat":5}`, `{"amount_sat":"7"}`,
		`{"amount":0.1}`, `{"amount_sat":1e3}`, `[]`, `{"from":"a",}`, `{"amount":"1","amount_sat":1}`, `{}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var in struct {
			From string `json:"from"`
			To   string `json:"to"`
			Memo string `json:"memo"`
			amountFields
		}
		if err := decodeStrict([]byte(body), &in); err != nil {
			if !strings.HasPrefix(err.Error(), "invalid_json: ") {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
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
