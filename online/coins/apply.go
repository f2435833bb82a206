package coins

import (
	"context"
	"fmt"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cryptoassets/cryptoassets/online/store"
)

// The schema argument of every function is the asset's schema name as
// configured (btc, tbtc…), not yet quoted.
func ident(schema string) string { return pgx.Identifier{schema}.Sanitize() }

// ours is true for a transaction we built: a batch or a broadcast record.
const ours = `(EXISTS (SELECT 1 FROM %[1]s.batches b WHERE b.txid = %[2]s) OR EXISTS (SELECT 1 FROM %[1]s.broadcasts r WHERE r.txid = %[2]s))`

func oursSQL(s, col string) string { return fmt.Sprintf(ours, s, col) }

// ConnectBlockTx records what the block (hash, height) did to our coins:
// its outputs paying us become confirmed coins (a coin seen in the mempool
// keeps its row), its inputs spending our coins mark them spent in it, and
// transactions that lost one of our coins to it lose their unconfirmed
// coins. It runs inside the follower's block transaction.
func ConnectBlockTx(tx *store.Tx, schema string, hash chainhash.Hash, height int32, m Matched) error {
	s := ident(schema)
	losers, err := record(tx, s, m, &hash, height)
	if err != nil {
		return err
	}
	return dropConflicted(tx, s, losers)
}

// BlockMatch is what Match found in one block of the best chain.
type BlockMatch struct {
	Hash   chainhash.Hash
	Height int32
	Matched
}

// QueueConnectBlocks is ConnectBlockTx for a writer that records several
// blocks, in chain order, in one transaction and one round trip: it queues
// two statements on b whatever the number of blocks (every block's outputs,
// then every block's spends, so an output spent a block later is found),
// and the function it returns reads their results from the sent batch and
// returns the transactions that lost one of our coins to the blocks. The
// caller passes those to DropConflictedTx, in the same transaction.
func QueueConnectBlocks(b *pgx.Batch, schema string, blocks []BlockMatch) func(pgx.BatchResults) ([]chainhash.Hash, error) {
	return queueConfirmed(b, ident(schema), blocks)
}

// DisconnectBlockTx undoes what the block did: the coins it confirmed are
// unconfirmed again, the spends it recorded are mempool spends again (the
// spender kept). Its coinbase coins are deleted: they can never come back.
func DisconnectBlockTx(tx *store.Tx, schema string, hash chainhash.Hash) error {
	s := ident(schema)
	rows, err := tx.Query(`DELETE FROM `+s+`.coins WHERE block_hash = $1 AND coinbase AND reserved_by IS NULL
		RETURNING spent_by`, hash[:])
	if err != nil {
		return err
	}
	spenders, err := collectHashes(rows)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(`UPDATE `+s+`.coins SET block_hash = NULL, block_height = NULL, updated_at = now() WHERE block_hash = $1`, hash[:]); err != nil {
		return err
	}
	if _, err := tx.Exec(`UPDATE `+s+`.coins SET spent_block = NULL, spent_height = NULL, updated_at = now() WHERE spent_block = $1`, hash[:]); err != nil {
		return err
	}
	return dropConflicted(tx, s, spenders)
}

// MempoolTx records what new mempool transactions imply: unconfirmed coins,
// and mempool spends of our coins (a spend already in a block is kept). A
// transaction whose spend of our coin another mempool transaction replaced
// loses its unconfirmed coins.
func MempoolTx(tx *store.Tx, schema string, m Matched) error {
	s := ident(schema)
	losers, err := record(tx, s, m, nil, 0)
	if err != nil {
		return err
	}
	return dropConflicted(tx, s, losers)
}

// DropConflictedTx deletes the unconfirmed coins of transactions that can
// never confirm (a conflicting transaction spent one of their inputs, as
// the deposits' replacement tracking finds for payments from outside), and
// those of transactions spending them. A reserved coin is kept.
func DropConflictedTx(tx *store.Tx, schema string, txids []chainhash.Hash) error {
	return dropConflicted(tx, ident(schema), txids)
}

