package ledger

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cryptoassets/cryptoassets/internal/storetest"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/store"
	"github.com/cryptoassets/cryptoassets/shared/amount"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func newLedger(t testing.TB, conns int32) *Ledger {
	t.Helper()
	l, err := New(storetest.Runner(t, conns, "btc"), "btc")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// fund credits a customer from the hot wallet, as a confirmed deposit would.
func fund(t testing.TB, l *Ledger, name string, sat int64) {
	t.Helper()
	a, err := l.GetAccount(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	err = l.Runner().InTx(context.Background(), "fund", func(tx *store.Tx) error {
		hot, _, err := l.Internal(tx, HotWallet)
		if err != nil {
			return err
		}
		_, err = l.PostTx(tx, "test_funding", "", []Posting{{AccountID: hot, Available: -sat}, {AccountID: a.ID, Available: sat}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAccountsAndTransfers(t *testing.T) {
	l := newLedger(t, 4)
	ctx := testenv.Ctx(t, time.Minute)
	for _, n := range []string{"alice", "bob"} {
		if _, err := l.CreateAccount(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	fund(t, l, "alice", 100_000)
	tr, err := l.Transfer(ctx, TransferRequest{From: "alice", To: "bob", Amount: 30_000, Memo: "lunch"})
	if err != nil {
		t.Fatal(err)
	}
	if tr.TxID == 0 || tr.Amount != 30_000 {
		t.Fatalf("transfer %+v", tr)
	}
	alice, _ := l.GetAccount(ctx, "alice")
	bob, _ := l.GetAccount(ctx, "bob")
	if alice.Available != 70_000 || bob.Available != 30_000 || alice.Pending != 0 {
		t.Fatalf("balances alice %+v bob %+v", alice, bob)
	}
	hist, err := l.History(ctx, "bob", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 1 || hist[0].Available != 30_000 || hist[0].Memo != "lunch" || hist[0].Kind != "transfer" ||
		len(hist[0].Counterparties) != 1 || hist[0].Counterparties[0] != "alice" {
		t.Fatalf("history %+v", hist)
	}
	// Paging: newest first, then older.
	for i := 0; i < 5; i++ {
		if _, err := l.Transfer(ctx, TransferRequest{From: "alice", To: "bob", Amount: int64(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	page1, _ := l.History(ctx, "bob", 0, 4)
	page2, _ := l.History(ctx, "bob", page1[len(page1)-1].ID, 4)
	if len(page1) != 4 || len(page2) != 2 || page1[0].Available != 5 || page2[1].Available != 30_000 {
		t.Fatalf("pages %+v / %+v", page1, page2)
	}
	accts, err := l.ListAccounts(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(accts) != 7 { // five internal, two customers
		t.Fatalf("listed %d accounts", len(accts))
	}
	var hot Account
	for _, a := range accts {
		if a.Kind == HotWallet {
			hot = a
		}
	}
	if hot.Available != -100_000 {
		t.Fatalf("hot wallet balance %d: it is the counterpart of the funding", hot.Available)
	}
	if err := l.Check(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestTransferRefusals(t *testing.T) {
	l := newLedger(t, 4)
	ctx := testenv.Ctx(t, time.Minute)
	for _, n := range []string{"alice", "bob"} {
		if _, err := l.CreateAccount(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	fund(t, l, "alice", 1000)
	tests := []struct {
		name string
		req  TransferRequest
		want error
	}{
		{"insufficient", TransferRequest{From: "alice", To: "bob", Amount: 1001}, ErrInsufficientFunds},
		{"empty account", TransferRequest{From: "bob", To: "alice", Amount: 1}, ErrInsufficientFunds},
		{"zero", TransferRequest{From: "alice", To: "bob", Amount: 0}, amount.ErrNotPositive},
		{"negative", TransferRequest{From: "alice", To: "bob", Amount: -5}, amount.ErrNotPositive},
		{"over supply", TransferRequest{From: "alice", To: "bob", Amount: amount.MaxSat + 1}, amount.ErrTooLarge},
		{"unknown from", TransferRequest{From: "carol", To: "bob", Amount: 1}, ErrUnknownAccount},
		{"unknown to", TransferRequest{From: "alice", To: "carol", Amount: 1}, ErrUnknownAccount},
		{"same account", TransferRequest{From: "alice", To: "alice", Amount: 1}, ErrSameAccount},
		{"internal source", TransferRequest{From: "internal:hot_wallet", To: "alice", Amount: 1}, ErrInternalAccount},
		{"internal destination", TransferRequest{From: "alice", To: "internal:network_fees", Amount: 1}, ErrInternalAccount},
		{"memo too long", TransferRequest{From: "alice", To: "bob", Amount: 1, Memo: strings.Repeat("x", 501)}, ErrMemoTooLong},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := l.Transfer(ctx, tc.req)
			if !errors.Is(err, tc.want) {
				t.Fatalf("want %v, got %v", tc.want, err)
			}
		})
	}
	alice, _ := l.GetAccount(ctx, "alice")
	bob, _ := l.GetAccount(ctx, "bob")
	if alice.Available != 1000 || bob.Available != 0 {
		t.Fatalf("a refused transfer moved money: alice %d bob %d", alice.Available, bob.Available)
	}
	if err := l.Check(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestAccountNames(t *testing.T) {
	l := newLedger(t, 4)
	ctx := testenv.Ctx(t, time.Minute)
	if _, err := l.CreateAccount(ctx, "user:42@shop"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", " alice", "internal:x", "a b", strings.Repeat("a", 129), "-x", "ümlaut"} {
		if _, err := l.CreateAccount(ctx, name); !errors.Is(err, ErrInvalidName) {
			t.Errorf("CreateAccount(%q): want ErrInvalidName, got %v", name, err)
		}
	}
	if _, err := l.CreateAccount(ctx, "user:42@shop"); !errors.Is(err, ErrAccountExists) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := l.GetAccount(ctx, "nobody"); !errors.Is(err, ErrUnknownAccount) {
		t.Fatalf("unknown: %v", err)
	}
}

// The database itself refuses what the code should never attempt.
func TestDatabaseGuards(t *testing.T) {
	l := newLedger(t, 4)
	ctx := testenv.Ctx(t, time.Minute)
	if _, err := l.CreateAccount(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	alice, _ := l.GetAccount(ctx, "alice")
	pool := l.Runner().Pool()
	tests := []struct {
		name string
		fn   func(tx *store.Tx) error
		want string
	}{
		{"unbalanced posting", func(tx *store.Tx) error {
			_, err := tx.Exec(`WITH t AS (INSERT INTO btc.ledger_transactions (kind) VALUES ('x') RETURNING id)
				INSERT INTO btc.ledger_entries (tx_id, account_id, slot, available_delta, pending_delta) SELECT id, $1, 0, 5, 0 FROM t`, alice.ID)
			return err
		}, "does not balance"},
		{"one of two transactions in one statement unbalanced", func(tx *store.Tx) error {
			hot, _, _ := l.Internal(tx, HotWallet)
			_, err := tx.Exec(`WITH t AS (INSERT INTO btc.ledger_transactions (kind) VALUES ('x'), ('y') RETURNING id, kind)
				INSERT INTO btc.ledger_entries (tx_id, account_id, slot, available_delta, pending_delta)
				SELECT t.id, e.account_id, 0, e.delta, 0 FROM t JOIN (VALUES ('x', $1::bigint, 5::bigint), ('x', $2, -5), ('y', $1, 5), ('y', $2, -4)) AS e(kind, account_id, delta) ON e.kind = t.kind`,
				alice.ID, hot)
			return err
		}, "does not balance"},
		{"customer below zero", func(tx *store.Tx) error {
			hot, _, _ := l.Internal(tx, HotWallet)
			_, _, err := l.post(tx, "x", "", []Posting{{AccountID: alice.ID, Available: -1}, {AccountID: hot, Available: 1}}, func(int64) int16 { return 0 })
			if errors.Is(err, ErrInsufficientFunds) {
				return errors.New("customer_balance_not_negative")
			}
			return err
		}, "customer_balance_not_negative"},
		{"balance edited by hand", func(tx *store.Tx) error {
			_, err := tx.Exec(`UPDATE btc.balances SET available = 100 WHERE account_id = $1`, alice.ID)
			return err
		}, "change only by posting"},
		{"entry deleted", func(tx *store.Tx) error {
			_, err := tx.Exec(`DELETE FROM btc.ledger_entries`)
			return err
		}, "append-only"},
		{"balance row born rich", func(tx *store.Tx) error {
			_, err := tx.Exec(`INSERT INTO btc.balances (account_id, slot, customer, available) VALUES ($1, 1, true, 5)`, alice.ID)
			return err
		}, "starts at zero"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := l.Runner().InTx(ctx, tc.name, tc.fn)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error containing %q, got %v", tc.want, err)
			}
		})
	}
	var n int
	_ = pool.QueryRow(ctx, `SELECT count(*) FROM btc.ledger_entries`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d entries written by refused statements", n)
	}
	if err := l.Check(ctx); err != nil {
		t.Fatal(err)
	}
}

// Postings to an internal account take its balance rows in turn, so
// postings begun one after another never share a row until every row has
// been used once (at random, 32 concurrent postings would share one of 256
// rows about one time in nine, and one of them would retry).
func TestInternalSlotsTakeTurns(t *testing.T) {
	l := newLedger(t, 2)
	ctx := testenv.Ctx(t, time.Minute)
	var slots int
	err := l.Runner().InTx(ctx, "turns", func(tx *store.Tx) error {
		hot, hotSlots, err := l.Internal(tx, HotWallet)
		if err != nil {
			return err
		}
		fees, feeSlots, err := l.Internal(tx, NetworkFees)
		if err != nil {
			return err
		}
		if hotSlots != feeSlots {
			t.Fatalf("hot wallet has %d slots, network fees %d", hotSlots, feeSlots)
		}
		slots = hotSlots
		for range 3 * hotSlots {
			if _, err := l.PostTx(tx, "test", "", []Posting{{AccountID: hot, Available: -1}, {AccountID: fees, Available: 1}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Every slot of each account was used exactly three times.
	rows, err := l.Runner().Pool().Query(ctx, `SELECT a.kind, e.slot, count(*) FROM btc.ledger_entries e JOIN btc.accounts a ON a.id = e.account_id
		GROUP BY a.kind, e.slot ORDER BY a.kind, e.slot`)
	if err != nil {
		t.Fatal(err)
	}
	uses := map[string][]int{}
	for rows.Next() {
		var kind string
		var slot, n int
		if err := rows.Scan(&kind, &slot, &n); err != nil {
			t.Fatal(err)
		}
		uses[kind] = append(uses[kind], n)
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	for _, kind := range []string{HotWallet, NetworkFees} {
		if len(uses[kind]) != slots {
			t.Errorf("%s: %d of %d slots used: %v", kind, len(uses[kind]), slots, uses[kind])
			continue
		}
		for slot, n := range uses[kind] {
			if n != 3 {
				t.Errorf("%s: slot %d used %d times, want 3 (uses per slot %v)", kind, slot, n, uses[kind])
				break
			}
		}
	}
}

// PostTx looks no account up before posting; the posting trigger refuses an
// entry for an account that does not exist, and nothing is written.
func TestPostingToAnUnknownAccountIsRefused(t *testing.T) {
	l := newLedger(t, 2)
	ctx := testenv.Ctx(t, time.Minute)
	err := l.Runner().InTx(ctx, "unknown", func(tx *store.Tx) error {
		hot, _, err := l.Internal(tx, HotWallet)
		if err != nil {
			return err
		}
		_, err = l.PostTx(tx, "test", "", []Posting{{AccountID: hot, Available: -1}, {AccountID: 987654, Available: 1}})
		return err
	})
	if !errors.Is(err, ErrUnknownAccount) || !strings.Contains(err.Error(), "987654") {
		t.Fatalf("posting to account 987654: %v", err)
	}
	var n int
	if err := l.Runner().Pool().QueryRow(ctx, `SELECT count(*) FROM btc.ledger_entries`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d entries written (%v)", n, err)
	}
}
