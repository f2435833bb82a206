package ledger

import (
	"fmt"
	"math/rand/v2"
	"sync/atomic"

	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/store"
)

// internalAccount is one internal account as the migrations created it.
type internalAccount struct {
	id    int64
	slots int
	// next hands out the account's slots in turn, from a random start, so
	// postings begun one after another in this process use different rows:
	// two of them share a row only when as many postings as there are slots
	// began while the first was still running. (Random choice would put two
	// of 32 concurrent postings on one of 256 rows about one time in nine.)
	next atomic.Uint32
}

func (a *internalAccount) slot() int16 {
	if a.slots <= 1 {
		return 0
	}
	return int16(a.next.Add(1) % uint32(a.slots))
}

// internalAccounts are every internal account by kind and by id. They are
// created by the migrations and never change, so they are read once.
type internalAccounts struct {
	byKind map[string]*internalAccount
	byID   map[int64]*internalAccount
}

// internals returns the internal accounts, reading them on first use.
func (l *Ledger) internals(tx *store.Tx) (*internalAccounts, error) {
	if ia := l.internal.Load(); ia != nil {
		return ia, nil
	}
	return l.readInternals(tx)
}

func (l *Ledger) readInternals(tx *store.Tx) (*internalAccounts, error) {
	rows, err := tx.Query(l.q.internalAccounts)
	if err != nil {
		return nil, err
	}
	ia := &internalAccounts{byKind: map[string]*internalAccount{}, byID: map[int64]*internalAccount{}}
	var id int64
	var kind string
	var slots int
	if _, err := pgx.ForEachRow(rows, []any{&id, &kind, &slots}, func() error {
		a := &internalAccount{id: id, slots: slots}
		a.next.Store(rand.Uint32())
		ia.byKind[kind], ia.byID[id] = a, a
		return nil
	}); err != nil {
		return nil, err
	}
	l.internal.Store(ia)
	return ia, nil
}

func (l *Ledger) internalAccount(tx *store.Tx, kind string) (*internalAccount, error) {
	ia, err := l.internals(tx)
	if err != nil {
		return nil, err
	}
	a, ok := ia.byKind[kind]
	if !ok && kind != Customer {
		// Not there when first read (a migration ran since): read again.
		if ia, err = l.readInternals(tx); err != nil {
			return nil, err
		}
		a, ok = ia.byKind[kind]
	}
	if !ok {
		return nil, fmt.Errorf("%w: no internal account of kind %q (run migrate)", ErrUnknownAccount, kind)
	}
	return a, nil
}

// Internal returns the id and slot count of an internal account.
func (l *Ledger) Internal(tx *store.Tx, kind string) (id int64, slots int, err error) {
	a, err := l.internalAccount(tx, kind)
	if err != nil {
		return 0, 0, err
	}
	return a.id, a.slots, nil
}

// InternalSlot returns the id of an internal account and the balance row
// (slot) the caller's posting should use, for callers that post through
// PostingSQL. PostTx chooses slots itself.
func (l *Ledger) InternalSlot(tx *store.Tx, kind string) (id int64, slot int16, err error) {
	a, err := l.internalAccount(tx, kind)
	if err != nil {
		return 0, 0, err
	}
	return a.id, a.slot(), nil
}

// slotFor is the slot a posting to account id uses: the next in turn for an
// internal account, 0 for a customer (one balance row each). An id that is
// no account at all has no balance row at slot 0, and the posting trigger
// refuses it.
func (ia *internalAccounts) slotFor(id int64) int16 {
	if a, ok := ia.byID[id]; ok {
		return a.slot()
	}
	return 0
}
