package deposits

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/coins"
	"github.com/cryptoassets/cryptoassets/online/events"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// fetched is a block read from the node at a height, and what it pays to
// the watched addresses once matched (txids set).
type fetched struct {
	height int32
	hash   chainhash.Hash
	blk    *wire.MsgBlock
	matching
}

// matching is what transactions pay and spend of ours, as the deposits and
// the coins see it.
type matching struct {
	txids []chainhash.Hash // each transaction's, in order
	c     changes
	cm    coins.Matched
}

// matchAll matches txs for deposits and coins with one look into the watch
// set per output (nearly every output misses, and a miss in a large set is
// a cache miss) and each transaction hashed once. withSpent also collects
// every outpoint they spend, for the replacement check (see mempoolState).
func (f *Follower) matchAll(txs []*wire.MsgTx, withSpent bool) matching {
	hits := f.watch.hits(txs)
	txids := coins.Txids(txs)
	return matching{
		txids: txids,
		c:     matchTxs(txs, txids, hits.lookup, f.rules(), withSpent),
		cm:    coins.MatchHashed(txs, txids, hits.coin),
	}
}

func (b *fetched) matched() bool { return b.txids != nil }

// blockWork is what one block of a connect implies.
type blockWork struct {
	fetched
	// replaced maps each tracked deposit transaction the block conflicts
	// with to the transaction that won.
	replaced map[chainhash.Hash]chainhash.Hash
}

// simDep is a deposit as a connect's state machine moves it, in memory, so
// that the blocks of one transaction are written with one statement per
// kind of row, whatever the number of deposits and blocks.
type simDep struct {
	row
	m       match // what the block said (for a new row)
	isNew   bool
	changed bool
	onChain bool // confirmed in a block stored at its height (see updateConfirmations)
	// setBlock: block, height and missing_since are written (setState);
	// otherwise they are kept.
	setBlock   bool
	block      *chainhash.Hash
	replacedBy *chainhash.Hash
}

// blockWrites is what a connect writes after its reads: postings and events
// in the order the per-row state machine would have written them.
type blockWrites struct {
	f     *Follower
	tx    *store.Tx
	deps  map[wire.OutPoint]*simDep
	order []*simDep // existing rows by id, then new rows as found
	// postings: one ledger transaction per (kind, memo), its entries
	// numbered by the transaction's index.
	txKinds, txMemos       []string
	entTx                  []int32
	entAccount             []int64
	entSlot                []int16
	entAvail, entPend      []int64
	evTypes, evPayloads    []string
	accountNames           map[int64]string
	slots                  map[string]internalSlot
	credited, newDeposits  int
	confirmationsRecounted int
}

func (w *blockWrites) add(d *simDep) {
	key := wire.OutPoint{Hash: d.txid, Index: d.vout}
	if _, ok := w.deps[key]; ok {
		return
	}
	w.deps[key] = d
	w.order = append(w.order, d)
}

// internal is the internal account of kind and the one balance row (slot)
// every posting of this transaction uses: the trigger sums a statement's
// entries per row, so one row is one update however many postings there
// are; the slots spread concurrent transactions, not the postings of one.
func (w *blockWrites) internal(kind string) (id int64, slot int16, err error) {
	if s, ok := w.slots[kind]; ok {
		return s.id, s.slot, nil
	}
	id, slot, err = w.f.ledger.InternalSlot(w.tx, kind)
	if err == nil {
		w.slots[kind] = internalSlot{id, slot}
	}
	return id, slot, err
}

type internalSlot struct {
	id   int64
	slot int16
}

// post is Follower.post as rows of the connect's one posting statement.
func (w *blockWrites) post(kind string, d *simDep, custAvail, custPend, losses int64) error {
	hot, hotSlot, err := w.internal(ledger.HotWallet)
	if err != nil {
		return err
	}
	n := int32(len(w.txKinds))
	entry := func(account int64, slot int16, avail, pend int64) {
		w.entTx, w.entAccount, w.entSlot = append(w.entTx, n), append(w.entAccount, account), append(w.entSlot, slot)
		w.entAvail, w.entPend = append(w.entAvail, avail), append(w.entPend, pend)
	}
	if custAvail != 0 || custPend != 0 {
		entry(d.accountID, 0, custAvail, custPend)
	}
	if losses != 0 {
		lossAcct, lossSlot, err := w.internal(ledger.ReorgLosses)
		if err != nil {
			return err
		}
		entry(lossAcct, lossSlot, losses, 0)
	}
	if hotAvail, hotPend := -(custAvail + losses), -custPend; hotAvail != 0 || hotPend != 0 {
		entry(hot, hotSlot, hotAvail, hotPend)
	}
	w.txKinds = append(w.txKinds, kind)
	w.txMemos = append(w.txMemos, d.txid.String()+":"+strconv.Itoa(int(d.vout)))
	return nil
}

