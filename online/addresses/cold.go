package addresses

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/store"
	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
)

// DefaultColdGap is how many unused addresses of each cold branch are kept
// stored ahead, so the follower sees a deposit to any of them.
const DefaultColdGap = 20

// Cold is the watch-only cold wallet of one asset: its account-level public
// key, and its addresses stored ahead of use. The private key never leaves
// the air-gapped signer.
type Cold struct {
	ledger *ledger.Ledger
	runner *store.Runner
	key    Deriver
	gap    int
	schema string
}

// NewCold registers the cold wallet's key (wallets row 2, on first use),
// refusing one that differs from the key already registered or that is the
// hot wallet's, and stores the address window (Extend). gap < 1 means
// DefaultColdGap.
func NewCold(ctx context.Context, l *ledger.Ledger, key Deriver, gap int) (*Cold, error) {
	if key == nil {
		return nil, errors.New("cold wallet: no key")
	}
	if gap < 1 {
		gap = DefaultColdGap
	}
	c := &Cold{ledger: l, runner: l.Runner(), key: key, gap: gap, schema: pgx.Identifier{l.Asset()}.Sanitize()}
	err := c.runner.InTx(ctx, "register-cold-wallet", func(tx *store.Tx) error {
		var hot string
		err := tx.QueryRow(`SELECT descriptor FROM `+c.schema+`.wallets WHERE id = $1`, HotWallet).Scan(&hot)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if hot == key.Descriptor() {
			return fmt.Errorf("%s: cold_wallet_descriptor is the hot wallet's key; the cold wallet needs its own key, held only by the air-gapped signer", l.Asset())
		}
		var stored string
		err = tx.QueryRow(`SELECT descriptor FROM `+c.schema+`.wallets WHERE id = $1`, ColdWallet).Scan(&stored)
		if errors.Is(err, pgx.ErrNoRows) {
			_, err = tx.Exec(`INSERT INTO `+c.schema+`.wallets (id, name, descriptor, script_type) VALUES ($1, 'cold', $2, $3)`,
				ColdWallet, key.Descriptor(), key.ScriptType())
			return err
		}
		if err != nil {
			return err
		}
		if stored != key.Descriptor() {
			return fmt.Errorf("%w: %s's cold wallet has addresses from %s, the configuration names %s; restore the original cold_wallet_descriptor (a new cold key needs a new asset schema)",
				ErrKeyChanged, l.Asset(), stored, key.Descriptor())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := c.Extend(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Key is the cold wallet's public key.
func (c *Cold) Key() Deriver { return c.key }

// Account is the cold account key in shared/hdkeys' form, for the key
// origins of a top-up's inputs and change; nil for a Deriver of another kind.
func (c *Cold) Account() *hdkeys.AccountKey {
	if k, ok := c.key.(interface{ Account() *hdkeys.AccountKey }); ok {
		return k.Account()
	}
	return nil
}

// Account is the parsed key the adapter wraps.
func (k *AccountKey) Account() *hdkeys.AccountKey { return k.key }

// Gap is the number of unused addresses kept ahead on each branch.
func (c *Cold) Gap() int { return c.gap }

func nextColumn(branch uint32) (string, error) {
	switch branch {
	case 0:
		return "next_receive", nil
	case 1:
		return "next_change", nil
	}
	return "", fmt.Errorf("cold wallet: branch %d: use 0 (receive) or 1 (change)", branch)
}

// used is the SQL for the first index of branch $2 past every address of
// wallet $1 that ever held a coin.
func (c *Cold) usedSQL() string {
	return `(SELECT coalesce(max(a.idx) + 1, 0) FROM ` + c.schema + `.coins co JOIN ` + c.schema + `.addresses a ON a.id = co.address_id
		WHERE a.wallet_id = $1 AND a.branch = $2)`
}

// NextTx takes the next unused address of branch (0 receive, 1 change)
// inside the caller's transaction: never one that was taken before or that
// already holds a coin (a deposit made by hand to a shown address). The
// stored window moves along with it.
func (c *Cold) NextTx(tx *store.Tx, branch uint32) (Change, error) {
	col, err := nextColumn(branch)
	if err != nil {
		return Change{}, err
	}
	var idx int64
	if err := tx.QueryRow(`UPDATE `+c.schema+`.wallets SET `+col+` = greatest(`+col+`, `+c.usedSQL()+`) + 1 WHERE id = $1 RETURNING `+col+` - 1`,
		ColdWallet, int(branch)).Scan(&idx); err != nil {
		return Change{}, fmt.Errorf("allocating a cold address index: %w", err)
	}
	d, err := c.key.Derive(branch, uint32(idx))
	if err != nil {
		return Change{}, err
	}
	if err := c.fill(tx, branch, idx+1+int64(c.gap)); err != nil {
		return Change{}, err
	}
	ch := Change{Index: uint32(idx), Script: d.Script, Derived: d}
	if err := tx.QueryRow(`SELECT id FROM `+c.schema+`.addresses WHERE wallet_id = $1 AND branch = $2 AND idx = $3`,
		ColdWallet, int(branch), idx).Scan(&ch.ID); err != nil {
		return Change{}, fmt.Errorf("cold address %d/%d: %w", branch, idx, err)
	}
	return ch, nil
}

// Peek is the address NextTx(branch) would take now, without taking it:
// for a deposit to cold storage made by hand.
func (c *Cold) Peek(ctx context.Context, branch uint32) (Change, error) {
	col, err := nextColumn(branch)
	if err != nil {
		return Change{}, err
	}
	var idx, id int64
	err = c.runner.InTx(ctx, "cold-peek", func(tx *store.Tx) error {
		if err := tx.QueryRow(`SELECT greatest(`+col+`, `+c.usedSQL()+`) FROM `+c.schema+`.wallets WHERE id = $1`,
			ColdWallet, int(branch)).Scan(&idx); err != nil {
			return err
		}
		if err := c.fill(tx, branch, idx+1+int64(c.gap)); err != nil {
			return err
		}
		return tx.QueryRow(`SELECT id FROM `+c.schema+`.addresses WHERE wallet_id = $1 AND branch = $2 AND idx = $3`,
			ColdWallet, int(branch), idx).Scan(&id)
	})
	if err != nil {
		return Change{}, err
	}
	d, err := c.key.Derive(branch, uint32(idx))
	if err != nil {
		return Change{}, err
	}
	return Change{ID: id, Index: uint32(idx), Script: d.Script, Derived: d}, nil
}

// Extend stores, on each branch, every address below max(next index,
// highest index holding a coin + 1) + gap, and moves the next index past
// the addresses that hold coins: after a deposit near the end of the
// window, the follower watches gap more addresses beyond it.
func (c *Cold) Extend(ctx context.Context) error {
	return c.runner.InTx(ctx, "cold-extend", func(tx *store.Tx) error {
		for branch := uint32(0); branch <= 1; branch++ {
			col, _ := nextColumn(branch)
			// Written only when a coin arrived past the next index: the
			// keeper extends every few seconds and most rounds change nothing.
			if _, err := tx.Exec(`UPDATE `+c.schema+`.wallets SET `+col+` = `+c.usedSQL()+` WHERE id = $1 AND `+col+` < `+c.usedSQL(),
				ColdWallet, int(branch)); err != nil {
				return err
			}
			var next int64
			if err := tx.QueryRow(`SELECT `+col+` FROM `+c.schema+`.wallets WHERE id = $1`, ColdWallet).Scan(&next); err != nil {
				return fmt.Errorf("the cold wallet is not registered: %w", err)
			}
			if err := c.fill(tx, branch, next+int64(c.gap)); err != nil {
				return err
			}
		}
		return nil
	})
}

// fill stores the addresses of branch below end that are not stored yet.
func (c *Cold) fill(tx *store.Tx, branch uint32, end int64) error {
	var have int64
	if err := tx.QueryRow(`SELECT coalesce(max(idx) + 1, 0) FROM `+c.schema+`.addresses WHERE wallet_id = $1 AND branch = $2`,
		ColdWallet, int(branch)).Scan(&have); err != nil {
		return err
	}
	if have >= end {
		return nil
	}
	n := end - have
	idxs, addrs, scripts := make([]int64, 0, n), make([]string, 0, n), make([][]byte, 0, n)
	for i := have; i < end; i++ {
		d, err := c.key.Derive(branch, uint32(i))
		if err != nil {
			return err
		}
		idxs, addrs, scripts = append(idxs, i), append(addrs, d.Address), append(scripts, d.Script)
	}
	if _, err := tx.Exec(`INSERT INTO `+c.schema+`.addresses (wallet_id, branch, idx, address, script)
		SELECT $1, $2, x.idx, x.address, x.script FROM unnest($3::bigint[], $4::text[], $5::bytea[]) AS x(idx, address, script)
		ON CONFLICT (wallet_id, branch, idx) DO NOTHING`, ColdWallet, int(branch), idxs, addrs, scripts); err != nil {
		return fmt.Errorf("storing cold addresses: %w", err)
	}
	return nil
}

// Key is the hot wallet's public key.
func (i *Issuer) Key() Deriver { return i.key }
