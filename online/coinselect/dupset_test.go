package coinselect

import (
	"testing"

	"github.com/btcsuite/btcd/wire"
)

// TestOutPointSetCollisions: outpoints whose fast keys collide are told
// apart, and each is still found when listed again.
func TestOutPointSetCollisions(t *testing.T) {
	var a, b, c wire.OutPoint
	a.Hash[0], b.Hash[0], c.Hash[0] = 1, 1, 1
	a.Hash[31], b.Hash[30], c.Hash[29] = 1, 2, 3 // same first 8 bytes and index: the same key
	s := newOutPointSet(0)
	for _, op := range []*wire.OutPoint{&a, &b, &c} {
		if s.add(op) {
			t.Fatalf("%v reported twice on first sight", op)
		}
	}
	for _, op := range []*wire.OutPoint{&a, &b, &c} {
		cp := *op
		if !s.add(&cp) {
			t.Fatalf("%v listed again not found", op)
		}
	}
	if len(s.fast) != 1 || len(s.exact) != 2 {
		t.Fatalf("fast %d, exact %d: the keys did not collide", len(s.fast), len(s.exact))
	}
}
