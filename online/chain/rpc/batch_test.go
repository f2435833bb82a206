package rpc

import (
	"encoding/json"
	"testing"
)

// parseBatch never panics, and what it accepts answers each of the n calls
// exactly once: a result or an error.
func FuzzParseBatch(f *testing.F) {
	for _, s := range []string{
		`[{"result":"aa","error":null,"id":7},{"result":null,"error":{"code":-8,"message":"out of range"},"id":8}]`,
		`[{"result":"aa","id":8},{"result":"bb","id":7}]`,
		`[{"result":"aa","id":7},{"result":"bb","id":7}]`,
		`[{"result":"aa","id":7}]`,
		`[]`, `{"result":null,"error":{"code":-32700,"message":"parse"},"id":null}`, `[null,null]`, "[\x00]", `[{"id":18446744073709551615},{"id":0}]`,
	} {
		f.Add([]byte(s), uint8(2))
	}
	f.Fuzz(func(t *testing.T, data []byte, n uint8) {
		const first = 7
		results, errs, err := parseBatch("getblockhash", data, first, int(n))
		if err != nil {
			if results != nil || errs != nil {
				t.Fatalf("an error (%v) with answers", err)
			}
			return
		}
		if len(results) != int(n) || len(errs) != int(n) {
			t.Fatalf("%d results and %d errors for %d calls", len(results), len(errs), n)
		}
		var rs []response
		if json.Unmarshal(data, &rs) != nil || len(rs) != int(n) {
			t.Fatalf("accepted %q, which is not an array of %d replies", data, n)
		}
		seen := map[uint64]bool{}
		for _, r := range rs {
			if r.ID < first || r.ID >= first+uint64(n) || seen[r.ID] {
				t.Fatalf("accepted %q: id %d", data, r.ID)
			}
			seen[r.ID] = true
		}
	})
}
