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

	// Booked batches' postings (online/batcher's book): to the hot and
	// cold wallets and the network fees, all kinds summed.
	bookedHot, bookedCold, bookedFee int64

	withdrawalsOpen int64 // chain withdrawals not confirmed, cancelled or failed
	flatFees        int64 // fees of withdrawals not refunded

	inFlight []InFlight
	// hotInFlight and coldInFlight are what in-flight batches changed in
	// each wallet's coins that the ledger has not booked yet (doc.go).
	hotInFlight, coldInFlight int64

	hotUnspent, coldUnspent int64
	surplus, coldSurplus    int64
	awaitingExpiry          int64

	unknownSpends []unknownSpend
	unknownTotal  int64

	missingDeposits []missingDeposit
	missingTotal    int64
}

type unknownSpend struct {
	wallet string
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

	// What a batch pays: its withdrawals, or a sweep's or a top-up's
	// transfer to the other wallet.
	paidBy := `CASE WHEN b.kind = 'withdrawals' THEN coalesce((SELECT sum(w.amount) FROM ` + s + `.batch_withdrawals bw
		JOIN ` + s + `.withdrawals w ON w.id = bw.withdrawal_id WHERE bw.batch_id = b.id), 0) ELSE b.transfer_amount END::bigint`
	if err := tx.QueryRow(ctx, `SELECT coalesce(sum(CASE WHEN kind = 'topup' THEN -paid ELSE paid + fee END), 0)::bigint,
			coalesce(sum(CASE kind WHEN 'sweep' THEN -paid WHEN 'topup' THEN paid + fee ELSE 0 END), 0)::bigint,
			coalesce(sum(fee), 0)::bigint
		FROM (SELECT b.kind, `+paidBy+` AS paid, b.fee FROM `+s+`.batches b WHERE b.ledger_tx_id IS NOT NULL) x`).Scan(&sn.bookedHot, &sn.bookedCold, &sn.bookedFee); err != nil {
		return nil, fmt.Errorf("summing booked batches: %w", err)
	}

	if err := tx.QueryRow(ctx, `SELECT coalesce(sum(amount) FILTER (WHERE internal_to IS NULL AND state NOT IN ('confirmed', 'cancelled', 'rejected', 'failed')), 0)::bigint,
			coalesce(sum(fee) FILTER (WHERE refund_tx_id IS NULL), 0)::bigint
		FROM `+s+`.withdrawals`).Scan(&sn.withdrawalsOpen, &sn.flatFees); err != nil {
		return nil, fmt.Errorf("summing withdrawals: %w", err)
	}

	// In flight: not booked, and the follower has seen its transaction
	// spend a wallet's coins or pay one of them (each wallet on its own).
	rows, err = tx.Query(ctx, `SELECT * FROM (SELECT b.id, b.kind, b.txid, b.state, `+paidBy+`, b.fee,
			EXISTS (SELECT 1 FROM `+s+`.coins c WHERE c.spent_by = b.txid AND c.wallet_id = $1),
			b.kind = 'topup' AND EXISTS (SELECT 1 FROM `+s+`.coins c WHERE c.txid = b.txid AND c.wallet_id = $1),
			EXISTS (SELECT 1 FROM `+s+`.coins c WHERE c.spent_by = b.txid AND c.wallet_id = $2),
			b.kind = 'sweep' AND EXISTS (SELECT 1 FROM `+s+`.coins c WHERE c.txid = b.txid AND c.wallet_id = $2)
		FROM `+s+`.batches b WHERE b.ledger_tx_id IS NULL) x(id, kind, txid, state, paid, fee, hot_spent, hot_paid, cold_spent, cold_paid)
		WHERE hot_spent OR hot_paid OR cold_spent OR cold_paid
		ORDER BY id`, hotWallet, coldWallet)
	if err != nil {
		return nil, fmt.Errorf("listing batches in flight: %w", err)
	}
	var f InFlight
	var txid []byte
	var hotSpent, hotPaid, coldSpent, coldPaid bool
	if _, err := pgx.ForEachRow(rows, []any{&f.Batch, &f.Kind, &txid, &f.State, &f.PaidSat, &f.FeeSat, &hotSpent, &hotPaid, &coldSpent, &coldPaid}, func() error {
		f.Txid = chainhash.Hash(txid)
		sn.inFlight = append(sn.inFlight, f)
		if hotSpent {
			sn.hotInFlight += f.PaidSat + f.FeeSat
		}
		if hotPaid {
			sn.hotInFlight -= f.PaidSat
		}
		if coldSpent {
			sn.coldInFlight += f.PaidSat + f.FeeSat
		}
		if coldPaid {
			sn.coldInFlight -= f.PaidSat
		}
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
	// Cold coins no batch of ours paid: sent to a cold address by hand.
	if err := tx.QueryRow(ctx, `SELECT coalesce(sum(c.amount), 0)::bigint FROM `+s+`.coins c
		WHERE c.wallet_id = $1 AND NOT EXISTS (SELECT 1 FROM `+s+`.batches b WHERE b.txid = c.txid)`, coldWallet).Scan(&sn.coldSurplus); err != nil {
		return nil, fmt.Errorf("summing the cold surplus coins: %w", err)
	}

	// Hot and cold coins spent by a transaction we did not build.
	rows, err = tx.Query(ctx, `SELECT c.wallet_id, c.txid, c.vout, c.spent_by, c.amount, sum(c.amount) OVER ()::bigint FROM `+s+`.coins c
		WHERE c.wallet_id IN ($1, $2) AND c.spent_by IS NOT NULL
		  AND NOT EXISTS (SELECT 1 FROM `+s+`.batches b WHERE b.txid = c.spent_by)
		  AND NOT EXISTS (SELECT 1 FROM `+s+`.broadcasts r WHERE r.txid = c.spent_by)
		ORDER BY c.txid, c.vout LIMIT $3`, hotWallet, coldWallet, ListLimit)
	if err != nil {
		return nil, fmt.Errorf("listing coins spent by others: %w", err)
	}
	var vout int32
	var by []byte
	var amount int64
	var wallet int16
	if _, err := pgx.ForEachRow(rows, []any{&wallet, &txid, &vout, &by, &amount, &sn.unknownTotal}, func() error {
		name := "hot"
		if wallet == coldWallet {
			name = "cold"
		}
		sn.unknownSpends = append(sn.unknownSpends, unknownSpend{wallet: name, op: wire.OutPoint{Hash: chainhash.Hash(txid), Index: uint32(vout)}, by: chainhash.Hash(by), amount: amount})
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
	r.InFlight = sn.inFlight
	r.SurplusSat = sn.surplus
	r.ColdSurplusSat = sn.coldSurplus
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
	account("hot_wallet", "available", -sn.depositsCredited+sn.bookedHot, hot.available, "the credited deposits and the booked batches, sweeps and top-ups")
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
	account("cold_wallet", "available", sn.bookedCold, cold.available, "the booked sweeps and top-ups")
	account("cold_wallet", "pending", 0, cold.pending, "sweeps and top-ups")

	// Each wallet against its coins.
	want := -(sn.hotUnspent - sn.surplus + sn.hotInFlight + sn.awaitingExpiry)
	if got := hot.available + hot.pending; got != want {
		r.Mismatches = append(r.Mismatches, Mismatch{Kind: HotWalletCoins, Account: "hot_wallet", Part: "total", Expected: want, Actual: got,
			Detail: fmt.Sprintf("the ledger's hot_wallet is %d sat; its coins make it %d sat (unspent %d, surplus %d, in flight %d, awaiting expiry %d; off by %+d)",
				got, want, sn.hotUnspent, sn.surplus, sn.hotInFlight, sn.awaitingExpiry, got-want)})
	}
	want = -(sn.coldUnspent - sn.coldSurplus + sn.coldInFlight)
	if got := cold.available + cold.pending; got != want {
		r.Mismatches = append(r.Mismatches, Mismatch{Kind: ColdWalletCoins, Account: "cold_wallet", Part: "total", Expected: want, Actual: got,
			Detail: fmt.Sprintf("the ledger's cold_wallet is %d sat; its coins make it %d sat (unspent %d, surplus %d, in flight %d; off by %+d)",
				got, want, sn.coldUnspent, sn.coldSurplus, sn.coldInFlight, got-want)})
	}
	for _, u := range sn.unknownSpends {
		op := u.op
		r.Mismatches = append(r.Mismatches, Mismatch{Kind: CoinSpentByUnknown, Coin: &op, AmountSat: u.amount,
			Detail: fmt.Sprintf("%s coin %s (%d sat) was spent by %s, a transaction we did not build", u.wallet, u.op, u.amount, u.by)})
	}
	for _, d := range sn.missingDeposits {
		op := d.op
		r.Mismatches = append(r.Mismatches, Mismatch{Kind: DepositWithoutCoin, Coin: &op, AmountSat: d.amount,
			Detail: fmt.Sprintf("deposit %s (%d sat, %s) has no coin row", d.op, d.amount, d.state)})
	}

	cust := sn.ledger["customer"]
	res := Reserves{CustomersAvailable: cust.available, CustomersPending: cust.pending, WithdrawalsPending: wp.available + wp.pending,
		HotCoins: sn.hotUnspent, ColdCoins: sn.coldUnspent, InFlight: sn.hotInFlight + sn.coldInFlight}
	res.Liabilities = res.CustomersAvailable + res.CustomersPending + res.WithdrawalsPending
	res.Held = res.HotCoins + res.ColdCoins + res.InFlight
	res.Ratio = ratio(res.Held, res.Liabilities)
	res.ColdShare = ratio(res.ColdCoins, res.HotCoins+res.ColdCoins)
	r.Reserves = res
}