// record writes m's outputs, then its spends (an output may be spent in
// the same block), in one round trip, and returns the transactions that
// lost a coin of ours to another spender: confirmed in block at height, or
// (nil) in the mempool.
func record(tx *store.Tx, s string, m Matched, block *chainhash.Hash, height int32) ([]chainhash.Hash, error) {
	if m.Empty() {
		return nil, nil
	}
	b := &pgx.Batch{}
	var read func(pgx.BatchResults) ([]chainhash.Hash, error)
	if block != nil {
		read = queueConfirmed(b, s, []BlockMatch{{Hash: *block, Height: height, Matched: m}})
	} else {
		read = queueMempool(b, s, m)
	}
	br := tx.SendBatch(b)
	defer br.Close()
	losers, err := read(br)
	if err != nil {
		return nil, err
	}
	return losers, br.Close()
}

// queueConfirmed queues the statements recording blocks, in chain order:
// every block's outputs in one statement, then every block's spends in
// another. The function it returns reads their results.
func queueConfirmed(b *pgx.Batch, s string, blocks []BlockMatch) func(pgx.BatchResults) ([]chainhash.Hash, error) {
	outs := insertConfirmed(b, s, blocks)
	spends := spendConfirmed(b, s, blocks)
	return func(br pgx.BatchResults) ([]chainhash.Hash, error) {
		return readRecorded(br, outs, spends)
	}
}

// queueMempool is queueConfirmed for mempool transactions.
func queueMempool(b *pgx.Batch, s string, m Matched) func(pgx.BatchResults) ([]chainhash.Hash, error) {
	outs := insertUnconfirmed(b, s, m)
	spends := spendUnconfirmed(b, s, m.Spends)
	return func(br pgx.BatchResults) ([]chainhash.Hash, error) {
		return readRecorded(br, outs, spends)
	}
}

// readRecorded reads the results of the statements queueConfirmed or
// queueMempool queued: the transactions that lost a coin of ours.
func readRecorded(br pgx.BatchResults, outs, spends bool) ([]chainhash.Hash, error) {
	if outs {
		if _, err := br.Exec(); err != nil {
			return nil, err
		}
	}
	if !spends {
		return nil, nil
	}
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	return collectHashes(rows)
}

// outputColumns are the arrays of the coins a statement inserts.
type outputColumns struct {
	txids, scripts [][]byte
	vouts          []int32
	wallets        []int16
	addrs, amounts []int64
	coinbase       []bool
}

func (c *outputColumns) add(o Output) {
	c.txids, c.vouts = append(c.txids, o.OutPoint.Hash[:]), append(c.vouts, int32(o.OutPoint.Index))
	c.wallets, c.addrs, c.amounts = append(c.wallets, o.WalletID), append(c.addrs, o.AddressID), append(c.amounts, o.Amount)
	c.scripts, c.coinbase = append(c.scripts, o.Script), append(c.coinbase, o.Coinbase)
}

func (c *outputColumns) args() []any {
	return []any{c.txids, c.vouts, c.wallets, c.addrs, c.amounts, c.scripts, c.coinbase}
}

// insertConfirmed queues the statement inserting the blocks' outputs as
// coins confirmed in their blocks (a coin seen in the mempool keeps its row
// and takes the block); false when they pay us nothing. An outpoint that
// occurs twice (a duplicate coinbase txid, before BIP 34) keeps its last
// block, as block-by-block statements would leave it.
func insertConfirmed(b *pgx.Batch, s string, blocks []BlockMatch) bool {
	var c outputColumns
	var hashes [][]byte
	var heights []int32
	last := map[wire.OutPoint]int{}
	for bi, bm := range blocks {
		for _, o := range bm.Outputs {
			last[o.OutPoint] = bi
		}
	}
	for bi, bm := range blocks {
		for _, o := range bm.Outputs {
			if last[o.OutPoint] != bi {
				continue
			}
			c.add(o)
			hashes, heights = append(hashes, bm.Hash[:]), append(heights, bm.Height)
		}
	}
	if len(c.txids) == 0 {
		return false
	}
	b.Queue(`INSERT INTO `+s+`.coins (txid, vout, wallet_id, address_id, amount, script, coinbase, block_hash, block_height)
		SELECT * FROM unnest($1::bytea[], $2::integer[], $3::smallint[], $4::bigint[], $5::bigint[], $6::bytea[], $7::boolean[], $8::bytea[], $9::integer[])
			AS u(txid, vout, wallet_id, address_id, amount, script, coinbase, block_hash, block_height)
		ON CONFLICT (txid, vout) DO UPDATE
		SET block_hash = excluded.block_hash, block_height = excluded.block_height, updated_at = now()
		WHERE coins.block_hash IS DISTINCT FROM excluded.block_hash OR coins.block_height IS DISTINCT FROM excluded.block_height`,
		append(c.args(), hashes, heights)...)
	return true
}