func (w *blockWrites) emit(typ string, d *simDep, extra map[string]any) error {
	body, err := json.Marshal(payload(d.row, extra))
	if err != nil {
		return fmt.Errorf("event %s: %w", typ, err)
	}
	w.evTypes, w.evPayloads = append(w.evTypes, typ), append(w.evPayloads, string(body))
	return nil
}

// setState is Follower.setState on the in-memory row.
func (d *simDep) setState(state string, block *chainhash.Hash, height *int32, confirmations int32) {
	d.state, d.height, d.confirmations = state, height, confirmations
	d.block, d.setBlock, d.changed = block, true, true
}

// confirm is recordConfirmed: a deposit found in block hash at height.
func (w *blockWrites) confirm(m match, hash chainhash.Hash, height int32) error {
	d, ok := w.deps[wire.OutPoint{Hash: m.txid, Index: m.vout}]
	h := height
	block := hash
	switch {
	case !ok:
		name, known := w.accountNames[m.addr.accountID]
		if !known {
			return fmt.Errorf("deposit %s:%d: account %d not found", m.txid, m.vout, m.addr.accountID)
		}
		d = &simDep{row: row{txid: m.txid, vout: m.vout, accountID: m.addr.accountID, account: name, address: m.addr.address,
			amount: m.amount, state: Confirmed, height: &h, confirmations: 1, coinbase: m.coinbase},
			m: m, isNew: true, changed: true, onChain: true, setBlock: true, block: &block}
		w.add(d)
		w.newDeposits++
		if err := w.post("deposit.seen", d, 0, d.amount, 0); err != nil {
			return err
		}
		if err := w.emit(events.DepositSeen, d, nil); err != nil {
			return err
		}
	case d.state == Seen:
		d.setState(Confirmed, &block, &h, 1)
		d.onChain = true
	case d.state == Reorged || d.state == Replaced || d.state == Expired:
		d.setState(Confirmed, &block, &h, 1)
		d.onChain = true
		if err := w.post("deposit.seen", d, 0, d.amount, 0); err != nil {
			return err
		}
	default:
		// Already confirmed in this block (a rescan): nothing to do.
		return nil
	}
	return w.emit(events.DepositConfirmations, d, map[string]any{"block_hash": hash.String(), "block_height": height})
}

// replace is markReplaced for the conflict by.
func (w *blockWrites) replace(txid, by chainhash.Hash) error {
	for _, d := range w.order {
		if d.txid != txid || d.state != Seen {
			continue
		}
		if err := w.post("deposit.replaced", d, 0, -d.amount, 0); err != nil {
			return err
		}
		d.setState(Replaced, nil, nil, 0)
		by := by
		d.replacedBy = &by
		if err := w.emit(events.DepositReplaced, d, map[string]any{"replaced_by": by.String()}); err != nil {
			return err
		}
	}
	return nil
}

