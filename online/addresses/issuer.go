package addresses

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// Deriver derives a wallet's addresses; shared/hdkeys implements it.
type Deriver interface {
	// Derive returns the address and output script at branch (0 receive,
	// 1 change) and index.
	Derive(branch, index uint32) (Derived, error)
	// Descriptor identifies the key, stored with the wallet to notice a
	// configuration that silently switched keys.
	Descriptor() string
	// ScriptType is "p2wpkh" or "p2tr".
	ScriptType() string
}

// Derived is one derived address.
type Derived struct {
	Address string
	Script  []byte
	Path    string // full derivation path, e.g. m/84'/1'/0'/0/7
}

// Address is an address handed to an account.
type Address struct {
	Address    string    `json:"address"`
	Account    string    `json:"account"`
	Label      string    `json:"label,omitempty"`
	ScriptType string    `json:"script_type"`
	Path       string    `json:"derivation_path"`
	Index      uint32    `json:"index"`
	CreatedAt  time.Time `json:"created_at"`
}

// Wallet ids in the wallets table.
const (
	HotWallet  = 1
	ColdWallet = 2
)

// ErrKeyChanged is returned when the configured key differs from the one
// the database has addresses for.
var ErrKeyChanged = errors.New("the configured wallet key differs from the one recorded in the database")

// Issuer hands out the hot wallet's addresses for one asset.
type Issuer struct {
	ledger *ledger.Ledger
	runner *store.Runner
	key    Deriver
	schema string
}

