package deposits

import (
	"bytes"
	"context"
	"hash/maphash"
	"math"
	"sync"

	"github.com/btcsuite/btcd/wire"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cryptoassets/cryptoassets/online/coins"
)

// watched is what the follower knows about a watched script.
type watched struct {
	addressID int64
	accountID int64 // 0 for change and internal addresses
	walletID  int16
	address   string
}

// watchSet maps output scripts to addresses. Lookups are O(1) whatever the
// number of addresses; refresh loads only addresses added since last time.
//
// It is an open-addressing table of 64-bit slots over a flat array of
// entries and one byte arena for their scripts and addresses. None of the
// three holds a pointer, so a million watched addresses give the garbage
// collector nothing to scan (a Go map of strings gives it two pointers an
// address). Blocks are looked up through hits: once per output, under one
// read lock.
type watchSet struct {
	mu      sync.RWMutex
	seed    maphash.Seed
	slots   []uint64 // 0 empty, else the hash's high 32 bits << 32 | entry index + 1
	entries []watchEntry
	arena   []byte
	maxID   int64
}

// watchEntry is watched with its script and address as spans of the arena.
type watchEntry struct {
	hash                 uint64
	addressID, accountID int64
	walletID             int16
	script, address      arenaSpan
}

type arenaSpan struct{ off, n int }

func newWatchSet() *watchSet { return &watchSet{seed: maphash.MakeSeed(), slots: make([]uint64, 1024)} }

func (w *watchSet) bytes(s arenaSpan) []byte { return w.arena[s.off : s.off+s.n] }

// find is the slot holding script (hash h), or the empty slot where it goes.
func (w *watchSet) find(script []byte, h uint64) (slot int, found bool) {
	mask := len(w.slots) - 1
	tag := h >> 32
	for i := int(h) & mask; ; i = (i + 1) & mask {
		s := w.slots[i]
		if s == 0 {
			return i, false
		}
		if s>>32 == tag && bytes.Equal(w.bytes(w.entries[uint32(s)-1].script), script) {
			return i, true
		}
	}
}

// lookup is script's address (the caller holds a lock).
func (w *watchSet) lookup(script []byte) (watched, bool) {
	i, ok := w.find(script, maphash.Bytes(w.seed, script))
	if !ok {
		return watched{}, false
	}
	e := w.entries[uint32(w.slots[i])-1]
	return watched{addressID: e.addressID, accountID: e.accountID, walletID: e.walletID, address: string(w.bytes(e.address))}, true
}

// add records a (caller holds the write lock); a script added again takes
// the new address.
func (w *watchSet) add(script []byte, a watched) {
	if len(w.entries) >= math.MaxUint32-1 {
		panic("watch set: too many addresses")
	}
	if 2*(len(w.entries)+1) > len(w.slots) {
		w.grow()
	}
	h := maphash.Bytes(w.seed, script)
	e := watchEntry{hash: h, addressID: a.addressID, accountID: a.accountID, walletID: a.walletID}
	e.script = arenaSpan{len(w.arena), len(script)}
	w.arena = append(w.arena, script...)
	e.address = arenaSpan{len(w.arena), len(a.address)}
	w.arena = append(w.arena, a.address...)
	i, found := w.find(script, h)
	if found {
		w.entries[uint32(w.slots[i])-1] = e
		return
	}
	w.entries = append(w.entries, e)
	w.slots[i] = h>>32<<32 | uint64(len(w.entries))
}

// grow doubles the slots, keeping the load at most one half.
func (w *watchSet) grow() {
	slots := make([]uint64, 2*len(w.slots))
	mask := len(slots) - 1
	for n, e := range w.entries {
		i := int(e.hash) & mask
		for slots[i] != 0 {
			i = (i + 1) & mask
		}
		slots[i] = e.hash>>32<<32 | uint64(n+1)
	}
	w.slots = slots
}

// watchHits is what a watch set holds of some transactions' outputs.
type watchHits map[string]watched

// lookup is the deposits matcher's question.
func (h watchHits) lookup(script []byte) (watched, bool) {
	a, ok := h[string(script)]
	return a, ok
}

// coin is the coins matcher's question: every address of ours, customer or
// change, hot or cold.
func (h watchHits) coin(script []byte) (coins.Watched, bool) {
	a, ok := h[string(script)]
	return coins.Watched{AddressID: a.addressID, WalletID: a.walletID}, ok
}

// hits looks every output script of txs up once, under one read lock.
func (w *watchSet) hits(txs []*wire.MsgTx) watchHits {
	w.mu.RLock()
	defer w.mu.RUnlock()
	var h watchHits
	for _, tx := range txs {
		if tx == nil {
			continue
		}
		for _, o := range tx.TxOut {
			if o == nil {
				continue
			}
			if a, ok := w.lookup(o.PkScript); ok {
				if h == nil {
					h = watchHits{}
				}
				h[string(o.PkScript)] = a
			}
		}
	}
	return h
}

func (w *watchSet) size() int {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return len(w.entries)
}

// refreshBatch bounds one read. ORDER BY id LIMIT also keeps the plan an
// index range scan even when a generic plan would guess "id > $1" matches a
// third of the table and scan all of it.
const refreshBatch = 50_000

func (w *watchSet) refresh(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	for {
		n, err := w.refreshBatch(ctx, pool, schema)
		if err != nil || n < refreshBatch {
			return err
		}
	}
}

func (w *watchSet) refreshBatch(ctx context.Context, pool *pgxpool.Pool, schema string) (int, error) {
	w.mu.RLock()
	after := w.maxID
	w.mu.RUnlock()
	rows, err := pool.Query(ctx, `SELECT id, script, coalesce(account_id, 0), wallet_id, address FROM `+schema+`.addresses
		WHERE id > $1 ORDER BY id LIMIT $2`, after, refreshBatch)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for rows.Next() {
		var a watched
		var script []byte
		if err := rows.Scan(&a.addressID, &script, &a.accountID, &a.walletID, &a.address); err != nil {
			return n, err
		}
		w.add(script, a)
		if a.addressID > w.maxID {
			w.maxID = a.addressID
		}
		n++
	}
	return n, rows.Err()
}
