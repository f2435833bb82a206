package audit

import (
	"context"
	"fmt"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
	"github.com/jackc/pgx/v5"
)

// Wallet ids of the wallets table (online/addresses).
const (
	hotWallet  = 1
	coldWallet = 2
)

// ListLimit bounds the coins named per kind of mismatch; the sums cover
// every one.
const ListLimit = 100

// balance is an account's ledger balance.
type balance struct{ available, pending int64 }

// snapshot is everything check 3 reads, from one consistent view of the
// database.
type snapshot struct {
	ledger map[string]balance // by account kind; customers summed

	depositsPending  int64 // seen or confirmed
	depositsCredited int64
	lossOutstanding  int64

	bookedPaid, bookedFee int64

	withdrawalsOpen int64 // chain withdrawals not confirmed, cancelled or failed
	flatFees        int64 // fees of withdrawals not refunded

	inFlight []InFlight

	hotUnspent, coldUnspent int64
	surplus                 int64
	awaitingExpiry          int64

	unknownSpends []unknownSpend
	unknownTotal  int64

	missingDeposits []missingDeposit
	missingTotal    int64
}

type unknownSpend struct {
	op     wire.OutPoint
	by     chainhash.Hash
	amount int64
}

type missingDeposit struct {
	op     wire.OutPoint
	amount int64
	state  string
}

// live deposit states: the ledger holds their amount for the customer.
const liveDeposit = `d.state IN ('seen', 'confirmed', 'credited')`

