package addresses

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg"

	"github.com/cryptoassets/cryptoassets/internal/storetest"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const tpub84 = "wpkh([73c5da0a/84'/1'/0']tpubDC8msFGeGuwnKG9Upg7DM2b4DaRqg3CUZa5g8v2SRQ6K4NSkxUgd7HsL2XVWbVm39yBA4LAxysQAm397zwQSQoQgewGiYZqrA9DsP4zbQ1M/<0;1>/*)"

func newIssuer(t testing.TB, conns int32) (*Issuer, *ledger.Ledger) {
	t.Helper()
	l, err := ledger.New(storetest.Runner(t, conns, "btc"), "btc")
	if err != nil {
		t.Fatal(err)
	}
	key, err := ParseKey(tpub84, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	iss, err := NewIssuer(context.Background(), l, key)
	if err != nil {
		t.Fatal(err)
	}
	return iss, l
}

func TestConcurrentIssuingNeverRepeats(t *testing.T) {
	iss, l := newIssuer(t, 20)
	ctx := testenv.Ctx(t, 2*time.Minute)
	const workers, each = 16, 25
	for w := 0; w < workers; w++ {
		if _, err := l.CreateAccount(ctx, fmt.Sprintf("user-%d", w)); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	owner := map[string]string{}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			acct := fmt.Sprintf("user-%d", w)
			for i := 0; i < each; i++ {
				var a Address
				err := l.Runner().InTx(ctx, "issue", func(tx *store.Tx) error {
					var err error
					a, err = iss.NewAddressTx(tx, acct, "")
					return err
				})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				if prev, dup := owner[a.Address]; dup {
					mu.Unlock()
					errs <- fmt.Errorf("%s handed to %s and %s", a.Address, prev, acct)
					return
				}
				owner[a.Address] = acct
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var n, maxIdx, next int
	if err := l.Runner().Pool().QueryRow(ctx, `SELECT count(*), max(idx) FROM btc.addresses`).Scan(&n, &maxIdx); err != nil {
		t.Fatal(err)
	}
	if err := l.Runner().Pool().QueryRow(ctx, `SELECT next_receive FROM btc.wallets WHERE id = 1`).Scan(&next); err != nil {
		t.Fatal(err)
	}
	if n != workers*each || maxIdx != n-1 || next != n {
		t.Fatalf("%d addresses, max index %d, next %d: indexes must run 0..n-1 without gaps", n, maxIdx, next)
	}
}

func TestIssuerRefusals(t *testing.T) {
	iss, l := newIssuer(t, 4)
	ctx := testenv.Ctx(t, time.Minute)
	if _, err := iss.NewAddresses(ctx, "nobody", "", 1); !errors.Is(err, ledger.ErrUnknownAccount) {
		t.Fatalf("unknown account: %v", err)
	}
	if _, err := iss.NewAddresses(ctx, "internal:hot_wallet", "", 1); !errors.Is(err, ledger.ErrInternalAccount) {
		t.Fatalf("internal account: %v", err)
	}
	if _, err := l.CreateAccount(ctx, "amy"); err != nil {
		t.Fatal(err)
	}
	as, err := iss.NewAddresses(ctx, "amy", "invoice 7", 2)
	if err != nil || len(as) != 2 || as[0].Label != "invoice 7" || as[1].Index != 1 || as[0].Path != "m/84'/1'/0'/0/0" {
		t.Fatalf("issued %+v %v", as, err)
	}
	listed, err := iss.List(ctx, "amy", 10)
	if err != nil || len(listed) != 2 || listed[0].Address != as[1].Address {
		t.Fatalf("list %+v %v", listed, err)
	}
	// Another key for the same asset is refused: its addresses would not
	// be the ones the database knows.
	other, err := ParseKey(strings.Replace(strings.Replace(tpub84, "wpkh(", "tr(", 1), "84'", "86'", 1), &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewIssuer(ctx, l, other); !errors.Is(err, ErrKeyChanged) {
		t.Fatalf("changed key: %v", err)
	}
	key, _ := ParseKey(tpub84, &chaincfg.RegressionNetParams)
	if _, err := NewIssuer(ctx, l, key); err != nil {
		t.Fatalf("the same key again: %v", err)
	}
}

// Addresses derived and stored per second, in batches of 500 per
// transaction and one per transaction, beside the raw derivation rate.
//
//	go test ./online/addresses -run '^$' -bench Issue
func BenchmarkIssue(b *testing.B) {
	key, _ := ParseKey(tpub84, &chaincfg.RegressionNetParams)
	b.Run("derive-only", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := key.Derive(0, uint32(i)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "addresses/s")
	})
	for _, batch := range []int{500, 1} {
		b.Run(fmt.Sprintf("batch-%d", batch), func(b *testing.B) {
			iss, l := newIssuer(b, 4)
			ctx := context.Background()
			if _, err := l.CreateAccount(ctx, "bench"); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for done := 0; done < b.N; done += batch {
				if _, err := iss.NewAddresses(ctx, "bench", "", min(batch, b.N-done)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "addresses/s")
		})
	}
}
