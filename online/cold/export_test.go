package cold_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/psbttest"
	"github.com/cryptoassets/cryptoassets/internal/storetest"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/offline-signer/policy"
	"github.com/cryptoassets/cryptoassets/offline-signer/sign"
	"github.com/cryptoassets/cryptoassets/online/addresses"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/cold"
	"github.com/cryptoassets/cryptoassets/online/deposits"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/store"
	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
	"github.com/cryptoassets/cryptoassets/shared/psbt/transport"
)

// topUpEnv is one asset with a hot and a watch-only cold wallet on a real
// regtest node and a real PostgreSQL: the follower records both wallets'
// coins, and TopUps exports from cold.
type topUpEnv struct {
	t        *testing.T
	ctx      context.Context
	node     *devenv.Btcd
	chain    *chain.RPCNode
	faucet   *devenv.Faucet
	runner   *store.Runner
	ledger   *ledger.Ledger
	issuer   *addresses.Issuer
	cold     *addresses.Cold
	follower *deposits.Follower
	topups   *cold.TopUps
	hotW     *psbttest.Wallet
	coldW    *psbttest.Wallet
}

func topUpRegtest(seed []byte) (*hdkeys.Master, error) {
	return hdkeys.NewMaster(seed, &chaincfg.RegressionNetParams)
}

