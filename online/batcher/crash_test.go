package batcher_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/internal/chainscan"
	"github.com/cryptoassets/cryptoassets/internal/crashpoint"
	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/faultproxy"
	"github.com/cryptoassets/cryptoassets/internal/servetest"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
)

// The proofs of the money-out protocol run the real `cryptoassets serve`
// (internal/servetest, built with crash points) against a real btcd and
// PostgreSQL, and count payments by scanning the chain's blocks
// (internal/chainscan), not by reading the service's tables.

const (
	funding     = int64(100_000_000) // one deposit to the customer, in sat
	withdrawals = 3                  // per batch; the batch threshold
)

// crashTOML batches as soon as the withdrawals are all requested, and
// follows, resolves and confirms at test speed.
const crashTOML = `confirmations = 1
coin_confirmations = 1
poll_interval = "100ms"
batch_interval = "1h"
batch_threshold_count = 3
resolve_interval = "1s"
`

// wallet is a serve installation with one funded customer.
type wallet struct {
	t     *testing.T
	ctx   context.Context
	btcd  *devenv.Btcd
	node  chain.Node // the node itself, never through a proxy
	serve *servetest.Service
}

// payAlice opens customer alice's account through the API and pays a new
// address of hers one deposit of funding, mined.
func (w *wallet) payAlice() {
	w.t.Helper()
	w.api(http.MethodPost, "/v1/btc/accounts", `{"name":"alice"}`, "acct", http.StatusCreated, nil)
	var addr struct {
		Address string `json:"address"`
	}
	w.api(http.MethodPost, "/v1/btc/accounts/alice/addresses", "", "addr", http.StatusCreated, &addr)
	if _, err := devenv.NewFaucet(w.node).Pay(w.ctx, devenv.Payment{Address: addr.Address, Amount: funding}); err != nil {
		w.t.Fatal(err)
	}
	w.mine(1)
}

// newWallet starts serve on a fresh database (rpcURL: the node, or a proxy
// in front of it), funds customer alice with one confirmed deposit, and
// leaves serve running.
func newWallet(t *testing.T, ctx context.Context, btcd *devenv.Btcd, rpcURL string) *wallet {
	t.Helper()
	w := &wallet{t: t, ctx: ctx, btcd: btcd, node: chain.NewRPCNode(btcd.Client)}
	w.serve = servetest.New(t, servetest.Options{RPCURL: rpcURL, AssetTOML: crashTOML})
	w.serve.StartReady()
	w.payAlice()
	w.eventually("alice's deposit credited", func() bool { return w.available() == funding })
	return w
}

