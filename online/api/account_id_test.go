package api

import (
	"fmt"
	"testing"
)

// Lists are paged by account id (?after=ID), so every account object must
// carry the id a client pages with: created, fetched and listed alike.
func TestAccountObjectsCarryTheirID(t *testing.T) {
	f := newFixture(t)
	st, created, _ := f.do(t, call{method: "POST", path: "/v1/btc/accounts", body: `{"name":"carol"}`})
	if st != 201 {
		t.Fatalf("create: %d %v", st, created)
	}
	id, ok := created["id"].(float64)
	if !ok || id <= 0 {
		t.Fatalf("created account has no id: %v", created)
	}
	_, got, _ := f.do(t, call{method: "GET", path: "/v1/btc/accounts/carol"})
	if got["id"] != created["id"] {
		t.Fatalf("GET answers id %v, create answered %v", got["id"], created["id"])
	}
	// Page one account at a time: each page's next_after is the id of its
	// last account, and the next page starts after it.
	var after any = float64(0)
	seen := map[float64]bool{}
	for pages := 0; after != nil; pages++ {
		if pages > 50 {
			t.Fatal("paging does not end")
		}
		_, page, _ := f.do(t, call{method: "GET", path: fmt.Sprintf("/v1/btc/accounts?limit=1&after=%v", after)})
		accts, _ := page["accounts"].([]any)
		if len(accts) == 0 {
			break
		}
		a := accts[0].(map[string]any)
		aid, ok := a["id"].(float64)
		if !ok {
			t.Fatalf("listed account has no id: %v", a)
		}
		if page["next_after"] != nil && page["next_after"] != a["id"] {
			t.Fatalf("next_after %v is not the id %v of the page's last account", page["next_after"], a["id"])
		}
		seen[aid] = true
		after = page["next_after"]
	}
	if !seen[id] {
		t.Fatalf("paging by id never reached carol (id %v): saw %v", id, seen)
	}
}
