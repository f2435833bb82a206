package deposits

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// roundTrips counts what a connection sends and waits for: statements,
// batches (one round trip each, whatever they hold) and prepares.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (r *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (r *roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}
func (r *roundTrips) TracePrepareStart(ctx context.Context, _ *pgx.Conn, _ pgx.TracePrepareStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TracePrepareEnd(context.Context, *pgx.Conn, pgx.TracePrepareEndData) {}

// tipCounter is the real node, counting the follower's questions for the tip.
type tipCounter struct {
	chain.Node
	n atomic.Int64
}

func (c *tipCounter) Tip(ctx context.Context) (int32, chainhash.Hash, error) {
	c.n.Add(1)
	return c.Node.Tip(ctx)
}

// A block of four deposits, each credited at once, costs a Step six round
// trips to the database (the cursor, the watch set's refresh, BEGIN, the
// reads, the writes, COMMIT), where one statement per row and per event
// cost 46 counted the same way; and a catch-up asks the node's tip once.
func TestBlockOfFourDepositsInSixRoundTripsAndTheTipAskedOncePerCatchUp(t *testing.T) {
	dsn := testenv.NewDatabase(t)
	e := newEnvOn(t, dsn)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	trips := &roundTrips{}
	cfg.MaxConns, cfg.ConnConfig.Tracer = 1, trips // one connection: its statement cache warms once
	pool, err := pgxpool.NewWithConfig(e.ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	l, err := ledger.New(store.NewRunner(pool, store.RunnerConfig{}, nil), "btc")
	if err != nil {
		t.Fatal(err)
	}
	gwen := e.account("gwen", 4)
	node := &tipCounter{Node: e.chain}
	f := NewFollower(l, node, Config{Confirmations: 1, StartHeight: -1}, nil)
	e.sync(f)
	block := func() {
		var pays []devenv.Payment
		for _, a := range gwen {
			pays = append(pays, devenv.Payment{Address: a, Amount: 20_000})
		}
		if _, err := e.faucet.Pay(e.ctx, pays...); err != nil {
			t.Fatal(err)
		}
		e.mine(1)
	}
	for i := 0; i < 3; i++ { // the last is counted, the others warm the statement cache
		block()
		trips.n.Store(0)
		if progressed, err := f.Step(e.ctx); err != nil || !progressed {
			t.Fatalf("step: %v, %v", progressed, err)
		}
	}
	t.Logf("a block of four deposits: %d round trips", trips.n.Load())
	if n := trips.n.Load(); n > 6 {
		t.Fatalf("a block of four deposits took %d round trips, want at most 6", n)
	}
	if st := e.states(); st[Credited] != 12 {
		t.Fatalf("states %v, want 12 credited", st)
	}

	// Twenty blocks behind: one question for the tip to catch up, one more
	// to find it caught up.
	e.mine(20)
	node.n.Store(0)
	e.sync(f)
	if n := node.n.Load(); n != 2 {
		t.Fatalf("catching up 20 blocks asked the tip %d times, want 2", n)
	}
	e.invariants()
}
