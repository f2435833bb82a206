package deposits

import (
	"context"
	"sync"

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
type watchSet struct {
	mu      sync.RWMutex
	scripts map[string]watched
	maxID   int64
}

func newWatchSet() *watchSet { return &watchSet{scripts: map[string]watched{}} }

func (w *watchSet) lookup(script []byte) (watched, bool) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	a, ok := w.scripts[string(script)]
	return a, ok
}

// coin is lookup as the coins matcher asks it: every address of ours,
// customer or change, hot or cold.
func (w *watchSet) coin(script []byte) (coins.Watched, bool) {
	a, ok := w.lookup(script)
	return coins.Watched{AddressID: a.addressID, WalletID: a.walletID}, ok
}

func (w *watchSet) size() int {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return len(w.scripts)
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
		w.scripts[string(script)] = a
		if a.addressID > w.maxID {
			w.maxID = a.addressID
		}
		n++
	}
	return n, rows.Err()
}