// api sends a request and fails the test unless it is answered want; the
// body is decoded into out when out is not nil.
func (w *wallet) api(method, path, body, key string, want int, out any) {
	w.t.Helper()
	status, b, err := w.serve.Do(method, path, body, key)
	if err != nil || status != want {
		w.t.Fatalf("%s %s: %d %s %v, want %d", method, path, status, b, err, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			w.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}

func (w *wallet) available() int64 {
	w.t.Helper()
	var a struct {
		AvailableSat string `json:"available_sat"`
	}
	w.api(http.MethodGet, "/v1/btc/accounts/alice", "", "", http.StatusOK, &a)
	n, _ := strconv.ParseInt(a.AvailableSat, 10, 64)
	return n
}

func (w *wallet) mine(n int) {
	w.t.Helper()
	if _, err := w.btcd.Generate(w.ctx, n); err != nil {
		w.t.Fatal(err)
	}
}

// eventually polls cond for up to two minutes.
func (w *wallet) eventually(what string, cond func() bool) {
	w.t.Helper()
	w.eventuallyMining(what, false, cond)
}

// eventuallyMining is eventually, mining a block every second when mine is
// set (so batches confirm).
func (w *wallet) eventuallyMining(what string, mine bool, cond func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	last := time.Now()
	for !cond() {
		if time.Now().After(deadline) {
			w.t.Fatalf("%s: not within 2 minutes (the serve log follows)", what)
		}
		if mine && time.Since(last) > time.Second {
			w.mine(1)
			last = time.Now()
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// withdrawal is one request as the API answered it.
type withdrawal struct {
	ID        int64  `json:"id"`
	Address   string `json:"address"`
	AmountSat string `json:"amount_sat"`
	FeeSat    string `json:"fee_sat"`
	State     string `json:"state"`
	BatchID   *int64 `json:"batch_id"`
}

func (x withdrawal) amount() int64 { n, _ := strconv.ParseInt(x.AmountSat, 10, 64); return n }
func (x withdrawal) fee() int64    { n, _ := strconv.ParseInt(x.FeeSat, 10, 64); return n }

// request asks for n withdrawals from alice to fresh outside addresses,
// each a distinct amount, through the API.
func (w *wallet) request(n int, tag string) []withdrawal {
	w.t.Helper()
	var out []withdrawal
	for i := 0; i < n; i++ {
		var h [20]byte
		_, _ = rand.Read(h[:])
		a, err := btcutil.NewAddressWitnessPubKeyHash(h[:], &chaincfg.RegressionNetParams)
		if err != nil {
			w.t.Fatal(err)
		}
		var x withdrawal
		body := fmt.Sprintf(`{"account":"alice","address":%q,"amount_sat":"%d"}`, a.EncodeAddress(), 1_000_000+int64(i)*10_000)
		w.api(http.MethodPost, "/v1/btc/withdrawals", body, fmt.Sprintf("%s-%d", tag, i), http.StatusCreated, &x)
		out = append(out, x)
	}
	return out
}

func (w *wallet) state(id int64) withdrawal {
	w.t.Helper()
	var x withdrawal
	w.api(http.MethodGet, fmt.Sprintf("/v1/btc/withdrawals/%d", id), "", "", http.StatusOK, &x)
	return x
}

// confirmAll mines until every withdrawal is confirmed.
func (w *wallet) confirmAll(ws []withdrawal) {
	w.t.Helper()
	w.eventuallyMining("every withdrawal confirmed", true, func() bool {
		for _, x := range ws {
			if w.state(x.ID).State != "confirmed" {
				return false
			}
		}
		return true
	})
}

// paidOnceOnChain scans every block of the node's chain and its mempool:
// each withdrawal's output (its address, its amount) is in exactly one
// confirmed output and nowhere in the mempool.
func (w *wallet) paidOnceOnChain(ws []withdrawal) {
	w.t.Helper()
	var scan *chainscan.Scan
	var err error
	for i := 0; i < 5; i++ { // a block mined during the scan: scan again
		if scan, err = chainscan.EveryBlock(w.ctx, w.node); err == nil {
			break
		}
	}
	if err != nil {
		w.t.Fatal(err)
	}
	for _, x := range ws {
		script, err := chainscan.AddressScript(x.Address, &chaincfg.RegressionNetParams)
		if err != nil {
			w.t.Fatal(err)
		}
		if c, m := scan.Confirmed(script, x.amount()), scan.Unconfirmed(script, x.amount()); c != 1 || m != 0 {
			w.t.Fatalf("withdrawal %d (%s sat to %s) is paid by %d outputs on the chain and %d in the mempool, want exactly 1 and 0: %+v",
				x.ID, x.AmountSat, x.Address, c, m, scan.Paid(script, x.amount()))
		}
	}
	w.t.Logf("chain scan: %d blocks, %d transactions; each of %d withdrawals paid once", scan.Blocks, scan.Txs, len(ws))
}

// moneyHolds checks the ledger's invariants with the real CLI and that
// alice was debited each withdrawal (and its fee) once.
func (w *wallet) moneyHolds(ws []withdrawal) {
	w.t.Helper()
	if out, err := w.serve.CLI("ledger", "check"); err != nil || !strings.Contains(out, "consistent") {
		w.t.Fatalf("ledger check: %v\n%s", err, out)
	}
	want := funding
	for _, x := range ws {
		want -= x.amount() + x.fee()
	}
	if got := w.available(); got != want {
		w.t.Fatalf("alice has %d sat available, want %d", got, want)
	}
}

func (w *wallet) query(sql string, args ...any) int {
	w.t.Helper()
	conn, err := pgx.Connect(w.ctx, w.serve.DB)
	if err != nil {
		w.t.Fatal(err)
	}
	defer conn.Close(w.ctx)
	var n int
	if err := conn.QueryRow(w.ctx, sql, args...).Scan(&n); err != nil {
		w.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// onlyReplacements checks that the crash made no second payment attempt:
// one batch was built from the requests, and any later one (a fee bump)
// replaces an earlier one and spends one of its inputs, so at most one of
// them can confirm.
func (w *wallet) onlyReplacements() {
	w.t.Helper()
	if n := w.query(`SELECT count(*) FROM btc.batches WHERE replaces IS NULL`); n != 1 {
		w.t.Fatalf("%d batches built from the requests (not replacing another), want 1", n)
	}
	if n := w.query(`SELECT count(*) FROM btc.batches b WHERE b.replaces IS NOT NULL AND NOT EXISTS (
		SELECT 1 FROM btc.batch_inputs i JOIN btc.batch_inputs o ON o.txid = i.txid AND o.vout = i.vout
		WHERE i.batch_id = b.id AND o.batch_id = b.replaces)`); n != 0 {
		w.t.Fatalf("%d replacement batches spend no input of the batch they replace", n)
	}
}

// crashLeft checks that the process died where the point says: the batch's
// state, its broadcast record, and whether the node has the transaction.
func (w *wallet) crashLeft(point string) {
	w.t.Helper()
	want := map[string]struct {
		batch     string
		records   int // withdrawal broadcast records
		open      int // of those, not closed
		inMempool bool
	}{
		crashpoint.BatchReserved:   {"reserved", 0, 0, false},
		crashpoint.BroadcastOpened: {"broadcasting", 1, 1, false},
		crashpoint.BroadcastSent:   {"broadcasting", 1, 1, true},
		crashpoint.BroadcastClosed: {"broadcast", 1, 0, true},
	}[point]
	conn, err := pgx.Connect(w.ctx, w.serve.DB)
	if err != nil {
		w.t.Fatal(err)
	}
	defer conn.Close(w.ctx)
	var state string
	var txid []byte
	var records, open int
	if err := conn.QueryRow(w.ctx, `SELECT state, txid FROM btc.batches`).Scan(&state, &txid); err != nil {
		w.t.Fatalf("the one batch after the crash: %v", err)
	}
	if err := conn.QueryRow(w.ctx, `SELECT count(*), count(*) FILTER (WHERE closed_at IS NULL) FROM btc.broadcasts WHERE kind = 'withdrawal'`).Scan(&records, &open); err != nil {
		w.t.Fatal(err)
	}
	ids, err := w.node.MempoolTxids(w.ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	inMempool := slices.Contains(ids, chainhash.Hash(txid))
	if state != want.batch || records != want.records || open != want.open || inMempool != want.inMempool {
		w.t.Fatalf("killed at %s: batch %s, %d records (%d open), in the mempool %v; want batch %s, %d records (%d open), in the mempool %v",
			point, state, records, open, inMempool, want.batch, want.records, want.open, want.inMempool)
	}
}

// TestServeKilledAtEveryBatchStepPaysEachWithdrawalExactlyOnce kills the
// real serve process with SIGKILL at each crash point of the batch and
// broadcast protocol, restarts it without, and finds every withdrawal paid
// exactly once on the chain.
func TestServeKilledAtEveryBatchStepPaysEachWithdrawalExactlyOnce(t *testing.T) {
	if missing := servetest.MissingCrashPoints(t, servetest.Binary(t), crashpoint.Points...); len(missing) > 0 {
		t.Fatalf("the crash-point build of cryptoassets never reaches %v: the test would wait for deaths that never come", missing)
	}
	for _, point := range crashpoint.Points {
		t.Run(point, func(t *testing.T) {
			ctx := testenv.Ctx(t, 5*time.Minute)
			btcd := testenv.NewNode(t, devenv.BtcdOptions{})
			w := newWallet(t, ctx, btcd, btcd.RPCURL())
			w.serve.Stop()

			// The run that dies: the third request makes a batch due.
			w.serve.Start("CRYPTOASSETS_CRASH_AT=" + point)
			if err := w.serve.WaitReady(time.Minute); err != nil {
				t.Fatal(err)
			}
			ws := w.request(withdrawals, "w")
			w.serve.WaitKilled(2 * time.Minute)
			if want := "crashpoint: killing at " + point + " (hit 1)"; !strings.Contains(w.serve.Log(), want) {
				t.Fatalf("serve died, but not at %s:\n%s", point, w.serve.LogTail(40))
			}

			w.crashLeft(point)

			// The run after the crash finishes the protocol.
			w.serve.StartReady()
			w.confirmAll(ws)
			w.paidOnceOnChain(ws)
			w.moneyHolds(ws)
			w.onlyReplacements()
			w.serve.Stop()
		})
	}
}

// TestLostSendrawtransactionReplyNeverBuildsASecondTransaction puts a TCP
// proxy between serve and the node that cuts every sendrawtransaction reply
// in the middle: the node has the transaction, serve never hears so. The
// resolver finds it on the node and closes the record; no second
// transaction is built; the chain pays each withdrawal once.
func TestLostSendrawtransactionReplyNeverBuildsASecondTransaction(t *testing.T) {
	ctx := testenv.Ctx(t, 5*time.Minute)
	btcd := testenv.NewNode(t, devenv.BtcdOptions{})
	proxy, err := faultproxy.Start(strings.TrimPrefix(btcd.RPCURL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	w := newWallet(t, ctx, btcd, proxy.URL())
	proxy.CutReplies("sendrawtransaction", faultproxy.All)

	ws := w.request(withdrawals, "lost")
	start := time.Now()
	w.eventually("a broadcast opened and closed by the resolver", func() bool {
		return w.query(`SELECT count(*) FROM btc.broadcasts WHERE kind = 'withdrawal'`) >= 1 &&
			w.query(`SELECT count(*) FROM btc.broadcasts WHERE kind = 'withdrawal' AND closed_at IS NULL`) == 0
	})
	if !strings.Contains(w.serve.Log(), "broadcast resolved") {
		t.Fatal("the record was closed, but not by the resolver finding the transaction (the serve log follows)")
	}
	if proxy.Cut() < 1 {
		t.Fatalf("the proxy cut no sendrawtransaction reply (saw %d): the test proved nothing", proxy.Seen())
	}
	t.Logf("resolved %v after the requests", time.Since(start))
	w.confirmAll(ws)
	t.Logf("confirmed %v after the requests", time.Since(start))
	w.paidOnceOnChain(ws)
	w.moneyHolds(ws)
	batches := w.query(`SELECT count(*) FROM btc.batches`)
	paidBy := w.query(`SELECT count(DISTINCT batch_id) FROM btc.batch_withdrawals`)
	records := w.query(`SELECT count(*) FROM btc.broadcasts WHERE kind = 'withdrawal'`)
	if batches != 1 || paidBy != 1 || records != 1 {
		t.Fatalf("%d batches, %d paying the withdrawals, %d broadcast records: want one of each", batches, paidBy, records)
	}
	t.Logf("the proxy saw %d sendrawtransaction calls and cut %d replies", proxy.Seen(), proxy.Cut())
	w.serve.Stop()
}

// sweepTOML gives the asset a cold wallet and a ceiling the one funding
// deposit is above: the keeper sweeps down to the target (half the
// ceiling) as soon as the deposit is spendable.
func sweepTOML(t *testing.T) string {
	t.Helper()
	m, err := hdkeys.NewMaster(bytes.Repeat([]byte{9}, 64), &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := m.Account(hdkeys.P2WPKH, 0)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("cold_wallet_descriptor = %q\nhot_ceiling_sat = %d\ncold_check_interval = \"1s\"\n", acct.Descriptor(), funding/2)
}

// TestServeKilledAtEverySweepStepSweepsOnce kills the real serve process at
// each crash point of the protocol while its keeper sweeps the hot wallet's
// surplus to cold (a sweep takes the withdrawals' path: reserve, sign and
// open, send, close), restarts it, and finds one sweep built and its cold
// address paid exactly once on the chain, the ledger and the audit clean.
func TestServeKilledAtEverySweepStepSweepsOnce(t *testing.T) {
	for _, point := range crashpoint.Points {
		t.Run(point, func(t *testing.T) {
			ctx := testenv.Ctx(t, 5*time.Minute)
			btcd := testenv.NewNode(t, devenv.BtcdOptions{})
			w := &wallet{t: t, ctx: ctx, btcd: btcd, node: chain.NewRPCNode(btcd.Client)}
			w.serve = servetest.New(t, servetest.Options{RPCURL: btcd.RPCURL(), AssetTOML: crashTOML + sweepTOML(t)})
			w.serve.Start("CRYPTOASSETS_CRASH_AT=" + point)
			if err := w.serve.WaitReady(time.Minute); err != nil {
				t.Fatal(err)
			}
			w.payAlice()
			w.serve.WaitKilled(2 * time.Minute)
			if want := "crashpoint: killing at " + point + " (hit 1)"; !strings.Contains(w.serve.Log(), want) {
				t.Fatalf("serve died, but not at %s:\n%s", point, w.serve.LogTail(40))
			}
			if n := w.query(`SELECT count(*) FROM btc.batches WHERE kind = 'sweep'`); n != 1 {
				t.Fatalf("%d sweeps when serve died at %s, want 1", n, point)
			}

			w.serve.StartReady()
			w.eventuallyMining("the sweep confirmed", true, func() bool {
				return w.query(`SELECT count(*) FROM btc.batches WHERE kind = 'sweep' AND state = 'confirmed'`) == 1
			})
			if n := w.query(`SELECT count(*) FROM btc.batches WHERE kind = 'sweep' AND replaces IS NULL`); n != 1 {
				t.Fatalf("%d sweeps built (not replacing another), want 1", n)
			}
			conn, err := pgx.Connect(ctx, w.serve.DB)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			var cold string
			var amount int64
			if err := conn.QueryRow(ctx, `SELECT a.address, b.transfer_amount FROM btc.batches b JOIN btc.addresses a ON a.id = b.transfer_address_id
				WHERE b.kind = 'sweep' AND b.state = 'confirmed'`).Scan(&cold, &amount); err != nil {
				t.Fatal(err)
			}
			scan, err := chainscan.EveryBlock(ctx, w.node)
			if err != nil {
				t.Fatal(err)
			}
			script, err := chainscan.AddressScript(cold, &chaincfg.RegressionNetParams)
			if err != nil {
				t.Fatal(err)
			}
			if c, m := scan.Confirmed(script, amount), scan.Unconfirmed(script, amount); c != 1 || m != 0 {
				t.Fatalf("the sweep's cold address is paid %d times on the chain and %d in the mempool, want 1 and 0", c, m)
			}
			if out, err := w.serve.CLI("ledger", "check"); err != nil || !strings.Contains(out, "consistent") {
				t.Fatalf("ledger check: %v\n%s", err, out)
			}
			var out string
			for i := 0; i < 10; i++ { // a block mined meanwhile leaves it unsettled: again
				if out, err = w.serve.CLI("audit"); err == nil {
					break
				}
				time.Sleep(500 * time.Millisecond)
			}
			if err != nil || !strings.Contains(out, "no mismatches") {
				t.Fatalf("audit: %v\n%s", err, out)
			}
			w.serve.Stop()
		})
	}
}
