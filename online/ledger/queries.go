package ledger

import (
	"strings"

	"github.com/jackc/pgx/v5"
)

// queries are the ledger's SQL with the asset's schema filled in once.
type queries struct {
	schema string
	createAccount, getAccount, listAccounts,
	internalAccounts, post, history, transfer string
}

func newQueries(asset string) queries {
	s := pgx.Identifier{asset}.Sanitize()
	f := func(sql string) string { return strings.ReplaceAll(sql, "{s}", s) }
	return queries{
		schema: s,
		createAccount: f(`WITH a AS (INSERT INTO {s}.accounts (kind, name, slots) VALUES ('customer', $1, 1) RETURNING id, created_at),
			b AS (INSERT INTO {s}.balances (account_id, slot, customer) SELECT id, 0, true FROM a)
			SELECT id, created_at FROM a`),
		getAccount: f(`SELECT a.id, a.kind, a.name, a.created_at, coalesce(sum(b.available), 0)::bigint, coalesce(sum(b.pending), 0)::bigint
			FROM {s}.accounts a JOIN {s}.balances b ON b.account_id = a.id
			WHERE a.name = $1 GROUP BY a.id`),
		listAccounts: f(`SELECT a.id, a.kind, a.name, a.created_at, coalesce(sum(b.available), 0)::bigint, coalesce(sum(b.pending), 0)::bigint
			FROM {s}.accounts a JOIN {s}.balances b ON b.account_id = a.id
			WHERE a.id > $1 GROUP BY a.id ORDER BY a.id LIMIT $2`),
		// transfer looks both accounts up, checks them and the funds, and
		// posts, in one round trip. It posts nothing unless both accounts
		// are customers and the source has the funds; it always returns what
		// it found so TransferTx can say why it refused. Lookups go through
		// indexes only (a nested loop over the name index and the balance
		// primary key): a scan of a whole table would predicate-lock all of
		// it and make every concurrent transfer conflict.
		transfer: f(`WITH acc AS (
				SELECT a.id, a.kind, a.name, coalesce(b.available, 0) AS available
				FROM {s}.accounts a
				LEFT JOIN LATERAL (SELECT available FROM {s}.balances WHERE account_id = a.id AND slot = 0 AND a.kind = 'customer') b ON true
				WHERE a.name = ANY(ARRAY[$1::text, $2::text])),
			src AS (SELECT * FROM acc WHERE name = $1),
			dst AS (SELECT * FROM acc WHERE name = $2),
			ok AS (SELECT src.id AS src_id, dst.id AS dst_id FROM src, dst
				WHERE src.kind = 'customer' AND dst.kind = 'customer' AND src.available >= $3::bigint),
			t AS (INSERT INTO {s}.ledger_transactions (kind, memo) SELECT 'transfer', $4 FROM ok RETURNING id, created_at),
			e AS (INSERT INTO {s}.ledger_entries (tx_id, account_id, slot, available_delta, pending_delta)
				SELECT t.id, x.account_id, 0, x.delta, 0 FROM t, ok,
					LATERAL (VALUES (ok.src_id, -$3::bigint), (ok.dst_id, $3::bigint)) AS x(account_id, delta))
			SELECT (SELECT kind FROM src), (SELECT available FROM src), (SELECT kind FROM dst),
				(SELECT id FROM t), (SELECT created_at FROM t)`),
		internalAccounts: f(`SELECT id, kind, slots FROM {s}.accounts WHERE kind <> 'customer'`),
		post: f(`WITH t AS (INSERT INTO {s}.ledger_transactions (kind, memo) VALUES ($1, $2) RETURNING id, created_at),
			e AS (INSERT INTO {s}.ledger_entries (tx_id, account_id, slot, available_delta, pending_delta)
				SELECT t.id, p.account_id, p.slot, p.available, p.pending
				FROM t, unnest($3::bigint[], $4::smallint[], $5::bigint[], $6::bigint[]) AS p(account_id, slot, available, pending))
			SELECT id, created_at FROM t`),
		history: f(`SELECT e.id, e.tx_id, t.kind, t.memo, e.available_delta, e.pending_delta, t.created_at,
				coalesce(array(SELECT DISTINCT o.name FROM {s}.ledger_entries x JOIN {s}.accounts o ON o.id = x.account_id
					WHERE x.tx_id = e.tx_id AND x.account_id <> e.account_id ORDER BY o.name), '{}')
			FROM {s}.ledger_entries e JOIN {s}.ledger_transactions t ON t.id = e.tx_id
			WHERE e.account_id = $1 AND e.id < $2 ORDER BY e.id DESC LIMIT $3`),
	}
}