// snapshot reads the ledger, the deposits, withdrawals, batches and coins
// in one read-only REPEATABLE READ transaction: one view of every table,
// taking no predicate locks, so it never makes a posting retry.
func (a *Auditor) snapshot(ctx context.Context) (*snapshot, error) {
	s := a.schema
	tx, err := a.runner.Pool().BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	sn := &snapshot{ledger: map[string]balance{}}

	rows, err := tx.Query(ctx, `SELECT a.kind, coalesce(sum(b.available), 0)::bigint, coalesce(sum(b.pending), 0)::bigint
		FROM `+s+`.accounts a JOIN `+s+`.balances b ON b.account_id = a.id GROUP BY a.kind`)
	if err != nil {
		return nil, fmt.Errorf("reading the ledger's balances: %w", err)
	}
	var kind string
	var bal balance
	if _, err := pgx.ForEachRow(rows, []any{&kind, &bal.available, &bal.pending}, func() error {
		sn.ledger[kind] = bal
		return nil
	}); err != nil {
		return nil, fmt.Errorf("reading the ledger's balances: %w", err)
	}

	if err := tx.QueryRow(ctx, `SELECT coalesce(sum(amount) FILTER (WHERE state IN ('seen', 'confirmed')), 0)::bigint,
			coalesce(sum(amount) FILTER (WHERE state = 'credited'), 0)::bigint, coalesce(sum(loss), 0)::bigint
		FROM `+s+`.deposits`).Scan(&sn.depositsPending, &sn.depositsCredited, &sn.lossOutstanding); err != nil {
		return nil, fmt.Errorf("summing deposits: %w", err)
	}

	paidBy := `coalesce((SELECT sum(w.amount) FROM ` + s + `.batch_withdrawals bw JOIN ` + s + `.withdrawals w ON w.id = bw.withdrawal_id
		WHERE bw.batch_id = b.id), 0)::bigint`
	if err := tx.QueryRow(ctx, `SELECT coalesce(sum(`+paidBy+`), 0)::bigint, coalesce(sum(b.fee), 0)::bigint
		FROM `+s+`.batches b WHERE b.ledger_tx_id IS NOT NULL`).Scan(&sn.bookedPaid, &sn.bookedFee); err != nil {
		return nil, fmt.Errorf("summing booked batches: %w", err)
	}

	if err := tx.QueryRow(ctx, `SELECT coalesce(sum(amount) FILTER (WHERE internal_to IS NULL AND state NOT IN ('confirmed', 'cancelled', 'rejected', 'failed')), 0)::bigint,
			coalesce(sum(fee) FILTER (WHERE refund_tx_id IS NULL), 0)::bigint
		FROM `+s+`.withdrawals`).Scan(&sn.withdrawalsOpen, &sn.flatFees); err != nil {
		return nil, fmt.Errorf("summing withdrawals: %w", err)
	}

	rows, err = tx.Query(ctx, `SELECT b.id, b.txid, b.state, `+paidBy+`, b.fee FROM `+s+`.batches b
		WHERE b.ledger_tx_id IS NULL AND EXISTS (SELECT 1 FROM `+s+`.coins c WHERE c.spent_by = b.txid AND c.wallet_id = $1)
		ORDER BY b.id`, hotWallet)
	if err != nil {
		return nil, fmt.Errorf("listing batches in flight: %w", err)
	}
	var f InFlight
	var txid []byte
	if _, err := pgx.ForEachRow(rows, []any{&f.Batch, &txid, &f.State, &f.PaidSat, &f.FeeSat}, func() error {
		f.Txid = chainhash.Hash(txid)
		sn.inFlight = append(sn.inFlight, f)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("listing batches in flight: %w", err)
	}

	if err := tx.QueryRow(ctx, `SELECT
			coalesce(sum(c.amount) FILTER (WHERE c.wallet_id = $1 AND c.spent_by IS NULL), 0)::bigint,
			coalesce(sum(c.amount) FILTER (WHERE c.wallet_id = $2 AND c.spent_by IS NULL), 0)::bigint
		FROM `+s+`.coins c`, hotWallet, coldWallet).Scan(&sn.hotUnspent, &sn.coldUnspent); err != nil {
		return nil, fmt.Errorf("summing coins: %w", err)
	}
	// In WHERE, not in a FILTER, so the planner joins instead of probing
	// per coin.
	if err := tx.QueryRow(ctx, `SELECT coalesce(sum(c.amount), 0)::bigint FROM `+s+`.coins c
		WHERE c.wallet_id = $1
		  AND NOT EXISTS (SELECT 1 FROM `+s+`.deposits d WHERE d.txid = c.txid AND d.vout = c.vout AND `+liveDeposit+`)
		  AND NOT EXISTS (SELECT 1 FROM `+s+`.batches b WHERE b.txid = c.txid)`, hotWallet).Scan(&sn.surplus); err != nil {
		return nil, fmt.Errorf("summing the surplus coins: %w", err)
	}

	// Hot coins spent by a transaction we did not build.
	rows, err = tx.Query(ctx, `SELECT c.txid, c.vout, c.spent_by, c.amount, sum(c.amount) OVER ()::bigint FROM `+s+`.coins c
		WHERE c.wallet_id = $1 AND c.spent_by IS NOT NULL
		  AND NOT EXISTS (SELECT 1 FROM `+s+`.batches b WHERE b.txid = c.spent_by)
		  AND NOT EXISTS (SELECT 1 FROM `+s+`.broadcasts r WHERE r.txid = c.spent_by)
		ORDER BY c.txid, c.vout LIMIT $2`, hotWallet, ListLimit)
	if err != nil {
		return nil, fmt.Errorf("listing coins spent by others: %w", err)
	}
	var vout int32
	var by []byte
	var amount int64
	if _, err := pgx.ForEachRow(rows, []any{&txid, &vout, &by, &amount, &sn.unknownTotal}, func() error {
		sn.unknownSpends = append(sn.unknownSpends, unknownSpend{op: wire.OutPoint{Hash: chainhash.Hash(txid), Index: uint32(vout)}, by: chainhash.Hash(by), amount: amount})
		return nil
	}); err != nil {
		return nil, fmt.Errorf("listing coins spent by others: %w", err)
	}

	// Live deposits without their coin: awaiting expiry when the follower
	// found their transaction gone from the mempool, else a mismatch.
	if err := tx.QueryRow(ctx, `SELECT coalesce(sum(d.amount), 0)::bigint FROM `+s+`.deposits d
		WHERE d.state = 'seen' AND d.missing_since IS NOT NULL
		  AND NOT EXISTS (SELECT 1 FROM `+s+`.coins c WHERE c.txid = d.txid AND c.vout = d.vout)`).Scan(&sn.awaitingExpiry); err != nil {
		return nil, fmt.Errorf("summing deposits awaiting expiry: %w", err)
	}
	var state string
	rows, err = tx.Query(ctx, `SELECT d.txid, d.vout, d.amount, d.state, sum(d.amount) OVER ()::bigint FROM `+s+`.deposits d
		WHERE `+liveDeposit+` AND NOT (d.state = 'seen' AND d.missing_since IS NOT NULL)
		  AND NOT EXISTS (SELECT 1 FROM `+s+`.coins c WHERE c.txid = d.txid AND c.vout = d.vout)
		ORDER BY d.txid, d.vout LIMIT $1`, ListLimit)
	if err != nil {
		return nil, fmt.Errorf("listing deposits without a coin: %w", err)
	}
	if _, err := pgx.ForEachRow(rows, []any{&txid, &vout, &amount, &state, &sn.missingTotal}, func() error {
		sn.missingDeposits = append(sn.missingDeposits, missingDeposit{op: wire.OutPoint{Hash: chainhash.Hash(txid), Index: uint32(vout)}, amount: amount, state: state})
		return nil
	}); err != nil {
		return nil, fmt.Errorf("listing deposits without a coin: %w", err)
	}
	return sn, tx.Commit(ctx)
}

// judge applies check 3's identities (doc.go) to the snapshot and fills in
// the reserves.
func (sn *snapshot) judge(r *Result) {
	var inFlight int64
	for _, f := range sn.inFlight {
		inFlight += f.PaidSat + f.FeeSat
	}
	r.InFlight = sn.inFlight
	r.SurplusSat = sn.surplus
	r.AwaitingExpiry = sn.awaitingExpiry
	r.Ledger = map[string]int64{}
	for k, b := range sn.ledger {
		if k != "customer" {
			r.Ledger[k] = b.available + b.pending
		}
	}

	account := func(kind, part string, want, got int64, why string) {
		if want != got {
			r.Mismatches = append(r.Mismatches, Mismatch{Kind: AccountBalance, Account: kind, Part: part, Expected: want, Actual: got,
				Detail: fmt.Sprintf("the ledger's %s %s is %d sat; %s make it %d sat (off by %+d)", kind, part, got, why, want, got-want)})
		}
	}
	hot := sn.ledger["hot_wallet"]
	account("hot_wallet", "pending", -sn.depositsPending, hot.pending, "the seen and confirmed deposits")
	account("hot_wallet", "available", -sn.depositsCredited+sn.bookedPaid+sn.bookedFee, hot.available, "the credited deposits and the booked batches")
	wp := sn.ledger["withdrawals_pending"]
	account("withdrawals_pending", "available", sn.withdrawalsOpen, wp.available, "the withdrawals not yet confirmed, cancelled or failed")
	account("withdrawals_pending", "pending", 0, wp.pending, "withdrawals")
	fees := sn.ledger["network_fees"]
	account("network_fees", "available", sn.flatFees-sn.bookedFee, fees.available, "the withdrawals' flat fees less the booked batches' network fees")
	account("network_fees", "pending", 0, fees.pending, "withdrawals")
	losses := sn.ledger["reorg_losses"]
	account("reorg_losses", "available", -sn.lossOutstanding, losses.available, "the deposits' outstanding reorg losses")
	account("reorg_losses", "pending", 0, losses.pending, "reorg losses")
	cold := sn.ledger["cold_wallet"]
	account("cold_wallet", "available", 0, cold.available, "no posting books cold coins yet: they")
	account("cold_wallet", "pending", 0, cold.pending, "no posting books cold coins yet: they")

	// The hot wallet against its coins.
	want := -(sn.hotUnspent - sn.surplus + inFlight + sn.awaitingExpiry)
	if got := hot.available + hot.pending; got != want {
		r.Mismatches = append(r.Mismatches, Mismatch{Kind: HotWalletCoins, Account: "hot_wallet", Part: "total", Expected: want, Actual: got,
			Detail: fmt.Sprintf("the ledger's hot_wallet is %d sat; its coins make it %d sat (unspent %d, surplus %d, in flight %d, awaiting expiry %d; off by %+d)",
				got, want, sn.hotUnspent, sn.surplus, inFlight, sn.awaitingExpiry, got-want)})
	}
	for _, u := range sn.unknownSpends {
		op := u.op
		r.Mismatches = append(r.Mismatches, Mismatch{Kind: CoinSpentByUnknown, Coin: &op, AmountSat: u.amount,
			Detail: fmt.Sprintf("coin %s (%d sat) was spent by %s, a transaction we did not build", u.op, u.amount, u.by)})
	}
	for _, d := range sn.missingDeposits {
		op := d.op
		r.Mismatches = append(r.Mismatches, Mismatch{Kind: DepositWithoutCoin, Coin: &op, AmountSat: d.amount,
			Detail: fmt.Sprintf("deposit %s (%d sat, %s) has no coin row", d.op, d.amount, d.state)})
	}

	cust := sn.ledger["customer"]
	res := Reserves{CustomersAvailable: cust.available, CustomersPending: cust.pending, WithdrawalsPending: wp.available + wp.pending,
		HotCoins: sn.hotUnspent, ColdCoins: sn.coldUnspent, InFlight: inFlight}
	res.Liabilities = res.CustomersAvailable + res.CustomersPending + res.WithdrawalsPending
	res.Held = res.HotCoins + res.ColdCoins + res.InFlight
	res.Ratio = ratio(res.Held, res.Liabilities)
	r.Reserves = res
}
