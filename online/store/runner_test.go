package store

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cryptoassets/cryptoassets/internal/testenv"
)

func setupTable(t *testing.T, pool *pgxpool.Pool, sql string) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), sql); err != nil {
		t.Fatal(err)
	}
}

var errNobodyOnCall = errors.New("would leave nobody on call")

// Two doctors each take themselves off call if someone else is on call: the
// textbook write skew. Both read before either writes; SERIALIZABLE must
// refuse one, and the retry must see the other's commit.
func TestRunnerResolvesWriteSkewByRetry(t *testing.T) {
	pool := testenv.NewPool(t, 4)
	setupTable(t, pool, `CREATE TABLE doctors (name text PRIMARY KEY, on_call bool NOT NULL);
		INSERT INTO doctors VALUES ('alice', true), ('bob', true)`)
	r := NewRunner(pool, RunnerConfig{MaxAttempts: 5, BaseDelay: time.Millisecond}, nil)
	ctx := testenv.Ctx(t, time.Minute)

	var bothRead sync.WaitGroup
	bothRead.Add(2)
	offCall := func(name string) error {
		return r.InTx(ctx, "off-call", func(tx *Tx) error {
			var n int
			if err := tx.QueryRow(`SELECT count(*) FROM doctors WHERE on_call`).Scan(&n); err != nil {
				return err
			}
			if tx.Attempt() == 1 {
				bothRead.Done()
				bothRead.Wait()
			}
			if n < 2 {
				return errNobodyOnCall
			}
			_, err := tx.Exec(`UPDATE doctors SET on_call = false WHERE name = $1`, name)
			return err
		})
	}
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, name := range []string{"alice", "bob"} {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = offCall(name) }()
	}
	wg.Wait()

	var ok, refused int
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, errNobodyOnCall):
			refused++
		default:
			t.Fatalf("unexpected error: %v", err)
		}
	}
	if ok != 1 || refused != 1 {
		t.Fatalf("want one success and one refusal after retry, got %d and %d (%v)", ok, refused, errs)
	}
	var onCall int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM doctors WHERE on_call`).Scan(&onCall); err != nil {
		t.Fatal(err)
	}
	if onCall != 1 {
		t.Fatalf("invariant broken: %d doctors on call", onCall)
	}
	if st := r.Stats(); st.Retries < 1 || st.GiveUps != 0 || st.Commits != 1 {
		t.Fatalf("stats %+v: want at least one retry, no give-up, one commit", st)
	}
}

// conflictEveryTime makes each attempt lose a real serialization conflict: it
// reads a row, another connection updates and commits that row, and then it
// tries to update it too.
func conflictEveryTime(t *testing.T, pool *pgxpool.Pool) func(*Tx) error {
	return func(tx *Tx) error {
		var v int
		if err := tx.QueryRow(`SELECT v FROM counter WHERE id = 1`).Scan(&v); err != nil {
			return err
		}
		if _, err := pool.Exec(context.Background(), `UPDATE counter SET v = v + 100 WHERE id = 1`); err != nil {
			t.Errorf("interfering update: %v", err)
		}
		_, err := tx.Exec(`UPDATE counter SET v = $1 WHERE id = 1`, v+1)
		return err
	}
}

func TestRunnerGivesUpAtBound(t *testing.T) {
	pool := testenv.NewPool(t, 4)
	setupTable(t, pool, `CREATE TABLE counter (id int PRIMARY KEY, v int NOT NULL); INSERT INTO counter VALUES (1, 0)`)
	r := NewRunner(pool, RunnerConfig{MaxAttempts: 3, BaseDelay: time.Millisecond}, nil)
	err := r.InTx(testenv.Ctx(t, time.Minute), "always-conflicts", conflictEveryTime(t, pool))
	if !errors.Is(err, ErrConflictUnresolved) {
		t.Fatalf("want ErrConflictUnresolved, got %v", err)
	}
	if !IsRetryable(err) {
		t.Fatalf("the give-up error should still carry the last serialization failure: %v", err)
	}
	want := RunnerStats{Attempts: 3, Retries: 2, GiveUps: 1, Commits: 0}
	if st := r.Stats(); st != want {
		t.Fatalf("stats %+v, want %+v", st, want)
	}
	var v int
	_ = pool.QueryRow(context.Background(), `SELECT v FROM counter`).Scan(&v)
	if v != 300 {
		t.Fatalf("counter = %d: only the three interfering updates should have committed", v)
	}
}

func TestRunnerOnceNeverRetries(t *testing.T) {
	pool := testenv.NewPool(t, 4)
	setupTable(t, pool, `CREATE TABLE counter (id int PRIMARY KEY, v int NOT NULL); INSERT INTO counter VALUES (1, 0)`)
	r := NewRunner(pool, RunnerConfig{MaxAttempts: 5}, nil)
	err := r.InTxOnce(testenv.Ctx(t, time.Minute), "must-not-repeat", conflictEveryTime(t, pool))
	if !IsRetryable(err) {
		t.Fatalf("want the serialization failure returned as is, got %v", err)
	}
	if errors.Is(err, ErrConflictUnresolved) {
		t.Fatalf("the once variant must not claim it retried: %v", err)
	}
	if st := r.Stats(); st.Attempts != 1 || st.Retries != 0 {
		t.Fatalf("stats %+v: want exactly one attempt", st)
	}
}

func TestRunnerDoesNotRetryOrdinaryErrors(t *testing.T) {
	pool := testenv.NewPool(t, 4)
	setupTable(t, pool, `CREATE TABLE things (id int PRIMARY KEY); INSERT INTO things VALUES (1)`)
	boom := errors.New("boom")
	tests := []struct {
		name  string
		fn    func(*Tx) error
		check func(error) bool
	}{
		{"application error", func(tx *Tx) error {
			if _, err := tx.Exec(`INSERT INTO things VALUES (2)`); err != nil {
				return err
			}
			return boom
		}, func(err error) bool { return errors.Is(err, boom) }},
		{"unique violation", func(tx *Tx) error {
			_, err := tx.Exec(`INSERT INTO things VALUES (1)`)
			return err
		}, func(err error) bool { return err != nil && !IsRetryable(err) }},
		{"syntax error", func(tx *Tx) error {
			_, err := tx.Exec(`SELEC 1`)
			return err
		}, func(err error) bool { return err != nil && !IsRetryable(err) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRunner(pool, RunnerConfig{MaxAttempts: 5}, nil)
			err := r.InTx(context.Background(), tc.name, tc.fn)
			if !tc.check(err) {
				t.Fatalf("unexpected error %v", err)
			}
			if st := r.Stats(); st.Attempts != 1 || st.Retries != 0 || st.Commits != 0 {
				t.Fatalf("stats %+v: want one attempt, no retry, no commit", st)
			}
			var n int
			_ = pool.QueryRow(context.Background(), `SELECT count(*) FROM things`).Scan(&n)
			if n != 1 {
				t.Fatalf("rolled-back work is visible: %d rows", n)
			}
		})
	}
}

func TestRunnerLosesNoUpdate(t *testing.T) {
	pool := testenv.NewPool(t, 20)
	setupTable(t, pool, `CREATE TABLE counter (id int PRIMARY KEY, v int NOT NULL); INSERT INTO counter VALUES (1, 0)`)
	r := NewRunner(pool, RunnerConfig{MaxAttempts: 1000, BaseDelay: time.Millisecond, MaxDelay: 20 * time.Millisecond}, nil)
	const workers, each = 16, 40
	ctx := testenv.Ctx(t, 5*time.Minute)
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				errs <- r.InTx(ctx, "increment", func(tx *Tx) error {
					var v int
					if err := tx.QueryRow(`SELECT v FROM counter WHERE id = 1`).Scan(&v); err != nil {
						return err
					}
					_, err := tx.Exec(`UPDATE counter SET v = $1 WHERE id = 1`, v+1)
					return err
				})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var v int
	if err := pool.QueryRow(ctx, `SELECT v FROM counter`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	st := r.Stats()
	if v != workers*each || st.Commits != workers*each {
		t.Fatalf("counter = %d, commits = %d, want %d", v, st.Commits, workers*each)
	}
	if st.Attempts != st.Commits+st.Retries {
		t.Fatalf("stats do not add up: %+v", st)
	}
	t.Logf("%d increments by %d workers: %d retries", v, workers, st.Retries)
	if st.Retries == 0 {
		t.Fatal("the workers never collided: the retries were not exercised")
	}
}

func TestRunnerStopsRetryingWhenCancelled(t *testing.T) {
	pool := testenv.NewPool(t, 4)
	setupTable(t, pool, `CREATE TABLE counter (id int PRIMARY KEY, v int NOT NULL); INSERT INTO counter VALUES (1, 0)`)
	r := NewRunner(pool, RunnerConfig{MaxAttempts: 1000, BaseDelay: 50 * time.Millisecond, MaxDelay: 50 * time.Millisecond}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	fn := conflictEveryTime(t, pool)
	err := r.InTx(ctx, "cancelled", func(tx *Tx) error {
		if tx.Attempt() == 2 {
			cancel()
		}
		return fn(tx)
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	if st := r.Stats(); st.Attempts > 3 {
		t.Fatalf("kept retrying after cancel: %+v", st)
	}
}
