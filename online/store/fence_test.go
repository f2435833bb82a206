package store

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cryptoassets/cryptoassets/internal/testenv"
)

// A fence runs first in every transaction of a fenced Runner: when it
// refuses, the function never runs, nothing is written and the refusal is
// not retried; a conflict inside the fence is retried like any other. The
// Runner it came from is not fenced, and both count into the same stats.
func TestFencedRunner(t *testing.T) {
	pool := testenv.NewPool(t, 4)
	setupTable(t, pool, `CREATE TABLE fence_epoch (epoch bigint NOT NULL); INSERT INTO fence_epoch VALUES (7);
		CREATE TABLE fence_writes (n int NOT NULL)`)
	base := NewRunner(pool, RunnerConfig{MaxAttempts: 3, BaseDelay: time.Millisecond}, nil)
	ctx := testenv.Ctx(t, time.Minute)
	fenceAt := func(epoch int64) Fence {
		return func(tx *Tx) error {
			var n int
			if err := tx.QueryRow(`SELECT count(*) FROM fence_epoch WHERE epoch = $1`, epoch).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return fmt.Errorf("epoch %d: %w", epoch, ErrFenced)
			}
			return nil
		}
	}
	conflictOnce := 0
	cases := []struct {
		name     string
		runner   *Runner
		once     bool
		wantErr  error
		wantRuns int // times the function ran
		wantRows int // rows it wrote, in total
	}{
		{"current epoch writes", base.Fenced(fenceAt(7)), false, nil, 1, 1},
		{"stale epoch refused before the function", base.Fenced(fenceAt(6)), false, ErrFenced, 0, 1},
		{"stale epoch refused, InTxOnce", base.Fenced(fenceAt(6)), true, ErrFenced, 0, 1},
		{"the unfenced runner is unchanged", base, false, nil, 1, 2},
		{"a conflict in the fence is retried", base.Fenced(func(tx *Tx) error {
			if conflictOnce++; conflictOnce == 1 {
				_, err := tx.Exec(`DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$`)
				return err
			}
			return fenceAt(7)(tx)
		}), false, nil, 1, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			runs := 0
			fn := func(tx *Tx) error {
				runs++
				_, err := tx.Exec(`INSERT INTO fence_writes VALUES (1)`)
				return err
			}
			var err error
			if tc.once {
				err = tc.runner.InTxOnce(ctx, "write", fn)
			} else {
				err = tc.runner.InTx(ctx, "write", fn)
			}
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if errors.Is(err, ErrFenced) && IsRetryable(err) {
				t.Fatal("a fence refusal must not be retryable")
			}
			if runs != tc.wantRuns {
				t.Fatalf("the function ran %d times, want %d", runs, tc.wantRuns)
			}
			var rows int
			if err := pool.QueryRow(ctx, `SELECT count(*) FROM fence_writes`).Scan(&rows); err != nil {
				t.Fatal(err)
			}
			if rows != tc.wantRows {
				t.Fatalf("%d rows written, want %d", rows, tc.wantRows)
			}
		})
	}
	st := base.Stats()
	// 5 cases, one of them tried twice; three commits.
	if st.Attempts != 6 || st.Commits != 3 || st.Retries != 1 {
		t.Fatalf("shared stats %+v: want 6 attempts, 3 commits, 1 retry", st)
	}
}