func newTopUpEnv(t *testing.T, cfg cold.Config) *topUpEnv {
	t.Helper()
	e := &topUpEnv{t: t, ctx: testenv.Ctx(t, 5*time.Minute)}
	e.node = testenv.NewNode(t, devenv.BtcdOptions{})
	e.chain = chain.NewRPCNode(e.node.Client)
	e.faucet = devenv.NewFaucet(e.chain)
	e.runner = storetest.Runner(t, 8, "btc")
	var err error
	if e.ledger, err = ledger.New(e.runner, "btc"); err != nil {
		t.Fatal(err)
	}
	e.hotW = psbttest.NewWallet(t, psbttest.Seed(4), topUpRegtest)
	e.coldW = psbttest.NewWallet(t, psbttest.Seed(3), topUpRegtest)
	hotKey, err := addresses.ParseKey(e.hotW.WPKH.Descriptor(), &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	if e.issuer, err = addresses.NewIssuer(e.ctx, e.ledger, hotKey); err != nil {
		t.Fatal(err)
	}
	coldKey, err := addresses.ParseKey(e.coldW.WPKH.Descriptor(), &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	if e.cold, err = addresses.NewCold(e.ctx, e.ledger, coldKey, 0); err != nil {
		t.Fatal(err)
	}
	tip, _, err := e.chain.Tip(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.follower = deposits.NewFollower(e.ledger, e.chain, deposits.Config{Confirmations: 1, StartHeight: tip}, nil)
	if e.topups, err = cold.NewTopUps(e.ledger, e.chain, e.issuer, e.cold, cfg, nil); err != nil {
		t.Fatal(err)
	}
	e.sync()
	return e
}

func (e *topUpEnv) sync() {
	e.t.Helper()
	if err := e.follower.SyncToTip(e.ctx); err != nil {
		e.t.Fatal(err)
	}
}

func (e *topUpEnv) mine(n int) {
	e.t.Helper()
	if _, err := e.node.Generate(e.ctx, n); err != nil {
		e.t.Fatal(err)
	}
	e.sync()
}

// fundCold pays each amount to its own cold receive address (the stored
// window) and mines it.
func (e *topUpEnv) fundCold(amounts ...int64) {
	e.t.Helper()
	var n int
	if err := e.runner.Pool().QueryRow(e.ctx, `SELECT count(*) FROM btc.coins WHERE wallet_id = 2`).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	var pays []devenv.Payment
	for i, a := range amounts {
		d := psbttest.Derive(e.t, e.coldW.WPKH, 0, uint32(n+i))
		pays = append(pays, devenv.Payment{Address: d.Address.EncodeAddress(), Amount: a})
	}
	if _, err := e.faucet.Pay(e.ctx, pays...); err != nil {
		e.t.Fatal(err)
	}
	e.mine(1)
}

func (e *topUpEnv) count(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.runner.Pool().QueryRow(e.ctx, q, args...).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	return n
}

// snapshot is what a refused request must leave as it was.
type topUpSnapshot struct{ batches, reserved, events, addresses int }

func (e *topUpEnv) snapshot() topUpSnapshot {
	e.t.Helper()
	return topUpSnapshot{
		batches:   e.count(`SELECT count(*) FROM btc.batches`),
		reserved:  e.count(`SELECT count(*) FROM btc.coins WHERE reserved_by IS NOT NULL`),
		events:    e.count(`SELECT count(*) FROM public.events`),
		addresses: e.count(`SELECT (SELECT next_change FROM btc.wallets WHERE id = 1) * 1000 + (SELECT next_change FROM btc.wallets WHERE id = 2)`),
	}
}

// signTopUp signs p as cryptoassets-signer does, with the cold seed and a
// policy naming the hot wallet: the signer's own checks (previous
// transactions, key origins, destination, change) must all pass.
func (e *topUpEnv) signTopUp(p *btcpsbt.Packet) *wire.MsgTx {
	e.t.Helper()
	pol := &policy.Policy{Network: "regtest", HotWalletDescriptor: e.hotW.WPKH.Descriptor(), HotWalletLookahead: 50, ChangeLookahead: 50}
	if err := pol.Init(); err != nil {
		e.t.Fatal(err)
	}
	s := &sign.Signer{Master: e.coldW.Master, Policy: pol}
	r, err := s.Review(p)
	if err != nil {
		e.t.Fatalf("the signer refuses the export: %v", err)
	}
	if ok, err := s.Sign(p, r); err != nil || !ok {
		e.t.Fatalf("sign: %v %v", ok, err)
	}
	tx, err := btcpsbt.Extract(p)
	if err != nil {
		e.t.Fatal(err)
	}
	return tx
}

func lastEvent(t *testing.T, e *topUpEnv, typ string) map[string]any {
	t.Helper()
	var body []byte
	if err := e.runner.Pool().QueryRow(e.ctx, `SELECT payload FROM public.events WHERE type = $1 ORDER BY seq DESC LIMIT 1`, typ).Scan(&body); err != nil {
		t.Fatalf("event %s: %v", typ, err)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// An export is a reserved topup batch whose PSBT carries everything the
// air-gapped signer checks, with its coins reserved and its event emitted;
// the real signer signs it and the result spends the cold coins validly.
func TestExportBuildsATopUpTheSignerSigns(t *testing.T) {
	e := newTopUpEnv(t, cold.Config{Expiry: 2 * time.Hour, ExportDir: "/var/lib/cryptoassets/exports"})
	e.fundCold(40_000_000, 70_000_000, 90_000_000)
	x, err := e.topups.Export(e.ctx, 150_000_000, "alice")
	if err != nil {
		t.Fatal(err)
	}
	tip, _, _ := e.chain.Tip(e.ctx)
	u := x.PSBT.UnsignedTx
	if x.ID == 0 || x.TxID != u.TxHash() || x.Amount != 150_000_000 || x.Fee <= 0 || x.State != "reserved" ||
		time.Until(x.ExpiresAt) < 119*time.Minute || time.Until(x.ExpiresAt) > 121*time.Minute {
		t.Fatalf("export %+v", x)
	}
	if u.Version != 2 || u.LockTime != uint32(tip) {
		t.Fatalf("version %d locktime %d (tip %d)", u.Version, u.LockTime, tip)
	}
	var in int64
	for i, ti := range u.TxIn {
		pin := x.PSBT.Inputs[i]
		if ti.Sequence != 0xfffffffd {
			t.Fatalf("input %d sequence %x: not replaceable", i, ti.Sequence)
		}
		if pin.NonWitnessUtxo == nil || pin.NonWitnessUtxo.TxHash() != ti.PreviousOutPoint.Hash {
			t.Fatalf("input %d: no full previous transaction", i)
		}
		prev := pin.NonWitnessUtxo.TxOut[ti.PreviousOutPoint.Index]
		if pin.WitnessUtxo == nil || pin.WitnessUtxo.Value != prev.Value || !bytes.Equal(pin.WitnessUtxo.PkScript, prev.PkScript) {
			t.Fatalf("input %d: witness UTXO differs from the previous transaction", i)
		}
		if len(pin.Bip32Derivation) != 1 || pin.Bip32Derivation[0].MasterKeyFingerprint != e.coldW.Master.Fingerprint() {
			t.Fatalf("input %d: no cold key origin", i)
		}
		in += prev.Value
	}
	if len(u.TxOut) != 2 || in != x.Amount+x.Fee+x.ChangeAmount {
		t.Fatalf("%d outputs; in %d = %d + %d + %d?", len(u.TxOut), in, x.Amount, x.Fee, x.ChangeAmount)
	}
	var sawHot, sawChange bool
	for i, o := range u.TxOut {
		po := x.PSBT.Outputs[i]
		switch {
		case o.Value == x.Amount:
			sawHot = len(po.Bip32Derivation) == 0
			hot := psbttest.Derive(t, e.hotW.WPKH, 1, 0)
			if !bytes.Equal(o.PkScript, hot.PkScript) {
				t.Fatal("the top-up does not pay the hot wallet's first change address")
			}
		case o.Value == x.ChangeAmount:
			ch := psbttest.Derive(t, e.coldW.WPKH, 1, 0)
			sawChange = bytes.Equal(o.PkScript, ch.PkScript) && len(po.Bip32Derivation) == 1
		}
	}
	if !sawHot || !sawChange {
		t.Fatalf("outputs: hot %v, cold change with its origin %v", sawHot, sawChange)
	}
	if n := e.count(`SELECT count(*) FROM btc.batches WHERE id = $1 AND kind = 'topup' AND state = 'reserved' AND transfer_amount = $2 AND expires_at IS NOT NULL`, x.ID, x.Amount); n != 1 {
		t.Fatal("no reserved topup batch row")
	}
	if n := e.count(`SELECT count(*) FROM btc.coins WHERE reserved_by = $1`, x.ID); n != len(u.TxIn) {
		t.Fatalf("%d coins reserved for %d inputs", n, len(u.TxIn))
	}
	if n := e.count(`SELECT count(*) FROM btc.batch_inputs WHERE batch_id = $1`, x.ID); n != len(u.TxIn) {
		t.Fatalf("%d batch inputs", n)
	}
	// The reservation emits nothing: the event comes with the files.
	if n := e.count(`SELECT count(*) FROM public.events WHERE type = $1`, cold.EventTopupExported); n != 0 {
		t.Fatalf("%d cold.topup_exported events before the files are announced", n)
	}
	if ok, err := e.topups.Announce(e.ctx, x.ID, cold.Paths("/var/lib/cryptoassets/exports", x.ID)); err != nil || !ok {
		t.Fatalf("announce: %v %v", ok, err)
	}
	if ok, err := e.topups.Announce(e.ctx, x.ID, nil); err != nil || ok {
		t.Fatalf("announced twice: %v %v", ok, err)
	}
	ev := lastEvent(t, e, cold.EventTopupExported)
	files, _ := ev["files"].([]any)
	if ev["txid"] != x.TxID.String() || ev["amount_sat"] != "150000000" || ev["by"] != "alice" || len(files) != 6 ||
		!strings.HasPrefix(files[0].(string), "/var/lib/cryptoassets/exports/topup-") {
		t.Fatalf("event %v", ev)
	}

	signed := e.signTopUp(x.PSBT)
	prevs := txscript.NewMultiPrevOutFetcher(nil)
	for i, ti := range signed.TxIn {
		prevs.AddPrevOut(ti.PreviousOutPoint, x.PSBT.Inputs[i].WitnessUtxo)
	}
	hashes := txscript.NewTxSigHashes(signed, prevs)
	for i, ti := range signed.TxIn {
		prev := prevs.FetchPrevOutput(ti.PreviousOutPoint)
		vm, err := txscript.NewEngine(prev.PkScript, signed, i, txscript.StandardVerifyFlags, nil, hashes, prev.Value, prevs)
		if err != nil {
			t.Fatal(err)
		}
		if err := vm.Execute(); err != nil {
			t.Fatalf("input %d does not verify: %v", i, err)
		}
	}
	got, err := e.topups.Get(e.ctx, x.ID)
	if err != nil || got.TxID != x.TxID || got.HotAddress == "" || got.HotIndex != x.HotIndex || got.PSBT.UnsignedTx.TxHash() != x.TxID {
		t.Fatalf("get: %+v %v", got, err)
	}
}

func TestExportRefusals(t *testing.T) {
	e := newTopUpEnv(t, cold.Config{})
	e.fundCold(50_000_000)
	tests := []struct {
		name   string
		amount int64
		by     string
		want   error
		text   string
	}{
		{"zero", 0, "op", nil, "positive amount"},
		{"negative", -5, "op", nil, "positive amount"},
		{"over 21 million BTC", 2_100_000_000_000_001, "op", nil, "positive amount"},
		{"nobody asks", 1000, "", nil, "who asks"},
		{"more than the cold wallet holds", 50_000_000, "op", cold.ErrColdFunds, "cannot pay 0.50000000 BTC"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snapshot()
			_, err := e.topups.Export(e.ctx, tc.amount, tc.by)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("want %v %q, got %v", tc.want, tc.text, err)
			}
			if after := e.snapshot(); after != before {
				t.Fatalf("a refused export changed %+v into %+v", before, after)
			}
		})
	}
	x, err := e.topups.Export(e.ctx, 10_000_000, "op")
	if err != nil {
		t.Fatal(err)
	}
	e.fundCold(50_000_000)
	t.Run("another top-up open", func(t *testing.T) {
		before := e.snapshot()
		_, err := e.topups.Export(e.ctx, 10_000_000, "op")
		if !errors.Is(err, cold.ErrTopUpOpen) || !strings.Contains(err.Error(), "cold cancel") {
			t.Fatalf("got %v", err)
		}
		if after := e.snapshot(); after != before {
			t.Fatalf("a refused export changed %+v into %+v", before, after)
		}
	})
	if _, err := e.topups.Cancel(e.ctx, x.ID, "op"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.topups.Export(e.ctx, 10_000_000, "op"); err != nil {
		t.Fatalf("after the open one was cancelled: %v", err)
	}
}

// Cancel and expiry release the coins, once, with their events; the
// database refuses anything else.
func TestCancelAndExpiry(t *testing.T) {
	e := newTopUpEnv(t, cold.Config{Expiry: time.Hour})
	e.fundCold(30_000_000, 30_000_000)
	x, err := e.topups.Export(e.ctx, 40_000_000, "op")
	if err != nil {
		t.Fatal(err)
	}
	refusals := []struct {
		name string
		id   int64
		by   string
		want error
	}{
		{"unknown id", x.ID + 100, "op", cold.ErrNoTopUp},
		{"nobody cancels", x.ID, "", nil},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snapshot()
			if _, err := e.topups.Cancel(e.ctx, tc.id, tc.by); err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("want %v, got %v", tc.want, err)
			}
			if after := e.snapshot(); after != before {
				t.Fatalf("a refused cancel changed %+v into %+v", before, after)
			}
		})
	}
	c, err := e.topups.Cancel(e.ctx, x.ID, "bob")
	if err != nil || c.State != "cancelled" || c.CancelledBy != "bob" {
		t.Fatalf("cancel: %+v %v", c, err)
	}
	if n := e.count(`SELECT count(*) FROM btc.coins WHERE reserved_by IS NOT NULL`); n != 0 {
		t.Fatalf("%d coins still reserved after the cancel", n)
	}
	if ev := lastEvent(t, e, cold.EventTopupCancelled); ev["by"] != "bob" || ev["coins_released"] != float64(2) {
		t.Fatalf("cancel event %v", ev)
	}
	before := e.snapshot()
	if _, err := e.topups.Cancel(e.ctx, x.ID, "bob"); !errors.Is(err, cold.ErrNotCancellable) {
		t.Fatalf("cancelled twice: %v", err)
	}
	if after := e.snapshot(); after != before {
		t.Fatalf("a second cancel changed %+v into %+v", before, after)
	}

	y, err := e.topups.Export(e.ctx, 40_000_000, "op")
	if err != nil {
		t.Fatal(err)
	}
	if ids, err := e.topups.ExpireDue(e.ctx); err != nil || len(ids) != 0 {
		t.Fatalf("expired before its time: %v %v", ids, err)
	}
	if _, err := e.runner.Pool().Exec(e.ctx, `UPDATE btc.batches SET expires_at = now() - interval '1 second' WHERE id = $1`, y.ID); err != nil {
		t.Fatal(err)
	}
	ids, err := e.topups.ExpireDue(e.ctx)
	if err != nil || len(ids) != 1 || ids[0] != y.ID {
		t.Fatalf("expire: %v %v", ids, err)
	}
	if n := e.count(`SELECT count(*) FROM btc.coins WHERE reserved_by IS NOT NULL`); n != 0 {
		t.Fatalf("%d coins still reserved after the expiry", n)
	}
	if ids, err := e.topups.ExpireDue(e.ctx); err != nil || len(ids) != 0 {
		t.Fatalf("expired twice: %v %v", ids, err)
	}
	if _, err := e.topups.Cancel(e.ctx, y.ID, "bob"); !errors.Is(err, cold.ErrNotCancellable) {
		t.Fatalf("cancel after the expiry: %v", err)
	}
	if n := e.count(`SELECT count(*) FROM public.events WHERE type = $1`, cold.EventTopupExpired); n != 1 {
		t.Fatalf("%d expiry events", n)
	}
	// The database guard is the last word: an expired top-up cannot come back.
	if _, err := e.runner.Pool().Exec(e.ctx, `UPDATE btc.batches SET state = 'reserved' WHERE id = $1`, y.ID); err == nil {
		t.Fatal("the database let an expired top-up be reserved again")
	}
	list, err := e.topups.List(e.ctx, 10)
	if err != nil || len(list) != 2 || list[0].ID != y.ID || list[0].State != "expired" || list[1].State != "cancelled" {
		t.Fatalf("list %+v %v", list, err)
	}
}

// The files of an export read back, through the signer's own readers, as
// the exact PSBT that was stored: the binary and base64 files, and the UR
// and BBQr frames as PNGs and as GIFs. Writing them again over the same
// files is refused and leaves them as they were.
func TestWriteFilesReadBackAsTheSignerReadsThem(t *testing.T) {
	e := newTopUpEnv(t, cold.Config{})
	e.fundCold(20_000_000, 25_000_000, 30_000_000)
	x, err := e.topups.Export(e.ctx, 60_000_000, "op")
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := x.PSBT.Serialize(&want); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "exports")
	paths, err := cold.WriteFiles(dir, x)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 6 {
		t.Fatalf("paths %v", paths)
	}
	raw, err := os.ReadFile(paths[0])
	if err != nil || !bytes.Equal(raw, want.Bytes()) {
		t.Fatalf("binary file: %v", err)
	}
	b64, err := os.ReadFile(paths[1])
	if err != nil {
		t.Fatal(err)
	}
	if dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b64))); err != nil || !bytes.Equal(dec, want.Bytes()) {
		t.Fatalf("base64 file: %v", err)
	}
	for _, src := range [][]string{pngs(t, paths[2]), pngs(t, paths[3]), {paths[4]}, {paths[5]}} {
		got, err := transport.ReadImages(src, nil)
		if err != nil {
			t.Fatalf("%v: %v", src, err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("%v: the frames read back differ from the stored PSBT", src)
		}
	}
	if len(pngs(t, paths[2])) < 2 {
		t.Fatal("a three-input top-up fits one UR frame: the test does not exercise an animated QR")
	}
	// The encodings are deterministic: writing again over the same files
	// keeps them, and completes a set a writer left halfway.
	snap := tree(t, dir)
	if err := os.RemoveAll(paths[3]); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(paths[5]); err != nil {
		t.Fatal(err)
	}
	if again, err := cold.WriteFiles(dir, x); err != nil || len(again) != 6 {
		t.Fatalf("written again over the same files: %v", err)
	}
	if got := tree(t, dir); !maps.Equal(got, snap) {
		t.Fatalf("written again: %d files, %d before; or their bytes differ", len(got), len(snap))
	}
	// A name holding other bytes (a file, or a frame of a directory) is
	// refused and left as it is.
	for _, p := range []string{paths[1], filepath.Join(paths[2], filepath.Base(pngs(t, paths[2])[0]))} {
		if err := os.WriteFile(p, []byte("other\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := cold.WriteFiles(dir, x); !errors.Is(err, os.ErrExist) {
			t.Fatalf("written over other bytes in %s: %v", p, err)
		}
		if b, _ := os.ReadFile(p); string(b) != "other\n" {
			t.Fatalf("a refused write changed %s", p)
		}
		if err := os.WriteFile(p, []byte(snap[p]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := tree(t, dir); !maps.Equal(got, snap) {
		t.Fatal("a refused write left something behind")
	}
	frames, err := cold.Terminal(x, transport.BBQr)
	if err != nil || len(frames) == 0 || !strings.Contains(frames[0], "█") {
		t.Fatalf("terminal frames: %d %v", len(frames), err)
	}
}

// tree is every regular file under dir with its bytes.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		m[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func pngs(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.png"))
	if err != nil || len(m) == 0 {
		t.Fatalf("no PNG frames in %s: %v", dir, err)
	}
	return m
}

// barrierNode holds every Block call until n of them are waiting, so the
// exporters that fetched their coins' blocks all reach the export
// transaction together. Only the timing is changed: the node is the real one.
type barrierNode struct {
	chain.Node
	mu      sync.Mutex
	waiting int
	n       int
	all     chan struct{}
}

func (b *barrierNode) Block(ctx context.Context, h chainhash.Hash) (*wire.MsgBlock, error) {
	b.mu.Lock()
	b.waiting++
	if b.waiting == b.n {
		close(b.all)
	}
	b.mu.Unlock()
	select {
	case <-b.all:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return b.Node.Block(ctx, h)
}

// Exporters racing for the same cold coins: one top-up is exported, the
// others are refused as another top-up open, and no coin is reserved twice.
func TestConcurrentExportsExportOne(t *testing.T) {
	e := newTopUpEnv(t, cold.Config{})
	e.fundCold(30_000_000, 30_000_000, 30_000_000)
	const racers = 4
	node := &barrierNode{Node: e.chain, n: racers, all: make(chan struct{})}
	topups, err := cold.NewTopUps(e.ledger, node, e.issuer, e.cold, cold.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := e.runner.Stats()
	// The coins are held here until every racer's export transaction waits
	// (to reserve them, or behind the one that got there first): all of them
	// started before any commits, so the losers must retry, whatever the
	// timing.
	hold, err := e.runner.Pool().Begin(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Rollback(e.ctx)
	if _, err := hold.Exec(e.ctx, `SELECT 1 FROM btc.coins FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, racers)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = topups.Export(e.ctx, 50_000_000, "op")
		}()
	}
	waiting := 0
	for waiting < racers && e.ctx.Err() == nil {
		// Waiting on the coins, or behind the first on the open top-up's row.
		waiting = e.count(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)
		time.Sleep(10 * time.Millisecond)
	}
	if err := hold.Rollback(e.ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if waiting != racers {
		t.Fatalf("%d of %d export transactions waited", waiting, racers)
	}
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, cold.ErrTopUpOpen):
			t.Fatalf("a racer failed otherwise: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d exports won: %v", won, errs)
	}
	if retries := e.runner.Stats().Retries - before.Retries; retries == 0 {
		t.Fatal("no export transaction collided: the test did not race them")
	}
	if n := e.count(`SELECT count(*) FROM btc.batches WHERE kind = 'topup'`); n != 1 {
		t.Fatalf("%d top-ups", n)
	}
	if n := e.count(`SELECT count(*) FROM public.events WHERE type = $1`, cold.EventTopupExported); n != 0 {
		t.Fatalf("%d export events from the reservations (the announcement emits it)", n)
	}
	if n := e.count(`SELECT count(*) FROM btc.coins c JOIN btc.batch_inputs i ON i.txid = c.txid AND i.vout = c.vout AND i.batch_id = c.reserved_by`); n != e.count(`SELECT count(*) FROM btc.coins WHERE reserved_by IS NOT NULL`) || n < 2 {
		t.Fatalf("reserved coins do not match the top-up's inputs (%d)", n)
	}
}
