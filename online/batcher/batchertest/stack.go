package batchertest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"

	"github.com/cryptoassets/cryptoassets/internal/chainscan"
	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/storetest"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/addresses"
	"github.com/cryptoassets/cryptoassets/online/broadcast"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/deposits"
	"github.com/cryptoassets/cryptoassets/online/hotwallet"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/store"
	"github.com/cryptoassets/cryptoassets/online/withdrawals"
	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
)

// Regtest is the network every Stack runs on.
var Regtest = &chaincfg.RegressionNetParams

// HotSeed is the byte the hot wallet's 64-byte seed repeats.
const HotSeed = 7

// Options shape a Stack; the zero value is the plain one.
type Options struct {
	// MinDeposit is the follower's: smaller outputs to a customer address
	// are ignored deposits.
	MinDeposit int64
	// FeeSat is the withdrawal fee the customers pay.
	FeeSat int64
	// Wrap, when set, stands between the node and the broadcaster (and
	// whatever else the test gives Sender), to inject a fault a real node
	// cannot produce.
	Wrap func(chain.Node) chain.Node
}

// Stack is one asset's ("btc") money-out stack on its own regtest node and
// its own PostgreSQL database, through the real parts: the ledger, the hot
// wallet (issuer and signer), the deposit follower synced to the tip, the
// broadcaster and the withdrawal service. The test puts the batcher (and
// whatever else it tests) on top.
type Stack struct {
	T        testing.TB
	Ctx      context.Context
	Node     *devenv.Btcd
	Chain    *chain.RPCNode
	Sender   chain.Node // Chain, or Options.Wrap of it
	Faucet   *devenv.Faucet
	Runner   *store.Runner
	Ledger   *ledger.Ledger
	Master   *hdkeys.Master
	Signer   *hotwallet.Signer
	Issuer   *addresses.Issuer
	Follower *deposits.Follower
	BC       *broadcast.Broadcaster
	W        *withdrawals.Service
}

// New starts a Stack, its follower synced to the node's tip.
func New(t testing.TB, o Options) *Stack {
	t.Helper()
	s := &Stack{T: t, Ctx: testenv.Ctx(t, 5*time.Minute)}
	s.Node = testenv.NewNode(t, devenv.BtcdOptions{})
	s.Chain = chain.NewRPCNode(s.Node.Client)
	s.Sender = s.Chain
	if o.Wrap != nil {
		s.Sender = o.Wrap(s.Chain)
	}
	s.Faucet = devenv.NewFaucet(s.Chain)
	s.Runner = storetest.Runner(t, 8, "btc")
	var err error
	if s.Ledger, err = ledger.New(s.Runner, "btc"); err != nil {
		t.Fatal(err)
	}
	if s.Master, err = hdkeys.NewMaster(bytes.Repeat([]byte{HotSeed}, 64), Regtest); err != nil {
		t.Fatal(err)
	}
	acct, err := s.Master.Account(hdkeys.P2WPKH, 0)
	if err != nil {
		t.Fatal(err)
	}
	if s.Signer, err = hotwallet.New(s.Master, acct); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Signer.Close)
	key, err := addresses.ParseKey(acct.Descriptor(), Regtest)
	if err != nil {
		t.Fatal(err)
	}
	if s.Issuer, err = addresses.NewIssuer(s.Ctx, s.Ledger, key); err != nil {
		t.Fatal(err)
	}
	tip, _, err := s.Chain.Tip(s.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.Follower = deposits.NewFollower(s.Ledger, s.Chain, deposits.Config{Confirmations: 1, StartHeight: tip, MinDeposit: o.MinDeposit}, nil)
	if s.BC, err = broadcast.New(s.Runner, "btc", s.Sender, nil); err != nil {
		t.Fatal(err)
	}
	if s.W, err = withdrawals.New(s.Ledger, withdrawals.Config{Params: Regtest, FeeSat: o.FeeSat}); err != nil {
		t.Fatal(err)
	}
	s.Sync()
	return s
}

// Sync runs the follower up to the node's tip.
func (s *Stack) Sync() {
	s.T.Helper()
	if err := s.Follower.SyncToTip(s.Ctx); err != nil {
		s.T.Fatal(err)
	}
}

// Mine mines n blocks and syncs the follower.
func (s *Stack) Mine(n int) {
	s.T.Helper()
	if _, err := s.Node.Generate(s.Ctx, n); err != nil {
		s.T.Fatal(err)
	}
	s.Sync()
}

// Address is a new deposit address of account, created if need be.
func (s *Stack) Address(account string) string {
	s.T.Helper()
	if _, err := s.Ledger.CreateAccount(s.Ctx, account); err != nil && !errors.Is(err, ledger.ErrAccountExists) {
		s.T.Fatal(err)
	}
	addrs, err := s.Issuer.NewAddresses(s.Ctx, account, "", 1)
	if err != nil {
		s.T.Fatal(err)
	}
	return addrs[0].Address
}

// Pay pays each amount to a new address of account, in one transaction,
// not mined.
func (s *Stack) Pay(account string, amounts ...int64) {
	s.T.Helper()
	var pays []devenv.Payment
	for _, a := range amounts {
		pays = append(pays, devenv.Payment{Address: s.Address(account), Amount: a})
	}
	if _, err := s.Faucet.Pay(s.Ctx, pays...); err != nil {
		s.T.Fatal(err)
	}
}

