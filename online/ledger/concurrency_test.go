package ledger

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// Sixteen workers make thousands of random transfers among twenty customers;
// every one of them hits the same "merchant" account half the time. After
// the storm: money is conserved, nobody is negative, caches equal entries,
// every acknowledged transfer is recorded exactly once and no refused one at
// all, and each balance equals what the acknowledged transfers imply.
func TestConcurrentTransfersKeepInvariants(t *testing.T) {
	const (
		workers   = 16
		perWorker = 200
		customers = 20
		initial   = 1_000_000
	)
	l := newLedger(t, workers+4)
	ctx := testenv.Ctx(t, 5*time.Minute)
	names := []string{"merchant"}
	for i := 0; i < customers; i++ {
		names = append(names, fmt.Sprintf("customer-%02d", i))
	}
	for _, n := range names {
		if _, err := l.CreateAccount(ctx, n); err != nil {
			t.Fatal(err)
		}
		fund(t, l, n, initial)
	}

	type outcome struct {
		req  TransferRequest
		txID int64
		err  error
	}
	results := make([][]outcome, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for i := 0; i < perWorker; i++ {
				from := names[1+rng.IntN(customers)]
				to := names[1+rng.IntN(customers)]
				switch rng.IntN(4) {
				case 0, 1:
					to = "merchant"
				case 2:
					from = "merchant"
				}
				if from == to {
					to = "merchant"
					if from == "merchant" {
						to = names[1]
					}
				}
				req := TransferRequest{From: from, To: to, Amount: 1 + rng.Int64N(300_000), Memo: fmt.Sprintf("w%d-%d", w, i)}
				tr, err := l.Transfer(ctx, req)
				results[w] = append(results[w], outcome{req: req, txID: tr.TxID, err: err})
			}
		}()
	}
	wg.Wait()

	if err := l.Check(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{}
	for _, n := range names {
		want[n] = initial
	}
	acked := map[int64]TransferRequest{}
	refusedMemos := []string{}
	var insufficient, other int
	for _, rs := range results {
		for _, r := range rs {
			if r.err != nil {
				refusedMemos = append(refusedMemos, r.req.Memo)
				if errors.Is(r.err, ErrInsufficientFunds) {
					insufficient++
				} else {
					other++
					t.Errorf("transfer %+v: unexpected error %v", r.req, r.err)
				}
				continue
			}
			if _, dup := acked[r.txID]; dup {
				t.Fatalf("transaction id %d acknowledged twice", r.txID)
			}
			acked[r.txID] = r.req
			want[r.req.From] -= r.req.Amount
			want[r.req.To] += r.req.Amount
		}
	}
	if len(acked) < workers*perWorker/2 || insufficient == 0 {
		t.Fatalf("the test did not exercise both paths: %d acknowledged, %d insufficient", len(acked), insufficient)
	}
	if st := l.Runner().Stats(); st.Retries == 0 {
		t.Fatal("the workers never collided: the serializable retries were not exercised")
	}

	// Every acknowledged transfer is in the ledger exactly once, as recorded.
	rows, err := l.Runner().Pool().Query(ctx, `
		SELECT t.id, t.memo, f.name, tt.name, -ef.available_delta
		FROM btc.ledger_transactions t
		JOIN btc.ledger_entries ef ON ef.tx_id = t.id AND ef.available_delta < 0
		JOIN btc.accounts f ON f.id = ef.account_id
		JOIN btc.ledger_entries et ON et.tx_id = t.id AND et.available_delta > 0
		JOIN btc.accounts tt ON tt.id = et.account_id
		WHERE t.kind = 'transfer'`)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for rows.Next() {
		var id, amt int64
		var memo, from, to string
		if err := rows.Scan(&id, &memo, &from, &to, &amt); err != nil {
			t.Fatal(err)
		}
		req, ok := acked[id]
		if !ok {
			t.Errorf("ledger holds transfer %d (%s) that was never acknowledged", id, memo)
			continue
		}
		if seen[id] {
			t.Errorf("transfer %d recorded twice", id)
		}
		seen[id] = true
		if req.Memo != memo || req.From != from || req.To != to || req.Amount != amt {
			t.Errorf("transfer %d recorded as %s %s->%s %d, acknowledged as %+v", id, memo, from, to, amt, req)
		}
	}
	rows.Close()
	if len(seen) != len(acked) {
		t.Fatalf("%d acknowledged transfers, %d in the ledger", len(acked), len(seen))
	}
	var leaked int
	if err := l.Runner().Pool().QueryRow(ctx, `SELECT count(*) FROM btc.ledger_transactions WHERE memo = ANY($1)`, refusedMemos).Scan(&leaked); err != nil || leaked != 0 {
		t.Fatalf("%d refused transfers are in the ledger (%v)", leaked, err)
	}
	var total int64
	for _, n := range names {
		a, err := l.GetAccount(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		if a.Available != want[n] {
			t.Errorf("%s: balance %d, acknowledged transfers imply %d", n, a.Available, want[n])
		}
		total += a.Available
	}
	if total != int64(len(names))*initial {
		t.Fatalf("customer money not conserved: %d != %d", total, int64(len(names))*initial)
	}
	st := l.Runner().Stats()
	t.Logf("%d transfers acknowledged, %d refused for insufficient funds, %d other; runner %+v",
		len(acked), insufficient, other, st)
}

// Sixteen workers post between four customers and the hot wallet, the shape
// of deposit credits and withdrawals, crediting and debiting at random (a
// debit larger than the balance is refused). The customers are few, so
// postings collide on their rows and retry. After the storm: the ledger
// check holds, each customer's balance is what the acknowledged postings
// imply, the hot wallet holds exactly the opposite of the customers, and
// the postings were spread over more of the hot wallet's slots than there
// are workers.
func TestConcurrentInternalPostingsKeepInvariants(t *testing.T) {
	const (
		workers   = 16
		perWorker = 150
		customers = 4
		initial   = 500_000
	)
	l := newLedger(t, workers+4)
	ctx := testenv.Ctx(t, 5*time.Minute)
	ids := make([]int64, customers)
	want := make(map[int64]int64, customers)
	for i := range ids {
		a, err := l.CreateAccount(ctx, fmt.Sprintf("depositor-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		fund(t, l, a.Name, initial)
		ids[i], want[a.ID] = a.ID, initial
	}
	var hot int64
	if err := l.Runner().InTx(ctx, "hot", func(tx *store.Tx) (err error) {
		hot, _, err = l.Internal(tx, HotWallet)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	before := l.Runner().Stats()

	type outcome struct {
		account, amount int64
		err             error
	}
	results := make([][]outcome, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 15))
			for range perWorker {
				c := ids[rng.IntN(customers)]
				amt := 1 + rng.Int64N(100_000)
				if rng.IntN(2) == 0 {
					amt = -amt // a withdrawal: the customer pays the hot wallet
				}
				err := l.Runner().InTx(ctx, "internal", func(tx *store.Tx) error {
					_, err := l.PostTx(tx, "test_internal", "", []Posting{{AccountID: c, Available: amt}, {AccountID: hot, Available: -amt}})
					return err
				})
				results[w] = append(results[w], outcome{c, amt, err})
			}
		}()
	}
	wg.Wait()

	if err := l.Check(ctx); err != nil {
		t.Fatal(err)
	}
	var acked, refused int
	for _, rs := range results {
		for _, r := range rs {
			switch {
			case r.err == nil:
				acked++
				want[r.account] += r.amount
			case errors.Is(r.err, ErrInsufficientFunds) && r.amount < 0:
				refused++
			default:
				t.Errorf("posting %d to %d: %v", r.amount, r.account, r.err)
			}
		}
	}
	st := l.Runner().Stats()
	if acked < workers*perWorker/2 || refused == 0 {
		t.Fatalf("the test did not exercise both paths: %d acknowledged, %d refused", acked, refused)
	}
	if st.Retries == before.Retries {
		t.Fatal("the workers never collided: the serializable retries were not exercised")
	}
	var customersTotal int64
	for _, id := range ids {
		var avail int64
		if err := l.Runner().Pool().QueryRow(ctx, `SELECT available FROM btc.balances WHERE account_id = $1`, id).Scan(&avail); err != nil {
			t.Fatal(err)
		}
		if avail != want[id] {
			t.Errorf("account %d: balance %d, acknowledged postings imply %d", id, avail, want[id])
		}
		customersTotal += avail
	}
	var hotTotal int64
	var slotsUsed int
	if err := l.Runner().Pool().QueryRow(ctx, `SELECT (SELECT sum(available) FROM btc.balances WHERE account_id = $1),
		(SELECT count(DISTINCT slot) FROM btc.ledger_entries e JOIN btc.ledger_transactions t ON t.id = e.tx_id
			WHERE e.account_id = $1 AND t.kind = 'test_internal')`, hot).Scan(&hotTotal, &slotsUsed); err != nil {
		t.Fatal(err)
	}
	if hotTotal != -customersTotal {
		t.Fatalf("hot wallet %d, customers %d: they must be opposite", hotTotal, customersTotal)
	}
	if slotsUsed <= workers {
		t.Fatalf("postings used %d of the hot wallet's slots, no more than the %d workers", slotsUsed, workers)
	}
	t.Logf("%d postings acknowledged, %d refused, %d hot wallet slots used; runner %+v", acked, refused, slotsUsed, st)
}
