package deposits

import (
	"errors"
	"strconv"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/events"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// Deposit states.
const (
	Seen      = "seen"
	Confirmed = "confirmed"
	Credited  = "credited"
	Reorged   = "reorged"
	Replaced  = "replaced"
	Expired   = "expired"
)

// EventDepositExpired reports a seen deposit that left the mempool, is in no
// block and was not replaced, for longer than the asset's seen_expiry.
const EventDepositExpired = "deposit.expired"

// row is a deposit as the state machine needs it.
type row struct {
	id            int64
	txid          chainhash.Hash
	vout          uint32
	accountID     int64
	account       string
	address       string
	amount        int64
	state         string
	height        *int32
	confirmations int32
	loss          int64
	coinbase      bool
}

const rowColumns = `d.id, d.txid, d.vout, d.account_id, a.name, ad.address, d.amount, d.state, d.block_height, d.confirmations, d.loss, d.coinbase`

func (f *Follower) rowsFrom() string {
	return f.schema + `.deposits d JOIN ` + f.schema + `.accounts a ON a.id = d.account_id JOIN ` + f.schema + `.addresses ad ON ad.id = d.address_id`
}

// deposits returns the deposits matching where (a condition on d.*), in id order.
func (f *Follower) deposits(tx *store.Tx, where string, args ...any) ([]row, error) {
	rows, err := tx.Query(`SELECT `+rowColumns+` FROM `+f.rowsFrom()+` WHERE `+where+` ORDER BY d.id`, args...)
	if err != nil {
		return nil, err
	}
	return scanRows(rows)
}

func scanRows(rows pgx.Rows) ([]row, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var d row
		var txid []byte
		err := r.Scan(&d.id, &txid, &d.vout, &d.accountID, &d.account, &d.address, &d.amount, &d.state, &d.height, &d.confirmations, &d.loss, &d.coinbase)
		copy(d.txid[:], txid)
		return d, err
	})
}

// emit writes the event reporting d's new state.
func (f *Follower) emit(tx *store.Tx, typ string, d row, extra map[string]any) error {
	_, err := events.Emit(tx, f.ledger.Asset(), typ, payload(d, extra))
	return err
}

// payload is the body of an event reporting d's state.
func payload(d row, extra map[string]any) map[string]any {
	p := map[string]any{
		"account":       d.account,
		"address":       d.address,
		"txid":          d.txid.String(),
		"vout":          d.vout,
		"amount_sat":    strconv.FormatInt(d.amount, 10),
		"confirmations": d.confirmations,
		"credited":      d.state == Credited,
		"state":         d.state,
	}
	for k, v := range extra {
		p[k] = v
	}
	return p
}

// post writes one ledger transaction between the customer and internal
// accounts. avail and pend are the customer's deltas; hot wallet takes the
// opposite, except for the part of avail that losses covers.
func (f *Follower) post(tx *store.Tx, kind string, d row, custAvail, custPend, losses int64) error {
	hot, _, err := f.ledger.Internal(tx, ledger.HotWallet)
	if err != nil {
		return err
	}
	postings := []ledger.Posting{}
	if custAvail != 0 || custPend != 0 {
		postings = append(postings, ledger.Posting{AccountID: d.accountID, Available: custAvail, Pending: custPend})
	}
	if losses != 0 {
		lossAcct, _, err := f.ledger.Internal(tx, ledger.ReorgLosses)
		if err != nil {
			return err
		}
		postings = append(postings, ledger.Posting{AccountID: lossAcct, Available: losses})
	}
	if hotAvail, hotPend := -(custAvail + losses), -custPend; hotAvail != 0 || hotPend != 0 {
		postings = append(postings, ledger.Posting{AccountID: hot, Available: hotAvail, Pending: hotPend})
	}
	_, err = f.ledger.PostTx(tx, kind, d.txid.String()+":"+strconv.Itoa(int(d.vout)), postings)
	return err
}

func (f *Follower) depositByOutpoint(tx *store.Tx, txid chainhash.Hash, vout uint32) (row, bool, error) {
	rs, err := f.deposits(tx, `d.txid = $1 AND d.vout = $2`, txid[:], vout)
	if err != nil || len(rs) == 0 {
		return row{}, false, err
	}
	return rs[0], true, nil
}

