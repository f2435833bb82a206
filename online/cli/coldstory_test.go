package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/internal/chainscan"
	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/servetest"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
	"github.com/cryptoassets/cryptoassets/shared/keystore"
)

// storyColdMnemonic is the cold seed the story's signer restores.
const storyColdMnemonic = "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong"

// The story's thresholds (sat): 0.2, 0.6 and 1 BTC.
const (
	storyFloor   = 20_000_000
	storyTarget  = 60_000_000
	storyCeiling = 100_000_000
)

// storySignerPass is the signer keystore's passphrase.
const storySignerPass = "story cold passphrase"

// buildSigner builds cmd/cryptoassets-signer into bin: the story runs it as
// the air-gapped laptop would, a separate program with its keystore in its
// own directory.
func buildSigner(bin string) error {
	mod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/cryptoassets-signer")
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(mod)))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/cryptoassets-signer: %v\n%s", err, out)
	}
	return nil
}

// runSigner runs the signer with its keystore in s.signer, stdin, and the
// keystore passphrase on descriptor 3.
func (s *story) runSigner(stdin string, args ...string) string {
	s.t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		s.t.Fatal(err)
	}
	defer r.Close()
	fmt.Fprintln(w, storySignerPass)
	w.Close()
	cmd := exec.Command(s.signerBin, append([]string{"--dir", s.signer, "--passphrase-fd", "3"}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.ExtraFiles = []*os.File{r}
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.t.Fatalf("cryptoassets-signer %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// story is a serve installation with a cold wallet whose seed is on a
// signer in another directory.
type story struct {
	t         *testing.T
	ctx       context.Context
	btcd      *devenv.Btcd
	node      *chain.RPCNode
	serve     *servetest.Service
	db        *pgx.Conn
	signer    string // the signer's directory
	signerBin string
}

func (s *story) cli(args ...string) string {
	s.t.Helper()
	out, err := s.serve.CLI(args...)
	if err != nil {
		s.t.Fatalf("cryptoassets %v: %v\n%s", args, err, out)
	}
	return out
}

func (s *story) mine(n int) {
	s.t.Helper()
	if err := s.btcd.Client.Call(s.ctx, nil, "generate", n); err != nil {
		s.t.Fatal(err)
	}
}

func (s *story) int64(query string, args ...any) int64 {
	s.t.Helper()
	var n int64
	if err := s.db.QueryRow(s.ctx, query, args...).Scan(&n); err != nil {
		s.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// eventually polls cond (every 100 ms, 30 s at most), failing with what.
func (s *story) eventually(what string, cond func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: not within 30s\n%s", what, s.serve.LogTail(40))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// batch is one row of batches, as the story checks it.
type batch struct {
	id, amount, fee int64
	state, address  string
	txid            chainhash.Hash
}

// batchOf waits for the one batch of kind in state with an id above after
// and returns it.
func (s *story) batchOf(kind, state string, after int64) batch {
	s.t.Helper()
	var b batch
	s.eventually(fmt.Sprintf("a %s batch %s", kind, state), func() bool {
		return s.int64(`SELECT count(*) FROM btc.batches WHERE kind = $1 AND state = $2 AND id > $3`, kind, state, after) == 1
	})
	var txid []byte
	if err := s.db.QueryRow(s.ctx, `SELECT b.id, b.state, b.txid, b.fee, coalesce(b.transfer_amount, 0), coalesce(a.address, '')
		FROM btc.batches b LEFT JOIN btc.addresses a ON a.id = b.transfer_address_id
		WHERE b.kind = $1 AND b.state = $2 AND b.id > $3`, kind, state, after).Scan(&b.id, &b.state, &txid, &b.fee, &b.amount, &b.address); err != nil {
		s.t.Fatal(err)
	}
	copy(b.txid[:], txid) // stored in internal byte order
	return b
}

// postings are a ledger transaction's entries summed per account kind.
func (s *story) postings(kind string) map[string]int64 {
	s.t.Helper()
	rows, err := s.db.Query(s.ctx, `SELECT a.kind, sum(e.available_delta)::bigint FROM btc.ledger_transactions t
		JOIN btc.ledger_entries e ON e.tx_id = t.id JOIN btc.accounts a ON a.id = e.account_id
		WHERE t.kind = $1 GROUP BY a.kind`, kind)
	if err != nil {
		s.t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (struct {
		k string
		v int64
	}, error) {
		var x struct {
			k string
			v int64
		}
		return x, r.Scan(&x.k, &x.v)
	})
	if err != nil {
		s.t.Fatal(err)
	}
	m := map[string]int64{}
	for _, x := range got {
		m[x.k] = x.v
	}
	return m
}

func (s *story) wantPostings(kind string, want map[string]int64) {
	s.t.Helper()
	if got := s.postings(kind); fmt.Sprint(got) != fmt.Sprint(want) {
		s.t.Fatalf("%s postings: %v, want %v", kind, got, want)
	}
}

// event is the payload of the one event of type typ naming batch id.
func (s *story) event(typ string, id int64) map[string]any {
	s.t.Helper()
	var raw []byte
	s.eventually("event "+typ, func() bool {
		return s.int64(`SELECT count(*) FROM public.events WHERE type = $1 AND payload->>'batch_id' = $2`, typ, fmt.Sprint(id)) == 1
	})
	if err := s.db.QueryRow(s.ctx, `SELECT payload FROM public.events WHERE type = $1 AND payload->>'batch_id' = $2`, typ, fmt.Sprint(id)).Scan(&raw); err != nil {
		s.t.Fatal(err)
	}
	var p map[string]any
	if err := json.Unmarshal(raw, &p); err != nil {
		s.t.Fatal(err)
	}
	return p
}

// published waits for the one event of type typ naming batch id in the
// published stream (cryptoassets events list, as an integrator reads it)
// and returns its payload.
func (s *story) published(typ string, id int64) map[string]any {
	s.t.Helper()
	var p map[string]any
	s.eventually("published event "+typ, func() bool {
		found := 0
		for _, line := range strings.Split(s.cli("events", "list", "--limit", "1000"), "\n") {
			f := strings.SplitN(line, "\t", 4)
			if len(f) != 4 || f[2] != typ {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(f[3]), &m); err != nil {
				s.t.Fatalf("event %s: %v", line, err)
			}
			if m["batch_id"] == float64(id) {
				found++
				p = m
			}
		}
		if found > 1 {
			s.t.Fatalf("%d %s events for batch %d", found, typ, id)
		}
		return found == 1
	})
	return p
}

// paidOnce checks on the chain itself that address is paid amount exactly
// once, in a block, by txid.
func (s *story) paidOnce(what, address string, amount int64, txid chainhash.Hash) {
	s.t.Helper()
	script, err := chainscan.AddressScript(address, regtestParams)
	if err != nil {
		s.t.Fatal(err)
	}
	var scan *chainscan.Scan
	for i := 0; ; i++ { // the tip moving during a scan fails it: again
		if scan, err = chainscan.EveryBlock(s.ctx, s.node); err == nil || i == 5 {
			break
		}
	}
	if err != nil {
		s.t.Fatal(err)
	}
	paid := scan.Paid(script, amount)
	if len(paid) != 1 || paid[0].Height == chainscan.Mempool || paid[0].Txid != txid {
		s.t.Fatalf("%s: %s is paid %d sat by %v on the chain, want once, in a block, by %s", what, address, amount, paid, txid)
	}
}

// walletCoins is the sum of a wallet's unspent coins and the ledger
// account that stands for them (minus the coins, as internal accounts are).
func (s *story) walletCoins(wallet, account string) (coins, ledger int64) {
	s.t.Helper()
	coins = s.int64(`SELECT coalesce(sum(c.amount), 0)::bigint FROM btc.coins c JOIN btc.wallets w ON w.id = c.wallet_id
		WHERE w.name = $1 AND c.spent_by IS NULL`, wallet)
	ledger = s.int64(`SELECT coalesce(sum(b.available), 0)::bigint FROM btc.balances b JOIN btc.accounts a ON a.id = b.account_id WHERE a.kind = $1`, account)
	return coins, ledger
}

// TestColdStorageStoryEndToEnd is the demo's cold-storage story against real
// processes (cryptoassets serve and its command line, cryptoassets-signer
// with its keystore in another directory), a real btcd and PostgreSQL:
// deposit, credit, withdrawal; a deposit lifts the hot wallet above its
// ceiling and serve's keeper sweeps the surplus to cold; a withdrawal takes
// it below its floor and the keeper exports a top-up as QR frames; the
// signer signs from those images and answers in QR frames; cold import
// takes them, and the top-up confirms. Each transition is checked in the
// tables, the ledger, the events and on the chain, and the audit passes.
func TestColdStorageStoryEndToEnd(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	s := &story{t: t, ctx: testenv.Ctx(t, 5*time.Minute), signer: t.TempDir(), signerBin: filepath.Join(t.TempDir(), "cryptoassets-signer")}
	built := make(chan error, 1)
	go func() { built <- buildSigner(s.signerBin) }() // while the node starts
	s.btcd = testenv.NewNode(t, devenv.BtcdOptions{})
	s.node = chain.NewRPCNode(s.btcd.Client)
	if err := <-built; err != nil {
		t.Fatal(err)
	}

	// The air-gapped side: the cold seed, its policy naming the hot wallet.
	hotSeed, err := keystore.SeedFromMnemonic(servetest.DevMnemonic, nil)
	if err != nil {
		t.Fatal(err)
	}
	hotMaster, err := hdkeys.NewMaster(hotSeed, regtestParams)
	if err != nil {
		t.Fatal(err)
	}
	hotAcct, err := hotMaster.Account(hdkeys.P2WPKH, 0)
	if err != nil {
		t.Fatal(err)
	}
	hotDescriptor := hotAcct.Descriptor()
	s.runSigner(storyColdMnemonic+"\n", "restore", "--network", "regtest", "--hot-wallet-descriptor", hotDescriptor)
	coldDescriptor := strings.TrimSpace(s.runSigner("", "xpub"))
	if _, err := hdkeys.ParseDescriptor(coldDescriptor, regtestParams); err != nil {
		t.Fatalf("the signer's xpub %q: %v", coldDescriptor, err)
	}

	exports := t.TempDir()
	s.serve = servetest.New(t, servetest.Options{RPCURL: s.btcd.RPCURL(), AssetTOML: fmt.Sprintf(`confirmations = 1
coin_confirmations = 1
poll_interval = "100ms"
batch_interval = "1s"
resolve_interval = "1s"
cold_wallet_descriptor = %q
hot_floor_sat = %d
hot_target_sat = %d
hot_ceiling_sat = %d
cold_export_dir = %q
cold_check_interval = "1s"
`, coldDescriptor, storyFloor, storyTarget, storyCeiling, exports)})
	db, err := pgx.Connect(s.ctx, s.serve.DB)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(context.Background()) })
	s.db = db
	s.serve.StartReady()

	// An address outside the service that the customers withdraw to.
	outside, err := hdkeys.NewMaster(make([]byte, 32), regtestParams)
	if err != nil {
		t.Fatal(err)
	}
	outsideAcct, err := outside.Account(hdkeys.P2WPKH, 0)
	if err != nil {
		t.Fatal(err)
	}
	payee, err := outsideAcct.Derive(0, 0)
	if err != nil {
		t.Fatal(err)
	}

	// 1. Deposit, credit, withdrawal: between the floor and the ceiling.
	faucet := devenv.NewFaucet(s.node)
	deposit := func(name string, sat int64) {
		t.Helper()
		s.cli("account", "create", name)
		addr := strings.Fields(s.cli("address", "new", name))[0]
		if _, err := faucet.Pay(s.ctx, devenv.Payment{Address: addr, Amount: sat}); err != nil {
			t.Fatal(err)
		}
		s.mine(1)
		s.eventually(name+" credited", func() bool {
			return s.int64(`SELECT count(*) FROM btc.deposits d JOIN btc.addresses a ON a.id = d.address_id JOIN btc.accounts c ON c.id = a.account_id
				WHERE c.name = $1 AND d.state = 'credited'`, name) == 1
		})
	}
	withdraw := func(name string, btc string, after int64) batch {
		t.Helper()
		if out := s.cli("withdraw", name, payee.Address.EncodeAddress(), btc); !strings.Contains(out, "withdrawal ") {
			t.Fatalf("withdraw: %s", out)
		}
		s.batchOf("withdrawals", "broadcast", after)
		s.mine(1)
		b := s.batchOf("withdrawals", "confirmed", after)
		s.event("withdrawal.broadcast", b.id)
		s.event("withdrawal.confirmed", b.id)
		return b
	}
	deposit("alice", 50_000_000)
	if out := s.cli("account", "balance", "alice"); !strings.Contains(out, "available 0.50000000") {
		t.Fatalf("alice after her deposit:\n%s", out)
	}
	w1 := withdraw("alice", "0.1", 0)
	s.paidOnce("alice's withdrawal", payee.Address.EncodeAddress(), 10_000_000, w1.txid)
	if n := s.int64(`SELECT count(*) FROM btc.batches WHERE kind <> 'withdrawals'`); n != 0 {
		t.Fatalf("%d sweeps or top-ups between the floor and the ceiling", n)
	}
	hot0, _ := s.walletCoins("hot", "hot_wallet")

	// 2. A deposit lifts the hot wallet above its ceiling: the keeper sweeps
	// everything above the target to a fresh cold address.
	deposit("bob", 150_000_000)
	sweep := s.batchOf("sweep", "broadcast", 0)
	if want := hot0 + 150_000_000 - storyTarget; sweep.amount != want {
		t.Fatalf("swept %d sat, want free %d - target %d = %d", sweep.amount, hot0+150_000_000, storyTarget, want)
	}
	if p := s.event("sweep.broadcast", sweep.id); p["address"] != sweep.address {
		t.Fatalf("sweep.broadcast names %v, the sweep pays %s", p["address"], sweep.address)
	}
	if n := s.int64(`SELECT count(*) FROM btc.addresses a JOIN btc.wallets w ON w.id = a.wallet_id WHERE a.address = $1 AND w.name = 'cold'`, sweep.address); n != 1 {
		t.Fatalf("the sweep pays %s, not a cold address", sweep.address)
	}
	s.mine(1)
	sweep = s.batchOf("sweep", "confirmed", 0)
	s.event("sweep.confirmed", sweep.id)
	s.wantPostings("sweep.booked", map[string]int64{"cold_wallet": -sweep.amount, "hot_wallet": sweep.amount + sweep.fee, "network_fees": -sweep.fee})
	s.paidOnce("the sweep", sweep.address, sweep.amount, sweep.txid)
	s.eventually("the swept coin followed in the cold wallet", func() bool {
		c, l := s.walletCoins("cold", "cold_wallet")
		return c == sweep.amount && l == -sweep.amount
	})
	if out := s.cli("batches", "list"); !strings.Contains(out, "sweep") {
		t.Fatalf("batches list does not show the sweep:\n%s", out)
	}

	// 3. A withdrawal takes the hot wallet below its floor: the keeper
	// exports a top-up, QR frames in cold_export_dir, and says so.
	hot1, _ := s.walletCoins("hot", "hot_wallet")
	w2 := withdraw("bob", "0.5", w1.id)
	s.paidOnce("bob's withdrawal", payee.Address.EncodeAddress(), 50_000_000, w2.txid)
	topup := s.batchOf("topup", "reserved", 0)
	if free := hot1 - 50_000_000; topup.amount != storyTarget-free {
		t.Fatalf("top-up of %d sat, want target %d - free %d = %d", topup.amount, storyTarget, free, storyTarget-free)
	}
	// The ceremony starts from the event, read as an integrator reads it
	// (cryptoassets events list): the files it names exist when it comes.
	exported := s.published("cold.topup_exported", topup.id)
	if exported["by"] != "keeper" || exported["txid"] != topup.txid.String() {
		t.Fatalf("cold.topup_exported: %v", exported)
	}
	named, _ := exported["files"].([]any)
	if len(named) != 6 {
		t.Fatalf("cold.topup_exported names %d files: %v", len(named), exported)
	}
	for _, f := range named {
		if _, err := os.Stat(f.(string)); err != nil {
			t.Fatalf("cold.topup_exported names %s, which is not there when the event is read: %v", f, err)
		}
	}
	if want := filepath.Join(exports, fmt.Sprintf("topup-%d-ur", topup.id)); named[2] != want {
		t.Fatalf("the event's UR frame directory is %v, want %s", named[2], want)
	}
	frames, err := filepath.Glob(filepath.Join(named[2].(string), "*.png"))
	if err != nil || len(frames) == 0 {
		t.Fatalf("no UR frames of top-up %d in %s: %v", topup.id, named[2], err)
	}
	if n := s.int64(`SELECT count(*) FROM btc.coins WHERE reserved_by = $1`, topup.id); n == 0 {
		t.Fatal("the exported top-up reserves no cold coins")
	}
	if out := s.cli("cold", "list"); !strings.Contains(out, "reserved") {
		t.Fatalf("cold list:\n%s", out)
	}

	// 4. The ceremony: the signer reads the frames and answers in frames.
	signed := filepath.Join(t.TempDir(), "signed")
	args := []string{"sign", "--yes", "--qr-dir", signed}
	for _, f := range frames {
		args = append(args, "--qr", f)
	}
	if out := s.runSigner("", args...); !strings.Contains(out, "signed and finalized") {
		t.Fatalf("the signer did not sign:\n%s", out)
	}
	back, err := filepath.Glob(filepath.Join(signed, "*.png"))
	if err != nil || len(back) == 0 {
		t.Fatalf("the signer wrote no frames: %v", err)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(back))) // any order
	args = []string{"cold", "import"}
	for _, f := range back {
		args = append(args, "--qr", f)
	}
	if out := s.cli(args...); !strings.Contains(out, ": accepted") {
		t.Fatalf("cold import:\n%s", out)
	}
	topup = s.batchOf("topup", "broadcast", 0)
	s.event("cold.topup_broadcast", topup.id)
	if n := s.int64(`SELECT count(*) FROM btc.broadcasts WHERE kind = 'cold_topup' AND closed_at IS NOT NULL AND txid = $1`, topup.txid[:]); n != 1 {
		t.Fatalf("%d closed cold_topup broadcast records of the top-up", n)
	}
	s.mine(1)
	topup = s.batchOf("topup", "confirmed", 0)
	s.event("cold.topup_confirmed", topup.id)
	s.wantPostings("cold.topup_booked", map[string]int64{"cold_wallet": topup.amount + topup.fee, "hot_wallet": -topup.amount, "network_fees": -topup.fee})
	s.paidOnce("the top-up", topup.address, topup.amount, topup.txid)

	if n := s.int64(`SELECT count(*) FROM btc.coins WHERE spent_by = $1 AND reserved_by = $2`, topup.txid[:], topup.id); n != 1 {
		t.Fatalf("%d cold coins spent by the top-up's transaction, want its one input", n)
	}

	// The events: the cold ones in the order they were written (a
	// withdrawal's may come between them: the keeper exports on the request).
	rows, err := s.db.Query(s.ctx, `SELECT type FROM public.events WHERE type ~ '^(sweep|cold)\.' ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	types, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(types, " "), "sweep.broadcast sweep.confirmed cold.topup_exported cold.topup_broadcast cold.topup_confirmed"; got != want {
		t.Fatalf("events:\n%s\nwant\n%s", got, want)
	}
	for typ, want := range map[string]int64{"deposit.credited": 2, "withdrawal.confirmed": 2} {
		if n := s.int64(`SELECT count(*) FROM public.events WHERE type = $1`, typ); n != want {
			t.Fatalf("%d %s events, want %d", n, typ, want)
		}
	}

	// 5. Balances: each wallet's coins are what its ledger account stands
	// for; the ledger and the audit are clean.
	s.eventually("the top-up's coin followed in the hot wallet", func() bool {
		c, l := s.walletCoins("hot", "hot_wallet")
		return c == hot1-50_000_000-w2.fee+topup.amount && l == -c
	})
	if c, l := s.walletCoins("cold", "cold_wallet"); c != sweep.amount-topup.amount-topup.fee || l != -c {
		t.Fatalf("cold wallet: %d sat of coins, ledger %d, want %d", c, l, sweep.amount-topup.amount-topup.fee)
	}
	if out := s.cli("ledger", "check"); !strings.Contains(out, "consistent") {
		t.Fatalf("ledger check:\n%s", out)
	}
	var out string
	for i := 0; i < 10; i++ { // a block the follower has not reached leaves it unsettled: again
		if out, err = s.serve.CLI("audit"); err == nil && strings.Contains(out, "no mismatches") {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	if err != nil || !strings.Contains(out, "no mismatches") || !strings.Contains(out, "reserve ratio") {
		t.Fatalf("audit: %v\n%s", err, out)
	}
	s.serve.Stop()
}