// insertUnconfirmed queues the statement inserting m's outputs as
// unconfirmed coins, never undoing a confirmation; false when they pay us
// nothing. A mempool transaction known to be dead is not recorded again:
// one spending a coin of ours that a block shows spent by another, or one
// the deposits found replaced (a node may keep such a transaction in its
// mempool, as btcd does after a reorganisation).
func insertUnconfirmed(b *pgx.Batch, s string, m Matched) bool {
	if len(m.Outputs) == 0 {
		return false
	}
	var c outputColumns
	paying := map[chainhash.Hash]bool{}
	for _, o := range m.Outputs {
		c.add(o)
		paying[o.OutPoint.Hash] = true
	}
	// Only the inputs of the transactions paying us are looked at.
	var inTxids, inBys [][]byte
	var inVouts []int32
	for _, sp := range m.Spends {
		if paying[sp.By] {
			inTxids, inVouts, inBys = append(inTxids, sp.OutPoint.Hash[:]), append(inVouts, int32(sp.OutPoint.Index)), append(inBys, sp.By[:])
		}
	}
	b.Queue(fmt.Sprintf(`INSERT INTO %[1]s.coins (txid, vout, wallet_id, address_id, amount, script, coinbase)
		SELECT u.* FROM unnest($1::bytea[], $2::integer[], $3::smallint[], $4::bigint[], $5::bigint[], $6::bytea[], $7::boolean[])
			AS u(txid, vout, wallet_id, address_id, amount, script, coinbase)
		WHERE NOT EXISTS (SELECT 1 FROM %[1]s.deposits d WHERE d.txid = u.txid AND d.state = 'replaced')
			AND NOT EXISTS (SELECT 1 FROM unnest($8::bytea[], $9::integer[], $10::bytea[]) AS sp(txid, vout, spender)
				JOIN %[1]s.coins c ON c.txid = sp.txid AND c.vout = sp.vout
				WHERE sp.spender = u.txid AND c.spent_block IS NOT NULL AND c.spent_by <> sp.spender)
		ON CONFLICT (txid, vout) DO NOTHING`, s),
		append(c.args(), inTxids, inVouts, inBys)...)
	return true
}

// spendConfirmed queues the statement marking our coins among the blocks'
// spends as spent in their blocks, and returning the transactions that had
// spent one of them before and lost it to another spender; false when the
// blocks spend nothing (only a coinbase).
//
// Each input is looked up by primary key (LATERAL … LIMIT 1 keeps the
// planner from hashing the whole table for a block of thousands of
// inputs), and only the few rows found are updated, by ctid. Both parts
// read the rows as they were before the update (one snapshot): "hit" keeps
// each old spender, so the ones that lost are returned.
func spendConfirmed(b *pgx.Batch, s string, blocks []BlockMatch) bool {
	var txids, bys, hashes [][]byte
	var vouts, heights []int32
	for _, bm := range blocks {
		for _, sp := range bm.Spends {
			txids, vouts, bys = append(txids, sp.OutPoint.Hash[:]), append(vouts, int32(sp.OutPoint.Index)), append(bys, sp.By[:])
			hashes, heights = append(hashes, bm.Hash[:]), append(heights, bm.Height)
		}
	}
	if len(txids) == 0 {
		return false
	}
	b.Queue(`WITH hit AS (
			SELECT k.ctid AS row_id, k.spent_by AS old_by, u.spender, u.block, u.height
			FROM unnest($1::bytea[], $2::integer[], $3::bytea[], $4::bytea[], $5::integer[]) AS u(txid, vout, spender, block, height)
			CROSS JOIN LATERAL (SELECT c.ctid, c.spent_by, c.spent_block, c.spent_height FROM `+s+`.coins c
				WHERE c.txid = u.txid AND c.vout = u.vout LIMIT 1) k
			WHERE k.spent_by IS DISTINCT FROM u.spender OR k.spent_block IS DISTINCT FROM u.block OR k.spent_height IS DISTINCT FROM u.height),
		upd AS (UPDATE `+s+`.coins c SET spent_by = hit.spender, spent_block = hit.block, spent_height = hit.height, updated_at = now() FROM hit
			WHERE c.ctid = ANY (ARRAY(SELECT row_id FROM hit)) AND c.ctid = hit.row_id RETURNING 1)
		SELECT DISTINCT old_by FROM hit WHERE old_by IS NOT NULL AND old_by <> spender`,
		txids, vouts, bys, hashes, heights)
	return true
}