// NewIssuer registers the hot wallet's key (on first use) and returns an
// issuer. It refuses a key that differs from the one already registered.
func NewIssuer(ctx context.Context, l *ledger.Ledger, key Deriver) (*Issuer, error) {
	i := &Issuer{ledger: l, runner: l.Runner(), key: key, schema: pgx.Identifier{l.Asset()}.Sanitize()}
	err := i.runner.InTx(ctx, "register-hot-wallet", func(tx *store.Tx) error {
		var stored string
		err := tx.QueryRow(`SELECT descriptor FROM `+i.schema+`.wallets WHERE id = $1`, HotWallet).Scan(&stored)
		if errors.Is(err, pgx.ErrNoRows) {
			_, err = tx.Exec(`INSERT INTO `+i.schema+`.wallets (id, name, descriptor, script_type) VALUES ($1, 'hot', $2, $3)`,
				HotWallet, key.Descriptor(), key.ScriptType())
			return err
		}
		if err != nil {
			return err
		}
		if stored != key.Descriptor() {
			return fmt.Errorf("%w: %s has addresses from %s, the configuration names %s; restore the original hot_wallet_descriptor (a new key needs a new asset schema)",
				ErrKeyChanged, l.Asset(), stored, key.Descriptor())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return i, nil
}

// NewAddressTx hands the next receive address to a customer account inside
// the caller's transaction.
func (i *Issuer) NewAddressTx(tx *store.Tx, account, label string) (Address, error) {
	out, err := i.newAddresses(tx, account, label, 1)
	if err != nil {
		return Address{}, err
	}
	return out[0], nil
}

// NewAddresses hands n receive addresses to a customer account in one
// transaction.
func (i *Issuer) NewAddresses(ctx context.Context, account, label string, n int) ([]Address, error) {
	if n < 1 || n > 10_000 {
		return nil, fmt.Errorf("address count %d: use 1 to 10000", n)
	}
	var out []Address
	err := i.runner.InTx(ctx, "new-addresses", func(tx *store.Tx) error {
		var err error
		out, err = i.newAddresses(tx, account, label, n)
		return err
	})
	return out, err
}

func (i *Issuer) newAddresses(tx *store.Tx, account, label string, n int) ([]Address, error) {
	if len(label) > 200 {
		return nil, errors.New("label longer than 200 characters")
	}
	var accountID int64
	var kind string
	err := tx.QueryRow(`SELECT id, kind FROM `+i.schema+`.accounts WHERE name = $1`, account).Scan(&accountID, &kind)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: %q", ledger.ErrUnknownAccount, account)
	}
	if err != nil {
		return nil, err
	}
	if kind != ledger.Customer {
		return nil, fmt.Errorf("%w: receive addresses belong to customer accounts", ledger.ErrInternalAccount)
	}
	var first int64
	if err := tx.QueryRow(`UPDATE `+i.schema+`.wallets SET next_receive = next_receive + $2 WHERE id = $1 RETURNING next_receive - $2`,
		HotWallet, n).Scan(&first); err != nil {
		return nil, fmt.Errorf("allocating address index: %w", err)
	}
	out := make([]Address, n)
	addrs := make([]string, n)
	scripts := make([][]byte, n)
	idxs := make([]int64, n)
	for k := 0; k < n; k++ {
		idx := uint32(first) + uint32(k)
		d, err := i.key.Derive(0, idx)
		if err != nil {
			return nil, err
		}
		out[k] = Address{Address: d.Address, Account: account, Label: label, ScriptType: i.key.ScriptType(), Path: d.Path, Index: idx}
		addrs[k], scripts[k], idxs[k] = d.Address, d.Script, int64(idx)
	}
	var labelArg any
	if label != "" {
		labelArg = label
	}
	rows, err := tx.Query(`INSERT INTO `+i.schema+`.addresses (wallet_id, branch, idx, address, script, account_id, label)
		SELECT $1, 0, x.idx, x.address, x.script, $2, $3 FROM unnest($4::bigint[], $5::text[], $6::bytea[]) AS x(idx, address, script)
		RETURNING created_at`, HotWallet, accountID, labelArg, idxs, addrs, scripts)
	if err != nil {
		return nil, err
	}
	k := 0
	for rows.Next() {
		if err := rows.Scan(&out[k].CreatedAt); err != nil {
			rows.Close()
			return nil, err
		}
		k++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("storing addresses: %w", err)
	}
	return out, nil
}

// List returns the addresses handed to an account, newest first.
func (i *Issuer) List(ctx context.Context, account string, limit int) ([]Address, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := i.runner.Pool().Query(ctx, `SELECT ad.address, a.name, coalesce(ad.label, ''), ad.idx, ad.created_at
		FROM `+i.schema+`.addresses ad JOIN `+i.schema+`.accounts a ON a.id = ad.account_id
		WHERE a.name = $1 ORDER BY ad.id DESC LIMIT $2`, account, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Address, error) {
		var a Address
		err := r.Scan(&a.Address, &a.Account, &a.Label, &a.Index, &a.CreatedAt)
		a.ScriptType = i.key.ScriptType()
		return a, err
	})
}

// Change is a hot change address taken for one transaction.
type Change struct {
	ID     int64
	Index  uint32
	Script []byte
	Derived
}

// NewChangeTx takes the hot wallet's next change address (branch 1) inside
// the caller's transaction and stores it, so the follower sees the change
// output as a coin of ours. No change address is ever used twice.
func (i *Issuer) NewChangeTx(tx *store.Tx) (Change, error) {
	var idx int64
	if err := tx.QueryRow(`UPDATE `+i.schema+`.wallets SET next_change = next_change + 1 WHERE id = $1 RETURNING next_change - 1`,
		HotWallet).Scan(&idx); err != nil {
		return Change{}, fmt.Errorf("allocating a change index: %w", err)
	}
	d, err := i.key.Derive(1, uint32(idx))
	if err != nil {
		return Change{}, err
	}
	c := Change{Index: uint32(idx), Script: d.Script, Derived: d}
	if err := tx.QueryRow(`INSERT INTO `+i.schema+`.addresses (wallet_id, branch, idx, address, script) VALUES ($1, 1, $2, $3, $4) RETURNING id`,
		HotWallet, idx, d.Address, d.Script).Scan(&c.ID); err != nil {
		return Change{}, fmt.Errorf("storing change address: %w", err)
	}
	return c, nil
}
