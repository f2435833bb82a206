package ledger

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Check verifies the ledger's invariants and returns an error describing
// every violation: all entries sum to zero, each transaction balances, each
// cached balance equals the sum of its account's entries, and no customer
// balance is negative. The database enforces each of these on write; Check
// proves it after the fact (tests, `cryptoassets ledger check`).
func (l *Ledger) Check(ctx context.Context) error {
	s := l.q.schema
	var problems []string
	checks := []struct {
		what string
		sql  string
	}{
		{"entries do not sum to zero", `SELECT 'available ' || coalesce(sum(available_delta), 0) || ', pending ' || coalesce(sum(pending_delta), 0)
			FROM ` + s + `.ledger_entries HAVING coalesce(sum(available_delta), 0) <> 0 OR coalesce(sum(pending_delta), 0) <> 0`},
		{"unbalanced transaction", `SELECT 'tx ' || tx_id FROM ` + s + `.ledger_entries GROUP BY tx_id
			HAVING sum(available_delta) <> 0 OR sum(pending_delta) <> 0 LIMIT 20`},
		{"cached balance differs from entries", `SELECT a.name || ': cached ' || b.available || '/' || b.pending || ', entries ' || coalesce(e.available, 0) || '/' || coalesce(e.pending, 0)
			FROM ` + s + `.accounts a
			JOIN (SELECT account_id, sum(available) AS available, sum(pending) AS pending FROM ` + s + `.balances GROUP BY account_id) b ON b.account_id = a.id
			LEFT JOIN (SELECT account_id, sum(available_delta) AS available, sum(pending_delta) AS pending FROM ` + s + `.ledger_entries GROUP BY account_id) e ON e.account_id = a.id
			WHERE b.available <> coalesce(e.available, 0) OR b.pending <> coalesce(e.pending, 0) LIMIT 20`},
		{"negative customer balance", `SELECT a.name || ': ' || b.available || '/' || b.pending FROM ` + s + `.balances b
			JOIN ` + s + `.accounts a ON a.id = b.account_id
			WHERE a.kind = 'customer' AND (b.available < 0 OR b.pending < 0) LIMIT 20`},
		{"entry without its transaction", `SELECT 'entry ' || e.id FROM ` + s + `.ledger_entries e
			WHERE NOT EXISTS (SELECT 1 FROM ` + s + `.ledger_transactions t WHERE t.id = e.tx_id) LIMIT 20`},
		{"transaction without entries", `SELECT 'tx ' || t.id FROM ` + s + `.ledger_transactions t
			WHERE NOT EXISTS (SELECT 1 FROM ` + s + `.ledger_entries e WHERE e.tx_id = t.id) LIMIT 20`},
		{"entry for an unknown account or slot", `SELECT 'entry ' || e.id FROM ` + s + `.ledger_entries e
			WHERE NOT EXISTS (SELECT 1 FROM ` + s + `.balances b WHERE b.account_id = e.account_id AND b.slot = e.slot) LIMIT 20`},
		{"account without its balance rows", `SELECT a.name FROM ` + s + `.accounts a
			WHERE (SELECT count(*) FROM ` + s + `.balances b WHERE b.account_id = a.id) <> a.slots LIMIT 20`},
	}
	for _, c := range checks {
		rows, err := l.runner.Pool().Query(ctx, c.sql)
		if err != nil {
			return fmt.Errorf("ledger check %q: %w", c.what, err)
		}
		for rows.Next() {
			var detail string
			if err := rows.Scan(&detail); err != nil {
				rows.Close()
				return err
			}
			problems = append(problems, c.what+": "+detail)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	if len(problems) > 0 {
		return errors.New("ledger " + l.asset + " is inconsistent:\n  " + strings.Join(problems, "\n  "))
	}
	return nil
}