// spendUnconfirmed queues the statement marking our coins among spends as
// spent in the mempool (a spend already in a block is kept), and returning
// the transactions that had spent one of them before and lost it to
// another spender; false when there are no spends. See spendConfirmed for
// its shape.
func spendUnconfirmed(b *pgx.Batch, s string, spends []Spend) bool {
	if len(spends) == 0 {
		return false
	}
	txids := make([][]byte, len(spends))
	vouts := make([]int32, len(spends))
	bys := make([][]byte, len(spends))
	for i, sp := range spends {
		txids[i], vouts[i], bys[i] = sp.OutPoint.Hash[:], int32(sp.OutPoint.Index), sp.By[:]
	}
	b.Queue(`WITH hit AS (
			SELECT k.ctid AS row_id, k.spent_by AS old_by, u.spender
			FROM unnest($1::bytea[], $2::integer[], $3::bytea[]) AS u(txid, vout, spender)
			CROSS JOIN LATERAL (SELECT c.ctid, c.spent_by, c.spent_block FROM `+s+`.coins c
				WHERE c.txid = u.txid AND c.vout = u.vout LIMIT 1) k
			WHERE k.spent_block IS NULL AND k.spent_by IS DISTINCT FROM u.spender),
		upd AS (UPDATE `+s+`.coins c SET spent_by = hit.spender, updated_at = now() FROM hit
			WHERE c.ctid = ANY (ARRAY(SELECT row_id FROM hit)) AND c.ctid = hit.row_id RETURNING 1)
		SELECT DISTINCT old_by FROM hit WHERE old_by IS NOT NULL`, txids, vouts, bys)
	return true
}

// dropConflicted deletes the unconfirmed, unreserved coins of txids and of
// every transaction spending them, recursively.
func dropConflicted(tx *store.Tx, s string, txids []chainhash.Hash) error {
	if len(txids) == 0 {
		return nil
	}
	_, err := tx.Exec(`WITH RECURSIVE doomed(txid) AS (
			SELECT unnest($1::bytea[])
			UNION
			SELECT c.spent_by FROM `+s+`.coins c JOIN doomed d ON c.txid = d.txid
			WHERE c.block_hash IS NULL AND c.spent_by IS NOT NULL
		)
		DELETE FROM `+s+`.coins c USING doomed d
		WHERE c.txid = d.txid AND c.block_hash IS NULL AND c.reserved_by IS NULL`, hashBytes(txids))
	return err
}

func hashBytes(hs []chainhash.Hash) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = hs[i][:]
	}
	return out
}

func collectHashes(rows pgx.Rows) ([]chainhash.Hash, error) {
	var out []chainhash.Hash
	var b []byte
	_, err := pgx.ForEachRow(rows, []any{&b}, func() error {
		if len(b) == chainhash.HashSize {
			out = append(out, chainhash.Hash(b))
		}
		return nil
	})
	return out, err
}

// UTXOs is what FindVanished asks the node.
type UTXOs interface {
	// IsUnspent reports whether an output exists and is unspent in the
	// node's best chain or mempool (a mempool spend counts as spent).
	IsUnspent(ctx context.Context, op wire.OutPoint) (bool, error)
}

// maxVanishedChecks bounds the node calls of one FindVanished.
const maxVanishedChecks = 200

// Vanished is what a caught-up mempool scan found gone from both the node's
// mempool and its chain.
type Vanished struct {
	// Txs have unconfirmed coins of ours and are in no block and not in the
	// mempool.
	Txs []chainhash.Hash
	// Spends are mempool spends of our coins by transactions in neither.
	Spends []Spend
}

// Empty reports whether v changes nothing.
func (v Vanished) Empty() bool { return len(v.Txs) == 0 && len(v.Spends) == 0 }

