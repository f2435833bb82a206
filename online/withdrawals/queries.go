package withdrawals

import (
	"strings"

	"github.com/jackc/pgx/v5"
)

// queries are the package's SQL with the asset's schema filled in once.
type queries struct {
	account, ownAddress, insert, get, byKey, accountOf, cancel, list string
}

const columns = `w.id, a.name, w.address, w.amount, w.fee, w.state, t.name, w.batch_id, w.created_at, w.updated_at
	FROM {s}.withdrawals w JOIN {s}.accounts a ON a.id = w.account_id LEFT JOIN {s}.accounts t ON t.id = w.internal_to`

func newQueries(asset string) queries {
	s := pgx.Identifier{asset}.Sanitize()
	f := func(sql string) string { return strings.ReplaceAll(sql, "{s}", s) }
	return queries{
		// Through the name index and the balance primary key only: no
		// scan that would predicate-lock a whole table.
		account: f(`SELECT a.id, a.kind, coalesce((SELECT available FROM {s}.balances WHERE account_id = a.id AND slot = 0 AND a.kind = 'customer'), 0)
			FROM {s}.accounts a WHERE a.name = $1`),
		ownAddress: f(`SELECT a.account_id, c.name FROM {s}.addresses a LEFT JOIN {s}.accounts c ON c.id = a.account_id WHERE a.script = $1`),
		insert: f(`INSERT INTO {s}.withdrawals (account_id, address, script, amount, fee, internal_to, state, token_id, idempotency_key)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id, created_at, updated_at`),
		get:       f(`SELECT ` + columns + ` WHERE w.id = $1`),
		byKey:     f(`SELECT ` + columns + ` WHERE w.token_id = $1 AND w.idempotency_key = $2`),
		accountOf: f(`SELECT account_id FROM {s}.withdrawals WHERE id = $1`),
		cancel: f(`UPDATE {s}.withdrawals SET state = 'cancelled', refund_tx_id = $2, updated_at = now()
			WHERE id = $1 AND state = 'requested'`),
		list: f(`SELECT ` + columns + ` WHERE w.id > $1 ORDER BY w.id LIMIT $2`),
	}
}
