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

// QueueConnectBlock is ConnectBlockTx for a writer that sends several
// blocks' statements in one round trip: it queues the block's statements on
// b, and the function it returns reads their results from the sent batch
// and returns the transactions that lost one of our coins to the block.
// The caller passes those to DropConflictedTx, in the same transaction.
func QueueConnectBlock(b *pgx.Batch, schema string, hash chainhash.Hash, height int32, m Matched) func(pgx.BatchResults) ([]chainhash.Hash, error) {
	s := ident(schema)
	if len(m.Outputs) > 0 {
		q, args := insertOutputs(s, m, &hash, height)
		b.Queue(q, args...)
	}
	if len(m.Spends) > 0 {
		q, args := recordSpends(s, m.Spends, &hash, height)
		b.Queue(q, args...)
	}
	return func(br pgx.BatchResults) ([]chainhash.Hash, error) {
		if len(m.Outputs) > 0 {
			if _, err := br.Exec(); err != nil {
				return nil, err
			}
		}
		if len(m.Spends) == 0 {
			return nil, nil
		}
		rows, err := br.Query()
		if err != nil {
			return nil, err
		}
		return collectHashes(rows)
	}
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
// lost a coin of ours to another spender.
func record(tx *store.Tx, s string, m Matched, block *chainhash.Hash, height int32) ([]chainhash.Hash, error) {
	if m.Empty() {
		return nil, nil
	}
	b := &pgx.Batch{}
	if len(m.Outputs) > 0 {
		q, args := insertOutputs(s, m, block, height)
		b.Queue(q, args...)
	}
	if len(m.Spends) > 0 {
		q, args := recordSpends(s, m.Spends, block, height)
		b.Queue(q, args...)
	}
	br := tx.SendBatch(b)
	defer br.Close()
	if len(m.Outputs) > 0 {
		if _, err := br.Exec(); err != nil {
			return nil, err
		}
	}
	var losers []chainhash.Hash
	if len(m.Spends) > 0 {
		rows, err := br.Query()
		if err != nil {
			return nil, err
		}
		if losers, err = collectHashes(rows); err != nil {
			return nil, err
		}
	}
	return losers, br.Close()
}

// insertOutputs is the statement inserting m's outputs: confirmed in
// block, or (nil) unconfirmed, never undoing a confirmation. A mempool
// transaction known to be dead is not recorded again: one spending a coin
// of ours that a block shows spent by another, or one the deposits found
// replaced (a node may keep such a transaction in its mempool, as btcd
// does after a reorganisation).
func insertOutputs(s string, m Matched, block *chainhash.Hash, height int32) (string, []any) {
	outs := m.Outputs
	txids := make([][]byte, len(outs))
	vouts := make([]int32, len(outs))
	wallets := make([]int16, len(outs))
	addrs := make([]int64, len(outs))
	amounts := make([]int64, len(outs))
	scripts := make([][]byte, len(outs))
	coinbase := make([]bool, len(outs))
	for i, o := range outs {
		txids[i] = o.OutPoint.Hash[:]
		vouts[i] = int32(o.OutPoint.Index)
		wallets[i], addrs[i], amounts[i], scripts[i], coinbase[i] = o.WalletID, o.AddressID, o.Amount, o.Script, o.Coinbase
	}
	const cols = `INSERT INTO %[1]s.coins (txid, vout, wallet_id, address_id, amount, script, coinbase, block_hash, block_height)
		SELECT u.*, $8::bytea, $9::integer
		FROM unnest($1::bytea[], $2::integer[], $3::smallint[], $4::bigint[], $5::bigint[], $6::bytea[], $7::boolean[])
			AS u(txid, vout, wallet_id, address_id, amount, script, coinbase) `
	if block == nil {
		// Only the inputs of the transactions paying us are looked at.
		paying := map[chainhash.Hash]bool{}
		for _, o := range outs {
			paying[o.OutPoint.Hash] = true
		}
		var inTxids, inBys [][]byte
		var inVouts []int32
		for _, sp := range m.Spends {
			if paying[sp.By] {
				inTxids, inVouts, inBys = append(inTxids, sp.OutPoint.Hash[:]), append(inVouts, int32(sp.OutPoint.Index)), append(inBys, sp.By[:])
			}
		}
		return fmt.Sprintf(cols+`WHERE NOT EXISTS (SELECT 1 FROM %[1]s.deposits d WHERE d.txid = u.txid AND d.state = 'replaced')
			AND NOT EXISTS (SELECT 1 FROM unnest($10::bytea[], $11::integer[], $12::bytea[]) AS sp(txid, vout, spender)
				JOIN %[1]s.coins c ON c.txid = sp.txid AND c.vout = sp.vout
				WHERE sp.spender = u.txid AND c.spent_block IS NOT NULL AND c.spent_by <> sp.spender)
			ON CONFLICT (txid, vout) DO NOTHING`, s),
			[]any{txids, vouts, wallets, addrs, amounts, scripts, coinbase, nil, nil, inTxids, inVouts, inBys}
	}
	return fmt.Sprintf(cols, s) + `ON CONFLICT (txid, vout) DO UPDATE
		SET block_hash = excluded.block_hash, block_height = excluded.block_height, updated_at = now()
		WHERE coins.block_hash IS DISTINCT FROM excluded.block_hash OR coins.block_height IS DISTINCT FROM excluded.block_height`,
		[]any{txids, vouts, wallets, addrs, amounts, scripts, coinbase, block[:], height}
}

// recordSpends is the statement marking our coins among spends as spent,
// in the block or (nil) in the mempool, and returning the transactions that
// had spent one of them before and lost it to another spender.
func recordSpends(s string, spends []Spend, block *chainhash.Hash, height int32) (string, []any) {
	txids := make([][]byte, len(spends))
	vouts := make([]int32, len(spends))
	bys := make([][]byte, len(spends))
	for i, sp := range spends {
		txids[i], vouts[i], bys[i] = sp.OutPoint.Hash[:], int32(sp.OutPoint.Index), sp.By[:]
	}
	// Each input is looked up by primary key (LATERAL … LIMIT 1 keeps the
	// planner from hashing the whole table for a block of thousands of
	// inputs), and only the few rows found are updated, by ctid. Both parts
	// read the rows as they were before the update (one snapshot): "hit"
	// keeps each old spender, so the ones that lost are returned.
	var q string
	args := []any{txids, vouts, bys}
	if block == nil {
		q = `WITH hit AS (
			SELECT k.ctid AS row_id, k.spent_by AS old_by, u.spender
			FROM unnest($1::bytea[], $2::integer[], $3::bytea[]) AS u(txid, vout, spender)
			CROSS JOIN LATERAL (SELECT c.ctid, c.spent_by, c.spent_block FROM ` + s + `.coins c
				WHERE c.txid = u.txid AND c.vout = u.vout LIMIT 1) k
			WHERE k.spent_block IS NULL AND k.spent_by IS DISTINCT FROM u.spender),
		upd AS (UPDATE ` + s + `.coins c SET spent_by = hit.spender, updated_at = now() FROM hit
			WHERE c.ctid = ANY (ARRAY(SELECT row_id FROM hit)) AND c.ctid = hit.row_id RETURNING 1)
		SELECT DISTINCT old_by FROM hit WHERE old_by IS NOT NULL`
	} else {
		q = `WITH hit AS (
			SELECT k.ctid AS row_id, k.spent_by AS old_by, u.spender
			FROM unnest($1::bytea[], $2::integer[], $3::bytea[]) AS u(txid, vout, spender)
			CROSS JOIN LATERAL (SELECT c.ctid, c.spent_by, c.spent_block, c.spent_height FROM ` + s + `.coins c
				WHERE c.txid = u.txid AND c.vout = u.vout LIMIT 1) k
			WHERE k.spent_by IS DISTINCT FROM u.spender OR k.spent_block IS DISTINCT FROM $4 OR k.spent_height IS DISTINCT FROM $5),
		upd AS (UPDATE ` + s + `.coins c SET spent_by = hit.spender, spent_block = $4, spent_height = $5, updated_at = now() FROM hit
			WHERE c.ctid = ANY (ARRAY(SELECT row_id FROM hit)) AND c.ctid = hit.row_id RETURNING 1)
		SELECT DISTINCT old_by FROM hit WHERE old_by IS NOT NULL AND old_by <> spender`
		args = append(args, block[:], height)
	}
	return q, args
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