// FindVanished looks at the unconfirmed coins and the mempool spends of
// transactions we did not build whose transaction is not in inMempool (the
// node's mempool) and asks the node whether the coin still exists. Run only
// when the follower is caught up with the node: a transaction mined in a
// block not read yet still has its outputs, and a wrong guess in a race is
// written over by the next block.
func FindVanished(ctx context.Context, pool *pgxpool.Pool, schema string, node UTXOs, inMempool map[chainhash.Hash]bool) (Vanished, error) {
	s := ident(schema)
	var v Vanished
	rows, err := pool.Query(ctx, `SELECT c.txid, c.vout, c.block_hash IS NULL AND NOT `+oursSQL(s, "c.txid")+`,
			c.spent_by, c.spent_by IS NOT NULL AND c.spent_block IS NULL AND NOT `+oursSQL(s, "c.spent_by")+`
		FROM `+s+`.coins c
		WHERE c.reserved_by IS NULL AND (c.block_hash IS NULL OR (c.spent_by IS NOT NULL AND c.spent_block IS NULL))
		ORDER BY c.txid, c.vout`)
	if err != nil {
		return v, err
	}
	type cand struct {
		op                  wire.OutPoint
		coinGone, spendGone bool
		by                  chainhash.Hash
	}
	var cands []cand
	var txid, by []byte
	var vout int32
	var unconf, mempoolSpend bool
	if _, err := pgx.ForEachRow(rows, []any{&txid, &vout, &unconf, &by, &mempoolSpend}, func() error {
		c := cand{op: wire.OutPoint{Hash: chainhash.Hash(txid), Index: uint32(vout)}}
		c.coinGone = unconf && !inMempool[c.op.Hash]
		if mempoolSpend {
			c.by = chainhash.Hash(by)
			c.spendGone = !inMempool[c.by]
		}
		if c.coinGone || c.spendGone {
			cands = append(cands, c)
		}
		return nil
	}); err != nil {
		return v, err
	}
	checks := 0
	goneTx := map[chainhash.Hash]bool{}
	for _, c := range cands {
		if goneTx[c.op.Hash] {
			continue
		}
		if checks >= maxVanishedChecks {
			break // the next scan goes on
		}
		checks++
		unspent, err := node.IsUnspent(ctx, c.op)
		if err != nil {
			return v, err
		}
		switch {
		case c.coinGone && !unspent:
			// Neither in the mempool nor in the chain (or spent in a block
			// not read yet, which re-creates the row).
			goneTx[c.op.Hash] = true
			v.Txs = append(v.Txs, c.op.Hash)
		case c.spendGone && unspent:
			v.Spends = append(v.Spends, Spend{OutPoint: c.op, By: c.by})
		}
	}
	return v, nil
}

// ForgetVanishedTx applies what FindVanished found, checking every rule
// again inside the caller's transaction: an unconfirmed coin is deleted
// only if still unconfirmed, unreserved and not of a transaction we built;
// a spend is cleared only if still the same mempool spend by a transaction
// we did not build.
func ForgetVanishedTx(tx *store.Tx, schema string, v Vanished) error {
	s := ident(schema)
	if len(v.Txs) > 0 {
		if _, err := tx.Exec(`DELETE FROM `+s+`.coins c WHERE c.txid = ANY($1::bytea[])
			AND c.block_hash IS NULL AND c.reserved_by IS NULL AND NOT `+oursSQL(s, "c.txid"), hashBytes(v.Txs)); err != nil {
			return err
		}
	}
	if len(v.Spends) > 0 {
		txids := make([][]byte, len(v.Spends))
		vouts := make([]int32, len(v.Spends))
		bys := make([][]byte, len(v.Spends))
		for i, sp := range v.Spends {
			txids[i], vouts[i], bys[i] = sp.OutPoint.Hash[:], int32(sp.OutPoint.Index), sp.By[:]
		}
		if _, err := tx.Exec(`UPDATE `+s+`.coins c SET spent_by = NULL, updated_at = now()
			FROM unnest($1::bytea[], $2::integer[], $3::bytea[]) AS u(txid, vout, spender)
			WHERE c.txid = u.txid AND c.vout = u.vout AND c.spent_by = u.spender AND c.spent_block IS NULL
			  AND NOT `+oursSQL(s, "c.spent_by"), txids, vouts, bys); err != nil {
			return err
		}
	}
	return nil
}
