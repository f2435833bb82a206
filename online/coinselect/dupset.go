package coinselect

import (
	"encoding/binary"

	"github.com/btcsuite/btcd/wire"
)

// outPointSet finds an outpoint listed twice. Keys are 8 bytes of the
// txid mixed with the index, which a map hashes far faster than the whole
// 36-byte outpoint; outpoints whose keys collide go to an exact map.
type outPointSet struct {
	fast  map[uint64]*wire.OutPoint
	exact map[wire.OutPoint]struct{}
}

func newOutPointSet(n int) *outPointSet {
	return &outPointSet{fast: make(map[uint64]*wire.OutPoint, n)}
}

// add records op and reports whether it was already there.
func (s *outPointSet) add(op *wire.OutPoint) (dup bool) {
	k := binary.LittleEndian.Uint64(op.Hash[:8]) ^ uint64(op.Index)*0x9e3779b97f4a7c15
	first, hit := s.fast[k]
	if !hit {
		s.fast[k] = op
		return false
	}
	if *first == *op {
		return true
	}
	if s.exact == nil {
		s.exact = map[wire.OutPoint]struct{}{}
	}
	if _, dup := s.exact[*op]; dup {
		return true
	}
	s.exact[*op] = struct{}{}
	return false
}