func (f *Follower) insertDeposit(tx *store.Tx, m match, state string, block *chainhash.Hash, height *int32) (row, error) {
	var blockBytes []byte
	if block != nil {
		blockBytes = block[:]
	}
	// The new row with its account's name and its address, as the state
	// machine needs it, in the insert's round trip.
	rows, err := tx.Query(`WITH d AS (INSERT INTO `+f.schema+`.deposits (txid, vout, address_id, account_id, amount, state, block_hash, block_height, confirmations, spends, coinbase)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *)
		SELECT `+rowColumns+` FROM d JOIN `+f.schema+`.accounts a ON a.id = d.account_id JOIN `+f.schema+`.addresses ad ON ad.id = d.address_id`,
		m.txid[:], m.vout, m.addr.addressID, m.addr.accountID, m.amount, state, blockBytes, height, boolInt(height != nil), m.spends, m.coinbase)
	if err != nil {
		return row{}, err
	}
	rs, err := scanRows(rows)
	if err == nil && len(rs) != 1 {
		err = errors.New("deposit insert returned no row")
	}
	if err != nil {
		return row{}, err
	}
	return rs[0], nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (f *Follower) setState(tx *store.Tx, d *row, state string, block *chainhash.Hash, height *int32, confirmations int32) error {
	var blockBytes []byte
	if block != nil {
		blockBytes = block[:]
	}
	d.state, d.height, d.confirmations = state, height, confirmations
	_, err := tx.Exec(`UPDATE `+f.schema+`.deposits SET state = $2, block_hash = $3, block_height = $4, confirmations = $5, loss = $6, missing_since = NULL, updated_at = now() WHERE id = $1`,
		d.id, state, blockBytes, height, confirmations, d.loss)
	return err
}

// recordSeen records an unconfirmed deposit found in the mempool.
func (f *Follower) recordSeen(tx *store.Tx, m match) error {
	d, ok, err := f.depositByOutpoint(tx, m.txid, m.vout)
	if err != nil {
		return err
	}
	switch {
	case !ok:
		if d, err = f.insertDeposit(tx, m, Seen, nil, nil); err != nil {
			return err
		}
		if err := f.post(tx, "deposit.seen", d, 0, d.amount, 0); err != nil {
			return err
		}
		return f.emit(tx, events.DepositSeen, d, nil)
	case d.state == Reorged || d.state == Expired:
		// Back in the mempool: pending again. (A replaced deposit stays
		// replaced until its own transaction confirms: a node may keep a
		// transaction whose conflict already confirmed.)
		if err := f.setState(tx, &d, Seen, nil, nil, 0); err != nil {
			return err
		}
		if err := f.post(tx, "deposit.seen", d, 0, d.amount, 0); err != nil {
			return err
		}
		return f.emit(tx, events.DepositSeen, d, nil)
	}
	return nil
}

// recordConfirmed records a deposit found in block hash at height.
func (f *Follower) recordConfirmed(tx *store.Tx, m match, hash chainhash.Hash, height int32) error {
	d, ok, err := f.depositByOutpoint(tx, m.txid, m.vout)
	if err != nil {
		return err
	}
	h := height
	switch {
	case !ok:
		if d, err = f.insertDeposit(tx, m, Confirmed, &hash, &h); err != nil {
			return err
		}
		if err := f.post(tx, "deposit.seen", d, 0, d.amount, 0); err != nil {
			return err
		}
		if err := f.emit(tx, events.DepositSeen, d, nil); err != nil {
			return err
		}
	case d.state == Seen:
		if err := f.setState(tx, &d, Confirmed, &hash, &h, 1); err != nil {
			return err
		}
	case d.state == Reorged || d.state == Replaced || d.state == Expired:
		if err := f.setState(tx, &d, Confirmed, &hash, &h, 1); err != nil {
			return err
		}
		if err := f.post(tx, "deposit.seen", d, 0, d.amount, 0); err != nil {
			return err
		}
	default:
		// Already confirmed in this block (a rescan): nothing to do.
		return nil
	}
	return f.emit(tx, events.DepositConfirmations, d, map[string]any{"block_hash": hash.String(), "block_height": height})
}

// updateConfirmations recomputes the confirmations of every confirmed
// deposit against the new tip height, and credits those that reached the
// threshold. Because it recomputes from stored heights, a missed update is
// repaired by the next block. Only deposits whose block (height and hash) is
// the one stored at that height in the best chain count: a deposit recorded
// in a block that left the chain is never credited.
func (f *Follower) updateConfirmations(tx *store.Tx, tip int32) error {
	open, err := f.deposits(tx, `d.state = 'confirmed' AND EXISTS (SELECT 1 FROM `+f.schema+`.chain_blocks b
		WHERE b.height = d.block_height AND b.hash = d.block_hash)`)
	if err != nil {
		return err
	}
	for _, d := range open {
		conf := tip - *d.height + 1
		need := int32(f.cfg.Confirmations)
		if d.coinbase {
			need = max(need, coinbaseMaturity)
		}
		if conf >= need {
			if err := f.credit(tx, d, conf); err != nil {
				return err
			}
			continue
		}
		if conf != d.confirmations {
			d.confirmations = conf
			if _, err := tx.Exec(`UPDATE `+f.schema+`.deposits SET confirmations = $2, updated_at = now() WHERE id = $1`, d.id, conf); err != nil {
				return err
			}
			if err := f.emit(tx, events.DepositConfirmations, d, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// credit moves a deposit from pending to available, repaying the losses
// account first if an earlier reversal charged it.
func (f *Follower) credit(tx *store.Tx, d row, conf int32) error {
	toCustomer := d.amount - d.loss
	if err := f.post(tx, "deposit.credit", d, toCustomer, -d.amount, d.loss); err != nil {
		return err
	}
	d.loss = 0
	d.state, d.confirmations = Credited, conf
	if _, err := tx.Exec(`UPDATE `+f.schema+`.deposits SET state = 'credited', confirmations = $2, loss = 0, updated_at = now() WHERE id = $1`, d.id, conf); err != nil {
		return err
	}
	return f.emit(tx, events.DepositCredited, d, nil)
}

// unconfirmBlock handles the deposits of a block leaving the best chain.
func (f *Follower) unconfirmBlock(tx *store.Tx, hash chainhash.Hash, inMempool map[chainhash.Hash]bool) error {
	ds, err := f.deposits(tx, `d.block_hash = $1`, hash[:])
	if err != nil {
		return err
	}
	for _, d := range ds {
		wasCredited := d.state == Credited
		next := Reorged
		pend := int64(0) // the customer's pending change
		if inMempool[d.txid] {
			next = Seen
		} else {
			pend = -d.amount
		}
		extra := map[string]any{"reorged_block": hash.String(), "was_credited": wasCredited}
		if wasCredited {
			// Take back what the customer has available; charge the rest
			// to the reorg-losses account. The pending part comes back.
			var available int64
			if err := tx.QueryRow(`SELECT available FROM `+f.schema+`.balances WHERE account_id = $1 AND slot = 0`, d.accountID).Scan(&available); err != nil {
				return err
			}
			take := min(d.amount, available)
			d.loss = d.amount - take
			if err := f.post(tx, "deposit.reversal", d, -take, d.amount+pend, -d.loss); err != nil {
				return err
			}
			extra["alert"] = "a credited deposit was reversed by a chain reorganisation"
			extra["reversed_from_customer_sat"] = strconv.FormatInt(take, 10)
			extra["charged_to_reorg_losses_sat"] = strconv.FormatInt(d.loss, 10)
		} else if pend != 0 {
			if err := f.post(tx, "deposit.reorged", d, 0, pend, 0); err != nil {
				return err
			}
		}
		if err := f.setState(tx, &d, next, nil, nil, 0); err != nil {
			return err
		}
		if err := f.emit(tx, events.DepositReorged, d, extra); err != nil {
			return err
		}
	}
	return nil
}

// markReplaced records that every unconfirmed deposit of txid lost to the
// conflicting transaction by (nil when only the spent input is known).
func (f *Follower) markReplaced(tx *store.Tx, txid chainhash.Hash, by *chainhash.Hash) error {
	ds, err := f.deposits(tx, `d.txid = $1 AND d.state = 'seen'`, txid[:])
	if err != nil {
		return err
	}
	for _, d := range ds {
		if err := f.post(tx, "deposit.replaced", d, 0, -d.amount, 0); err != nil {
			return err
		}
		if err := f.setState(tx, &d, Replaced, nil, nil, 0); err != nil {
			return err
		}
		extra := map[string]any{"replaced_by": nil}
		if by != nil {
			if _, err := tx.Exec(`UPDATE `+f.schema+`.deposits SET replaced_by = $2 WHERE id = $1`, d.id, by[:]); err != nil {
				return err
			}
			extra["replaced_by"] = by.String()
		}
		if err := f.emit(tx, events.DepositReplaced, d, extra); err != nil {
			return err
		}
	}
	return nil
}

// markExpired resolves the seen deposits of txid that stayed missing from
// the mempool and from every block for longer than expiry: their pending
// amount is removed. Re-checked here, inside the transaction.
func (f *Follower) markExpired(tx *store.Tx, txid chainhash.Hash, expiry time.Duration) error {
	ds, err := f.deposits(tx, `d.txid = $1 AND d.state = 'seen' AND d.missing_since <= now() - make_interval(secs => $2)`, txid[:], expiry.Seconds())
	if err != nil {
		return err
	}
	for _, d := range ds {
		if err := f.post(tx, "deposit.expired", d, 0, -d.amount, 0); err != nil {
			return err
		}
		if err := f.setState(tx, &d, Expired, nil, nil, 0); err != nil {
			return err
		}
		if err := f.emit(tx, EventDepositExpired, d, map[string]any{"expired_after": expiry.String()}); err != nil {
			return err
		}
	}
	return nil
}
