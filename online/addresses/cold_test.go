package addresses

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg"

	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/store"
	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
)

// coldKey is the P2WPKH account of a seed filled with fill, as
// `cryptoassets-signer xpub` prints it.
func coldKey(t testing.TB, fill byte) *AccountKey {
	t.Helper()
	m, err := hdkeys.NewMaster(bytes.Repeat([]byte{fill}, 64), &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	a, err := m.Account(hdkeys.P2WPKH, 0)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseKey(a.Descriptor(), &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// window returns the number of stored cold addresses and the highest index
// of branch, and the wallet's next index of that branch.
func window(t testing.TB, l *ledger.Ledger, branch int) (n, maxIdx, next int) {
	t.Helper()
	col := map[int]string{0: "next_receive", 1: "next_change"}[branch]
	if err := l.Runner().Pool().QueryRow(context.Background(), `SELECT count(*), coalesce(max(idx), -1), (SELECT `+col+` FROM btc.wallets WHERE id = 2)
		FROM btc.addresses WHERE wallet_id = 2 AND branch = $1`, branch).Scan(&n, &maxIdx, &next); err != nil {
		t.Fatal(err)
	}
	return n, maxIdx, next
}

// The cold wallet keeps gap addresses stored past the last one taken and
// past the last one that received a coin, and never hands out either again.
func TestColdWindow(t *testing.T) {
	_, l := newIssuer(t, 4)
	ctx := testenv.Ctx(t, time.Minute)
	const gap = 5
	key := coldKey(t, 9)
	c, err := NewCold(ctx, l, key, gap)
	if err != nil {
		t.Fatal(err)
	}
	for branch := 0; branch <= 1; branch++ {
		if n, maxIdx, next := window(t, l, branch); n != gap || maxIdx != gap-1 || next != 0 {
			t.Fatalf("branch %d after registration: %d rows, max %d, next %d", branch, n, maxIdx, next)
		}
	}
	var took Change
	err = l.Runner().InTx(ctx, "cold-next", func(tx *store.Tx) error {
		took, err = c.NextTx(tx, 1)
		return err
	})
	want, _ := key.Derive(1, 0)
	if err != nil || took.Index != 0 || took.Address != want.Address || took.ID == 0 || took.Path != "m/84'/1'/0'/1/0" {
		t.Fatalf("first change: %+v %v", took, err)
	}
	if n, maxIdx, next := window(t, l, 1); n != gap+1 || maxIdx != gap || next != 1 {
		t.Fatalf("change branch after one taken: %d rows, max %d, next %d", n, maxIdx, next)
	}

	// A deposit made by hand to the last receive address of the window.
	peek, err := c.Peek(ctx, 0)
	if err != nil || peek.Index != 0 {
		t.Fatalf("peek: %+v %v", peek, err)
	}
	var addrID int64
	var script []byte
	if err := l.Runner().Pool().QueryRow(ctx, `SELECT id, script FROM btc.addresses WHERE wallet_id = 2 AND branch = 0 AND idx = $1`, gap-1).Scan(&addrID, &script); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Runner().Pool().Exec(ctx, `INSERT INTO btc.coins (txid, vout, wallet_id, address_id, amount, script) VALUES ($1, 0, 2, $2, 50000, $3)`,
		bytes.Repeat([]byte{7}, 32), addrID, script); err != nil {
		t.Fatal(err)
	}
	if err := c.Extend(ctx); err != nil {
		t.Fatal(err)
	}
	if n, maxIdx, next := window(t, l, 0); n != 2*gap || maxIdx != 2*gap-1 || next != gap {
		t.Fatalf("receive branch after a coin at %d: %d rows, max %d, next %d", gap-1, n, maxIdx, next)
	}
	if err := l.Runner().InTx(ctx, "cold-next", func(tx *store.Tx) error {
		took, err = c.NextTx(tx, 0)
		return err
	}); err != nil || took.Index != gap {
		t.Fatalf("the next receive address after the used one: %+v %v", took, err)
	}
	// Registering again (a restart) changes nothing.
	if _, err := NewCold(ctx, l, key, gap); err != nil {
		t.Fatal(err)
	}
	if n, _, next := window(t, l, 0); n != 2*gap+1 || next != gap+1 {
		t.Fatalf("after a restart: %d rows, next %d", n, next)
	}
}

func TestColdRefusals(t *testing.T) {
	iss, l := newIssuer(t, 4)
	ctx := testenv.Ctx(t, time.Minute)
	c, err := NewCold(ctx, l, coldKey(t, 9), 0)
	if err != nil {
		t.Fatal(err)
	}
	if c.Gap() != DefaultColdGap || c.Account() == nil {
		t.Fatalf("gap %d, account %v", c.Gap(), c.Account())
	}
	tests := []struct {
		name string
		key  Deriver
		want string
	}{
		{"another cold key", coldKey(t, 8), ErrKeyChanged.Error()},
		{"the hot wallet's key", iss.key, "is the hot wallet's key"},
		{"no key", nil, "no key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewCold(ctx, l, tc.key, 5)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want %q, got %v", tc.want, err)
			}
		})
	}
	if n, _, _ := window(t, l, 0); n != DefaultColdGap {
		t.Fatalf("a refused key stored addresses: %d rows", n)
	}
	err = l.Runner().InTx(ctx, "cold-next", func(tx *store.Tx) error {
		_, err := c.NextTx(tx, 2)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "branch 2") {
		t.Fatalf("branch 2: %v", err)
	}
	if _, err := c.Peek(ctx, 3); err == nil {
		t.Fatal("peek at branch 3 accepted")
	}
}

// Concurrent takers of cold addresses never get the same one.
func TestColdConcurrentNextNeverRepeats(t *testing.T) {
	_, l := newIssuer(t, 12)
	ctx := testenv.Ctx(t, 2*time.Minute)
	c, err := NewCold(ctx, l, coldKey(t, 9), 3)
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 10
	var mu sync.Mutex
	seen := map[string]bool{}
	retried := 0
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				var ch Change
				err := l.Runner().InTx(ctx, "cold-next", func(tx *store.Tx) error {
					if tx.Attempt() > 1 {
						mu.Lock()
						retried++
						mu.Unlock()
					}
					var err error
					ch, err = c.NextTx(tx, uint32(i%2))
					return err
				})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				if seen[ch.Address] {
					mu.Unlock()
					errs <- fmt.Errorf("%s handed out twice", ch.Address)
					return
				}
				seen[ch.Address] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if retried == 0 {
		t.Fatal("no transaction collided: the test did not exercise concurrent takers")
	}
	for branch := 0; branch <= 1; branch++ {
		if n, maxIdx, next := window(t, l, branch); next != workers*each/2 || maxIdx != next+2 || n != next+3 {
			t.Fatalf("branch %d: %d rows, max %d, next %d", branch, n, maxIdx, next)
		}
	}
}
