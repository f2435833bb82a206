package deposits

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"testing"

	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/online/coins"
)

// The watch set's table answers as a map of scripts would, through the
// growth of its slots, for scripts that share a prefix or differ in
// length, and a script added again takes its new address.
func TestWatchSetAnswersAsAMap(t *testing.T) {
	for _, n := range []int{0, 1, 511, 512, 513, 5_000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			w := newWatchSet()
			want := map[string]watched{}
			script := func(i int) []byte {
				s := bytes.Repeat([]byte{0x51}, 2+i%40) // lengths 2 to 41, one prefix
				return append(s, byte(i), byte(i>>8), byte(i>>16))
			}
			for i := 0; i < n; i++ {
				a := watched{addressID: int64(i + 1), accountID: int64(i % 7), walletID: int16(i % 3), address: fmt.Sprintf("addr%d", i)}
				w.add(script(i), a)
				want[string(script(i))] = a
			}
			if n > 0 {
				again := watched{addressID: 99_999, accountID: 1, walletID: 2, address: "again"}
				w.add(script(0), again)
				want[string(script(0))] = again
			}
			if w.size() != len(want) {
				t.Fatalf("size %d, want %d", w.size(), len(want))
			}
			if load := float64(w.size()) / float64(len(w.slots)); load > 0.5 {
				t.Fatalf("load %.2f above one half", load)
			}
			// The coins matcher's question, asked of a transaction paying s.
			coin := func(s []byte) (coins.Watched, bool) {
				tx := wire.NewMsgTx(2)
				tx.AddTxOut(wire.NewTxOut(1, s))
				return w.hits([]*wire.MsgTx{tx}).coin(s)
			}
			for s, a := range want {
				got, ok := w.lookup([]byte(s))
				if !ok || got != a {
					t.Fatalf("lookup %x = %+v %v, want %+v", s, got, ok, a)
				}
				c, ok := coin([]byte(s))
				if !ok || c.AddressID != a.addressID || c.WalletID != a.walletID {
					t.Fatalf("coin %x = %+v %v, want address %d wallet %d", s, c, ok, a.addressID, a.walletID)
				}
			}
			// hits answers for a transaction's outputs as lookup does.
			tx := wire.NewMsgTx(2)
			var scripts [][]byte
			for i := 0; i < min(n, 50); i++ {
				scripts = append(scripts, script(i))
			}
			scripts = append(scripts, script(n), nil, []byte{0x51})
			for _, sc := range scripts {
				tx.AddTxOut(wire.NewTxOut(1, sc))
			}
			hits := w.hits([]*wire.MsgTx{nil, tx})
			for _, sc := range scripts {
				a, ok := w.lookup(sc)
				h, hok := hits.lookup(sc)
				c, cok := hits.coin(sc)
				if ok != hok || a != h || ok != cok || c.AddressID != a.addressID || c.WalletID != a.walletID {
					t.Fatalf("%x: lookup %+v %v, hits %+v %v, coin %+v %v", sc, a, ok, h, hok, c, cok)
				}
			}
			for _, miss := range [][]byte{nil, {}, {0x51}, script(n), script(n + 1)[:3], append(script(1), 0)} {
				if _, ok := want[string(miss)]; ok {
					continue
				}
				if a, ok := w.lookup(miss); ok {
					t.Fatalf("lookup %x found %+v, which was never added", miss, a)
				}
				if _, ok := coin(miss); ok {
					t.Fatalf("coin %x found, which was never added", miss)
				}
			}
		})
	}
}

// BenchmarkWatchSetLookup is a lookup that misses in a set of a million
// P2WPKH scripts, as for nearly every output of a block, beside the same
// lookup in a Go map of strings (the baseline).
func BenchmarkWatchSetLookup(b *testing.B) {
	const n = 1_000_000
	w := newWatchSet()
	m := make(map[string]watched, n)
	script := func(i int, miss byte) []byte {
		s := make([]byte, 22)
		s[1], s[2] = 0x14, miss
		h := maphash.Bytes(seed, []byte{byte(i), byte(i >> 8), byte(i >> 16)})
		binary.LittleEndian.PutUint64(s[3:], h)
		binary.LittleEndian.PutUint64(s[11:], h*31)
		return s
	}
	for i := 0; i < n; i++ {
		w.add(script(i, 0), watched{addressID: int64(i + 1)})
		m[string(script(i, 0))] = watched{addressID: int64(i + 1)}
	}
	probes := make([][]byte, 1<<20)
	for i := range probes {
		probes[i] = script(i*15+7, 1)
	}
	b.Run("table", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, ok := w.lookup(probes[i&(len(probes)-1)]); ok {
				b.Fatal("found a script never added")
			}
		}
	})
	b.Run("go-map", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, ok := m[string(probes[i&(len(probes)-1)])]; ok {
				b.Fatal("found a script never added")
			}
		}
	})
}

var seed = maphash.MakeSeed()
