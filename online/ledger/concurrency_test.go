package ledger

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/cryptoassets/cryptoassets/internal/testenv"
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