// Fund gives account a credited deposit of each amount: Pay, then a block.
func (s *Stack) Fund(account string, amounts ...int64) {
	s.T.Helper()
	s.Pay(account, amounts...)
	s.Mine(1)
}

// Request requests a withdrawal through the service.
func (s *Stack) Request(account, address string, amount int64) withdrawals.Withdrawal {
	s.T.Helper()
	w, err := s.W.Request(s.Ctx, withdrawals.Request{Account: account, Address: address, Amount: amount})
	if err != nil {
		s.T.Fatal(err)
	}
	return w
}

// Withdrawal reads withdrawal id.
func (s *Stack) Withdrawal(id int64) withdrawals.Withdrawal {
	s.T.Helper()
	w, err := s.W.Get(s.Ctx, id)
	if err != nil {
		s.T.Fatal(err)
	}
	return w
}

// Count runs a query returning one integer.
func (s *Stack) Count(q string, args ...any) int {
	s.T.Helper()
	var n int
	if err := s.Runner.Pool().QueryRow(s.Ctx, q, args...).Scan(&n); err != nil {
		s.T.Fatalf("%s: %v", q, err)
	}
	return n
}

// Sum runs a query returning one bigint: a sum of satoshis.
func (s *Stack) Sum(q string, args ...any) int64 {
	s.T.Helper()
	var v int64
	if err := s.Runner.Pool().QueryRow(s.Ctx, q, args...).Scan(&v); err != nil {
		s.T.Fatalf("%s: %v", q, err)
	}
	return v
}

// Exec runs a statement outside the service (to stage what a test needs).
func (s *Stack) Exec(q string, args ...any) {
	s.T.Helper()
	if _, err := s.Runner.Pool().Exec(s.Ctx, q, args...); err != nil {
		s.T.Fatalf("%s: %v", q, err)
	}
}

// PaidOnChain counts, by scanning every block of the node and its mempool,
// the outputs paying address exactly amount.
func (s *Stack) PaidOnChain(address string, amount int64) (confirmed, mempool int) {
	s.T.Helper()
	sc, err := chainscan.EveryBlock(s.Ctx, s.Chain)
	if err != nil {
		s.T.Fatal(err)
	}
	script, err := chainscan.AddressScript(address, Regtest)
	if err != nil {
		s.T.Fatal(err)
	}
	return sc.Confirmed(script, amount), sc.Unconfirmed(script, amount)
}

// Peer connects the node to other, or (connect false) disconnects it from
// every peer.
func (s *Stack) Peer(other *devenv.Btcd, connect bool) {
	s.T.Helper()
	if connect {
		testenv.Connect(s.T, s.Ctx, s.Node, other)
	} else {
		testenv.Disconnect(s.T, s.Ctx, s.Node)
	}
}

// WaitFor waits for cond (testenv.WaitFor).
func (s *Stack) WaitFor(what string, cond func() bool) {
	s.T.Helper()
	testenv.WaitFor(s.T, what, cond)
}

// SameTip reports whether nodes a and b have the same best block.
func (s *Stack) SameTip(a, b chain.Node) bool { return testenv.SameTip(s.Ctx, a, b) }

// Outside is an address of nobody in the service, one for each i.
func Outside(t testing.TB, i byte) string {
	t.Helper()
	a, err := btcutil.NewAddressWitnessPubKeyHash(bytes.Repeat([]byte{i}, 20), Regtest)
	if err != nil {
		t.Fatal(err)
	}
	return a.EncodeAddress()
}

// Fork is a second regtest node that mines nothing of its own, peered
// with a Stack's: a test splits the two, mines on each side, and joins
// them again, the longer chain winning (a reorganisation).
type Fork struct {
	s     *Stack
	Node  *devenv.Btcd
	Chain *chain.RPCNode
}

// NewFork starts the second node, peers it and waits until it has the
// Stack's tip.
func (s *Stack) NewFork() *Fork {
	s.T.Helper()
	f := &Fork{s: s, Node: testenv.NewNode(s.T, devenv.BtcdOptions{NoMine: true})}
	f.Chain = chain.NewRPCNode(f.Node.Client)
	s.Peer(f.Node, true)
	f.Synced("the second node to sync")
	return f
}

// Synced waits until both nodes have the same best block.
func (f *Fork) Synced(what string) {
	f.s.T.Helper()
	f.s.WaitFor(what, func() bool { return f.s.SameTip(f.s.Chain, f.Chain) })
}

// Split disconnects the nodes: each mines a chain of its own from here.
func (f *Fork) Split() {
	f.s.T.Helper()
	f.s.Peer(f.Node, false)
}

// Mine mines n blocks on the second node's side.
func (f *Fork) Mine(n int) {
	f.s.T.Helper()
	if _, err := f.Node.Generate(f.s.Ctx, n); err != nil {
		f.s.T.Fatal(err)
	}
}

// Join peers the nodes again and waits until both follow the same chain.
func (f *Fork) Join(what string) {
	f.s.T.Helper()
	f.s.Peer(f.Node, true)
	f.Synced(what)
}