// recount is updateConfirmations at tip, over the rows in id order.
func (w *blockWrites) recount(tip int32) error {
	for _, d := range w.order {
		if d.state != Confirmed || !d.onChain {
			continue
		}
		conf := tip - *d.height + 1
		need := int32(w.f.cfg.Confirmations)
		if d.coinbase {
			need = max(need, coinbaseMaturity)
		}
		if conf >= need {
			if err := w.post("deposit.credit", d, d.amount-d.loss, -d.amount, d.loss); err != nil {
				return err
			}
			d.loss = 0
			d.state, d.confirmations, d.changed = Credited, conf, true
			w.credited++
			if err := w.emit(events.DepositCredited, d, nil); err != nil {
				return err
			}
			continue
		}
		if conf != d.confirmations {
			d.confirmations, d.changed = conf, true
			w.confirmationsRecounted++
			if err := w.emit(events.DepositConfirmations, d, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// readQueries queues the reads a connect's state machine starts from: the
// names of the accounts the blocks pay, the rows of the outpoints they pay,
// the seen rows of the transactions they replace, and every open confirmed
// deposit on the stored chain.
func (f *Follower) queueReads(b *pgx.Batch, work []blockWork) func(pgx.BatchResults, *blockWrites) error {
	var accounts []int64
	var txids [][]byte
	var vouts []int32
	var replaced [][]byte
	for _, bw := range work {
		for _, m := range bw.c.deposits {
			accounts = append(accounts, m.addr.accountID)
			txids, vouts = append(txids, m.txid[:]), append(vouts, int32(m.vout))
		}
		for id := range bw.replaced {
			replaced = append(replaced, id[:])
		}
	}
	if len(accounts) > 0 {
		slices.Sort(accounts)
		accounts = slices.Compact(accounts)
		b.Queue(`SELECT id, name FROM `+f.schema+`.accounts WHERE id = ANY($1::bigint[])`, accounts)
		b.Queue(`SELECT `+rowColumns+` FROM unnest($1::bytea[], $2::integer[]) AS u(txid, vout)
			JOIN `+f.schema+`.deposits d ON d.txid = u.txid AND d.vout = u.vout
			JOIN `+f.schema+`.accounts a ON a.id = d.account_id JOIN `+f.schema+`.addresses ad ON ad.id = d.address_id`, txids, vouts)
	}
	if len(replaced) > 0 {
		b.Queue(`SELECT `+rowColumns+` FROM `+f.rowsFrom()+` WHERE d.txid = ANY($1::bytea[]) AND d.state = 'seen'`, replaced)
	}
	b.Queue(`SELECT ` + rowColumns + ` FROM ` + f.rowsFrom() + ` WHERE d.state = 'confirmed' AND EXISTS (SELECT 1 FROM ` + f.schema + `.chain_blocks b
		WHERE b.height = d.block_height AND b.hash = d.block_hash)`)
	return func(br pgx.BatchResults, w *blockWrites) error {
		var existing []*simDep
		take := func(onChain bool) error {
			rows, err := br.Query()
			if err != nil {
				return err
			}
			rs, err := scanRows(rows)
			for _, r := range rs {
				existing = append(existing, &simDep{row: r, onChain: onChain})
			}
			return err
		}
		if len(accounts) > 0 {
			rows, err := br.Query()
			if err != nil {
				return err
			}
			var id int64
			var name string
			if _, err := pgx.ForEachRow(rows, []any{&id, &name}, func() error {
				w.accountNames[id] = name
				return nil
			}); err != nil {
				return err
			}
			if err := take(false); err != nil {
				return err
			}
		}
		if len(replaced) > 0 {
			if err := take(false); err != nil {
				return err
			}
		}
		if err := take(true); err != nil {
			return err
		}
		// One entry per row, by id (the order the per-row code reads them
		// in); a row read twice is on the chain if either read says so.
		sort.SliceStable(existing, func(i, j int) bool { return existing[i].id < existing[j].id })
		for _, d := range existing {
			if prev, ok := w.deps[wire.OutPoint{Hash: d.txid, Index: d.vout}]; ok {
				prev.onChain = prev.onChain || d.onChain
				continue
			}
			w.add(d)
		}
		return nil
	}
}

// queueWrites queues the rows the state machine changed: new deposits in
// one insert, changed ones in one update, every posting in one statement
// and every event in one statement.
func (w *blockWrites) queueWrites(b *pgx.Batch) (queued []string) {
	s := w.f.schema
	var ins, upd []*simDep
	for _, d := range w.order {
		switch {
		case d.isNew:
			ins = append(ins, d)
		case d.changed:
			upd = append(upd, d)
		}
	}
	if len(ins) > 0 {
		txids, blocks, spends, replacedBy := make([][]byte, len(ins)), make([][]byte, len(ins)), make([][]byte, len(ins)), make([][]byte, len(ins))
		vouts, heights, confs := make([]int32, len(ins)), make([]*int32, len(ins)), make([]int32, len(ins))
		addrs, accts, amounts := make([]int64, len(ins)), make([]int64, len(ins)), make([]int64, len(ins))
		states, coinbase := make([]string, len(ins)), make([]bool, len(ins))
		for i, d := range ins {
			txids[i], vouts[i], addrs[i], accts[i], amounts[i] = d.txid[:], int32(d.vout), d.m.addr.addressID, d.accountID, d.amount
			states[i], heights[i], confs[i], spends[i], coinbase[i] = d.state, d.height, d.confirmations, d.m.spends, d.coinbase
			if d.block != nil {
				blocks[i] = d.block[:]
			}
			if d.replacedBy != nil {
				replacedBy[i] = d.replacedBy[:]
			}
		}
		b.Queue(`INSERT INTO `+s+`.deposits (txid, vout, address_id, account_id, amount, state, block_hash, block_height, confirmations, spends, coinbase, replaced_by)
			SELECT u.txid, u.vout, u.address_id, u.account_id, u.amount, u.state, u.block_hash, u.block_height, u.confirmations, u.spends, u.coinbase, u.replaced_by
			FROM unnest($1::bytea[], $2::integer[], $3::bigint[], $4::bigint[], $5::bigint[], $6::text[], $7::bytea[], $8::integer[],
				$9::integer[], $10::bytea[], $11::boolean[], $12::bytea[]) WITH ORDINALITY
				AS u(txid, vout, address_id, account_id, amount, state, block_hash, block_height, confirmations, spends, coinbase, replaced_by, n)
			ORDER BY u.n`,
			txids, vouts, addrs, accts, amounts, states, blocks, heights, confs, spends, coinbase, replacedBy)
		queued = append(queued, "deposits insert")
	}
	if len(upd) > 0 {
		ids, blocks, replacedBy := make([]int64, len(upd)), make([][]byte, len(upd)), make([][]byte, len(upd))
		states, heights, confs, losses, setBlock := make([]string, len(upd)), make([]*int32, len(upd)), make([]int32, len(upd)), make([]int64, len(upd)), make([]bool, len(upd))
		for i, d := range upd {
			ids[i], states[i], heights[i], confs[i], losses[i], setBlock[i] = d.id, d.state, d.height, d.confirmations, d.loss, d.setBlock
			if d.block != nil {
				blocks[i] = d.block[:]
			}
			if d.replacedBy != nil {
				replacedBy[i] = d.replacedBy[:]
			}
		}
		// By primary key, row by row (a nested loop over the arrays): a
		// scan would predicate-lock the whole table.
		b.Queue(`UPDATE `+s+`.deposits d SET state = u.state, confirmations = u.confirmations, loss = u.loss,
				block_hash = CASE WHEN u.set_block THEN u.block_hash ELSE d.block_hash END,
				block_height = CASE WHEN u.set_block THEN u.block_height ELSE d.block_height END,
				missing_since = CASE WHEN u.set_block THEN NULL ELSE d.missing_since END,
				replaced_by = coalesce(u.replaced_by, d.replaced_by), updated_at = now()
			FROM unnest($1::bigint[], $2::text[], $3::bytea[], $4::integer[], $5::integer[], $6::bigint[], $7::boolean[], $8::bytea[])
				AS u(id, state, block_hash, block_height, confirmations, loss, set_block, replaced_by)
			WHERE d.id = u.id`,
			ids, states, blocks, heights, confs, losses, setBlock, replacedBy)
		queued = append(queued, "deposits update")
	}
	if len(w.txKinds) > 0 {
		// Many ledger transactions in one statement: their ids are drawn
		// first, in order, so each entry names its own. The posting trigger
		// checks the whole statement's entries as it checks one PostTx's:
		// each transaction balances, each entry has a balance row, no
		// customer goes below zero.
		b.Queue(`WITH t AS MATERIALIZED (
				SELECT u.n, u.kind, u.memo, nextval((SELECT pg_get_serial_sequence('`+s+`.ledger_transactions', 'id'))::regclass) AS id
				FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(kind, memo, n) ORDER BY u.n),
			tx AS (INSERT INTO `+s+`.ledger_transactions (id, kind, memo) SELECT id, kind, memo FROM t ORDER BY n)
			INSERT INTO `+s+`.ledger_entries (tx_id, account_id, slot, available_delta, pending_delta)
			SELECT t.id, e.account_id, e.slot, e.available, e.pending
			FROM unnest($3::integer[], $4::bigint[], $5::smallint[], $6::bigint[], $7::bigint[]) WITH ORDINALITY AS e(tx, account_id, slot, available, pending, k)
			JOIN t ON t.n = e.tx + 1 ORDER BY e.k`,
			w.txKinds, w.txMemos, w.entTx, w.entAccount, w.entSlot, w.entAvail, w.entPend)
		queued = append(queued, "postings")
	}
	if len(w.evTypes) > 0 {
		b.Queue(events.EmitBatchSQL, w.f.ledger.Asset(), w.evTypes, w.evPayloads)
		queued = append(queued, "events")
	}
	return queued
}

// connectBlocks records blocks, which chain from the cursor cur and from
// each other, in one transaction: each block, its deposits and coins, the
// deposits it replaces, the new confirmation counts and the credits, and
// the cursor moved to the last block. The reads are one round trip and the
// writes another, whatever the number of deposits and blocks.
func (f *Follower) connectBlocks(ctx context.Context, cur cursor, blocks []fetched) error {
	if len(blocks) == 0 {
		return nil
	}
	for i, b := range blocks {
		parent := cur.hash
		if i > 0 {
			parent = blocks[i-1].hash
		}
		if (cur.set || i > 0) && b.blk.Header.PrevBlock != parent {
			return fmt.Errorf("block %d %s does not extend %s", b.height, b.hash, parent)
		}
	}
	// Blocks a catch-up's fetcher matched were matched against the watch
	// set as it was after the tip was asked, which holds every address a
	// payment in them could be to; others are matched here, after the
	// refresh.
	withSpent := f.mempool.watching()
	refreshed := false
	for i := range blocks {
		if blocks[i].matched() {
			continue
		}
		if !refreshed {
			if err := f.watch.refresh(ctx, f.runner.Pool(), f.schema); err != nil {
				return err
			}
			refreshed = true
		}
		blocks[i].matching = f.matchAll(blocks[i].blk.Transactions, withSpent)
	}
	work := make([]blockWork, len(blocks))
	taken := map[chainhash.Hash]bool{}
	for i, b := range blocks {
		replaced := f.mempool.conflicts(b.c.spent)
		for id := range replaced {
			if taken[id] {
				delete(replaced, id) // resolved by an earlier block of this transaction
			}
			taken[id] = true
		}
		work[i] = blockWork{fetched: b, replaced: replaced}
	}
	first, last := blocks[0], blocks[len(blocks)-1]
	var w *blockWrites
	err := f.runner.InTx(ctx, "connect-block", func(tx *store.Tx) error {
		w = &blockWrites{f: f, tx: tx, deps: map[wire.OutPoint]*simDep{}, accountNames: map[int64]string{}, slots: map[string]internalSlot{}}
		// The first round trip: the lock, the cursor's compare-and-set, the
		// blocks already stored at these heights, and the reads.
		b := &pgx.Batch{}
		b.Queue(`SELECT pg_advisory_xact_lock(hashtextextended('cryptoassets.chain.' || $1, 0))`, f.ledger.Asset())
		q, args := f.moveCursorSQL(cur, last.height, last.hash[:])
		b.Queue(q, args...)
		b.Queue(`SELECT height, hash FROM `+f.schema+`.chain_blocks WHERE height BETWEEN $1 AND $2 ORDER BY height`, first.height, last.height)
		read := f.queueReads(b, work)
		br := tx.SendBatch(b)
		stale, err := func() ([]chainhash.Hash, error) {
			defer br.Close()
			if _, err := br.Exec(); err != nil {
				return nil, err
			}
			tag, err := br.Exec()
			if err != nil {
				return nil, err
			}
			if tag.RowsAffected() != 1 {
				return nil, errCursorMoved
			}
			rows, err := br.Query()
			if err != nil {
				return nil, err
			}
			byHeight := map[int32]chainhash.Hash{}
			for _, b := range blocks {
				byHeight[b.height] = b.hash
			}
			var stale []chainhash.Hash
			var h int32
			var hash []byte
			if _, err := pgx.ForEachRow(rows, []any{&h, &hash}, func() error {
				if old := chainhash.Hash(hash); old != byHeight[h] {
					stale = append(stale, old)
				}
				return nil
			}); err != nil {
				return nil, err
			}
			if len(stale) > 0 {
				return stale, nil // read again once they are unconfirmed
			}
			return nil, read(br, w)
		}()
		if err != nil {
			return err
		}
		if len(stale) > 0 {
			// A block already stored at one of these heights (the cursor
			// was moved back by hand past a reorganisation) is replaced:
			// its deposits are unconfirmed first, so none is left confirmed
			// in a stale block.
			for _, old := range stale {
				if err := f.unconfirmBlock(tx, old, nil); err != nil {
					return err
				}
				if err := coins.DisconnectBlockTx(tx, f.ledger.Asset(), old); err != nil {
					return err
				}
			}
			b := &pgx.Batch{}
			read := f.queueReads(b, work)
			br := tx.SendBatch(b)
			err := read(br, w)
			if cerr := br.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
		// The state machine, block by block, in memory.
		for _, bw := range work {
			for _, m := range bw.c.deposits {
				if err := w.confirm(m, bw.hash, bw.height); err != nil {
					return err
				}
			}
			for _, id := range sortedKeys(bw.replaced) {
				if err := w.replace(id, bw.replaced[id]); err != nil {
					return err
				}
			}
			if err := w.recount(bw.height); err != nil {
				return err
			}
		}
		// The second round trip: every write.
		b = &pgx.Batch{}
		heights := make([]int32, len(blocks))
		hashes, parents := make([][]byte, len(blocks)), make([][]byte, len(blocks))
		for i, b := range blocks {
			heights[i], hashes[i], parents[i] = b.height, b.hash[:], b.blk.Header.PrevBlock[:]
		}
		b.Queue(`INSERT INTO `+f.schema+`.chain_blocks (height, hash, parent_hash) SELECT * FROM unnest($1::integer[], $2::bytea[], $3::bytea[])
			ON CONFLICT (height) DO UPDATE SET hash = excluded.hash, parent_hash = excluded.parent_hash, seen_at = now()`,
			heights, hashes, parents)
		var ignored int
		var dropped []chainhash.Hash
		coinBlocks := make([]coins.BlockMatch, len(work))
		for i, bw := range work {
			if len(bw.c.ignored) > 0 {
				f.queueIgnored(b, bw.c.ignored, &bw.hash)
				ignored++
			}
			coinBlocks[i] = coins.BlockMatch{Hash: bw.hash, Height: bw.height, Matched: bw.cm}
			dropped = append(dropped, keys(bw.replaced)...)
		}
		readCoins := coins.QueueConnectBlocks(b, f.ledger.Asset(), coinBlocks)
		queued := w.queueWrites(b)
		br = tx.SendBatch(b)
		err = func() error {
			defer br.Close()
			for range 1 + ignored {
				if _, err := br.Exec(); err != nil {
					return err
				}
			}
			losers, err := readCoins(br)
			if err != nil {
				return err
			}
			dropped = append(dropped, losers...)
			for _, what := range queued {
				if _, err := br.Exec(); err != nil {
					if what == "postings" {
						return ledger.PostingError("deposit", err)
					}
					return fmt.Errorf("%s: %w", what, err)
				}
			}
			return br.Close()
		}()
		if err != nil {
			return err
		}
		// Transactions that lost one of our coins, or whose deposit was
		// replaced, can never confirm: their unconfirmed coins go.
		return coins.DropConflictedTx(tx, f.ledger.Asset(), dropped)
	})
	if err != nil {
		if len(blocks) == 1 {
			return fmt.Errorf("block %d %s: %w", first.height, first.hash, err)
		}
		return fmt.Errorf("blocks %d-%d: %w", first.height, last.height, err)
	}
	for _, bw := range work {
		f.mempool.confirmed(bw.blk, bw.txids)
		f.mempool.forget(keys(bw.replaced))
		if len(bw.c.deposits) > 0 || len(bw.c.ignored) > 0 || len(bw.cm.Outputs) > 0 {
			f.log.Info("block connected", "height", bw.height, "hash", bw.hash, "deposits", len(bw.c.deposits), "coins", len(bw.cm.Outputs), "ignored_outputs", len(bw.c.ignored))
		}
		f.logIgnored(bw.c.ignored)
	}
	return nil
}

// queueIgnored is recordIgnored as one statement.
func (f *Follower) queueIgnored(b *pgx.Batch, ig []ignoredOutput, block *chainhash.Hash) {
	txids, addrs, amounts, reasons := make([][]byte, len(ig)), make([]int64, len(ig)), make([]int64, len(ig)), make([]string, len(ig))
	vouts := make([]int32, len(ig))
	for i, o := range ig {
		txids[i], vouts[i], addrs[i], amounts[i], reasons[i] = o.txid[:], int32(o.vout), o.addr.addressID, o.amount, o.reason
	}
	b.Queue(`INSERT INTO `+f.schema+`.ignored_outputs (txid, vout, address_id, amount, reason, block_hash)
		SELECT u.*, $6::bytea FROM unnest($1::bytea[], $2::integer[], $3::bigint[], $4::bigint[], $5::text[]) AS u(txid, vout, address_id, amount, reason)
		ON CONFLICT (txid, vout) DO UPDATE SET block_hash = coalesce(excluded.block_hash, ignored_outputs.block_hash)`,
		txids, vouts, addrs, amounts, reasons, block[:])
}

func sortedKeys(m map[chainhash.Hash]chainhash.Hash) []chainhash.Hash {
	out := keys(m)
	slices.SortFunc(out, func(a, b chainhash.Hash) int { return bytes.Compare(a[:], b[:]) })
	return out
}
