package audit

import "testing"

// A reorganisation drops the block holding a booked batch and a credited
// deposit: the audit passes at every moment serve could run it, before the
// batcher has booked the batch back (the follower has moved its spends to
// the mempool), after, and once the batch and the deposit confirm again.
func TestAuditPassesThroughAReorgOfABookedBatch(t *testing.T) {
	e := newEnv(t)
	other := e.NewFork()
	e.Pay("erin", 3_000_000)
	e.Mine(1)
	other.Synced("sync")
	e.requireClean(e.audit())

	// Split: a batch and a deposit confirmed (and booked, credited) on our
	// side only.
	other.Split()
	e.Request("erin", outside(t, 21), 1_000_000)
	e.step()
	e.Pay("frank", 600_000)
	e.Mine(1)
	e.step()
	if n := e.Count(`SELECT count(*) FROM btc.batches WHERE ledger_tx_id IS NOT NULL`); n != 1 {
		t.Fatalf("%d batches booked before the reorg", n)
	}
	if n := e.Count(`SELECT count(*) FROM btc.deposits WHERE state = 'credited'`); n != 2 {
		t.Fatalf("%d deposits credited before the reorg", n)
	}
	e.requireClean(e.audit())

	other.Mine(2)
	other.Join("the reorg")
	e.Sync()
	// The follower has undone the block; the batcher has not looked yet.
	if n := e.Count(`SELECT count(*) FROM btc.batches WHERE ledger_tx_id IS NOT NULL`); n != 1 {
		t.Fatalf("%d batches booked right after the reorg, want the one not yet booked back", n)
	}
	e.requireClean(e.audit())
	e.step()
	if n := e.Count(`SELECT count(*) FROM btc.batches WHERE ledger_tx_id IS NOT NULL`); n != 0 {
		t.Fatalf("%d batches booked after the batcher saw the reorg", n)
	}
	r := e.audit()
	e.requireClean(r)
	if len(r.InFlight) != 1 {
		t.Fatalf("in flight after the reorg: %+v, want the batch", r.InFlight)
	}
	e.Mine(1)
	e.step()
	r = e.audit()
	e.requireClean(r)
	if len(r.InFlight) != 0 || e.Count(`SELECT count(*) FROM btc.deposits WHERE state = 'credited'`) != 2 {
		t.Fatalf("after the new block: in flight %+v", r.InFlight)
	}
}
