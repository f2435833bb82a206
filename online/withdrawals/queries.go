package withdrawals

import (
	"github.com/cryptoassets/cryptoassets/online/events"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/ledger"
)

// queries are the package's SQL with the asset's schema filled in once.
type queries struct {
	request, accountName, insert, get, accountOf, cancel, list string
}

const columns = `w.id, a.name, w.address, w.amount, w.fee, w.state, t.name, w.batch_id, w.created_at, w.updated_at
	FROM {s}.withdrawals w JOIN {s}.accounts a ON a.id = w.account_id LEFT JOIN {s}.accounts t ON t.id = w.internal_to`

func newQueries(l *ledger.Ledger) queries {
	s := pgx.Identifier{l.Asset()}.Sanitize()
	f := func(sql string) string { return strings.ReplaceAll(sql, "{s}", s) }
	return queries{
		// request is a whole withdrawal request in one statement: it looks
		// up the idempotency key, the account with its balance and the
		// destination's owner, and only when the key is new, the account a
		// customer's, the destination not ours and the balance enough, it
		// stores the withdrawal, emits withdrawal.requested and posts the
		// debit (customer -(amount+fee), withdrawals_pending +amount,
		// network_fees +fee). It always returns what it found, so RequestTx
		// can say why it wrote nothing; what only the rare paths need (a
		// replay's whole row, an owner's name) is read by them. Every lookup
		// goes through a unique index (no scan that would predicate-lock a
		// table), and the plan is kept small: it is set up on every run.
		//   $1 account  $2 address  $3 script  $4 amount  $5 fee
		//   $6 token  $7 idempotency key  $8, $9 withdrawals_pending id, slot
		//   $10, $11 network_fees id, slot  $12 asset  $13 event payload
		request: f(`WITH acc AS (
				SELECT a.id, a.kind, coalesce((SELECT available FROM {s}.balances WHERE account_id = a.id AND slot = 0 AND a.kind = 'customer'), 0) AS available
				FROM {s}.accounts a WHERE a.name = $1),
			own AS (SELECT account_id FROM {s}.addresses WHERE script = $3),
			prior AS (SELECT id, account_id, address, amount FROM {s}.withdrawals WHERE token_id = $6 AND idempotency_key = $7),
			ok AS (SELECT acc.id FROM acc WHERE acc.kind = 'customer' AND acc.available >= $4::bigint + $5::bigint
				AND NOT EXISTS (SELECT FROM own) AND NOT EXISTS (SELECT FROM prior)),
			ins AS (INSERT INTO {s}.withdrawals (account_id, address, script, amount, fee, state, token_id, idempotency_key)
				SELECT ok.id, $2, $3, $4, $5, 'requested', $6, $7 FROM ok RETURNING id, created_at, updated_at),
			event AS (` + events.EmitSQL("$12", "'"+EventRequested+"'", "$13::jsonb || jsonb_build_object('withdrawal_id', ins.id)", "ins") + `),
			` + l.PostingSQL("withdrawal", "ins", `'withdrawal ' || ins.id || ' to ' || $2::text`,
			`SELECT x.account_id, x.slot, x.available, 0::bigint FROM ok, LATERAL (VALUES (ok.id, 0::smallint, -($4::bigint + $5::bigint)), ($8::bigint, $9::smallint, $4::bigint),
				($10::bigint, $11::smallint, $5::bigint)) AS x(account_id, slot, available) WHERE x.available <> 0`) + `
			SELECT acc.id, acc.kind, acc.available, EXISTS (SELECT FROM own), own.account_id,
				prior.id, prior.account_id, prior.address, prior.amount, ins.id, ins.created_at, ins.updated_at
			FROM (SELECT) one LEFT JOIN acc ON true LEFT JOIN own ON true LEFT JOIN prior ON true LEFT JOIN ins ON true`),
		accountName: f(`SELECT name FROM {s}.accounts WHERE id = $1`),
		insert: f(`INSERT INTO {s}.withdrawals (account_id, address, script, amount, fee, internal_to, state, token_id, idempotency_key)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id, created_at, updated_at`),
		get:       f(`SELECT ` + columns + ` WHERE w.id = $1`),
		accountOf: f(`SELECT account_id FROM {s}.withdrawals WHERE id = $1`),
		cancel: f(`UPDATE {s}.withdrawals SET state = 'cancelled', refund_tx_id = $2, updated_at = now()
			WHERE id = $1 AND state = 'requested'`),
		list: f(`SELECT ` + columns + ` WHERE w.id > $1 ORDER BY w.id LIMIT $2`),
	}
}
