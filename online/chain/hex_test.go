package chain

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"testing"
)

// hexString answers what the JSON decoder and hex.DecodeString answer, for
// any reply: the same bytes, or an error where either refuses.
func FuzzHexString(f *testing.F) {
	for _, s := range []string{`""`, `"00ff"`, `"0"`, `"zz"`, `"\u0030\u0030"`, `"00\"`, `00`, `"00`, `null`, `"ABcd"`, "\"\x00\"", `"0\n0"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, reply []byte) {
		got, err := hexString(reply)
		var s string
		var want []byte
		werr := json.Unmarshal(reply, &s)
		if werr == nil {
			want, werr = hex.DecodeString(s)
		}
		if (err == nil) != (werr == nil) {
			t.Fatalf("%q: hexString %x, %v; decoder %x, %v", reply, got, err, want, werr)
		}
		if err == nil && !bytes.Equal(got, want) {
			t.Fatalf("%q: hexString %x, decoder %x", reply, got, want)
		}
	})
}
