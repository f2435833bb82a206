package cold_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/btcutil/base58"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
	"github.com/cosmos/go-bip39"

	"github.com/cryptoassets/cryptoassets/internal/chainscan"
	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/psbttest"
	"github.com/cryptoassets/cryptoassets/internal/storetest"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/offline-signer/policy"
	"github.com/cryptoassets/cryptoassets/offline-signer/sign"
	"github.com/cryptoassets/cryptoassets/online/addresses"
	"github.com/cryptoassets/cryptoassets/online/batcher"
	"github.com/cryptoassets/cryptoassets/online/broadcast"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/cold"
	"github.com/cryptoassets/cryptoassets/online/deposits"
	"github.com/cryptoassets/cryptoassets/online/hotwallet"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/store"
	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
	"github.com/cryptoassets/cryptoassets/shared/psbt"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var regtest = &chaincfg.RegressionNetParams

// coldMnemonic is the cold wallet's seed phrase in these tests: the signer
// restores from it, and so does the other wallet that signs without it.
const coldMnemonic = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"

// importEnv is one asset with a hot wallet, a watched cold wallet holding
// confirmed coins, the follower, the broadcaster and the batcher that
// follows every batch, on a real regtest node and a real PostgreSQL.
type importEnv struct {
	t        *testing.T
	ctx      context.Context
	node     *devenv.Btcd
	chain    *chain.RPCNode
	runner   *store.Runner
	ledger   *ledger.Ledger
	issuer   *addresses.Issuer
	cold     *addresses.Cold
	follower *deposits.Follower
	bc       *broadcast.Broadcaster
	b        *batcher.Batcher
	topups   *cold.TopUps
	im       *cold.Importer
	coldM    *hdkeys.Master
	hotAcct  *hdkeys.AccountKey
}

func newImportEnv(t *testing.T, coins ...int64) *importEnv {
	t.Helper()
	return newImportEnvOf(t, hdkeys.P2WPKH, coins...)
}

// newImportEnvOf is newImportEnv with a cold wallet of script type st.
func newImportEnvOf(t *testing.T, st hdkeys.ScriptType, coins ...int64) *importEnv {
	t.Helper()
	e := &importEnv{t: t, ctx: testenv.Ctx(t, 5*time.Minute)}
	e.node = testenv.NewNode(t, devenv.BtcdOptions{})
	e.chain = chain.NewRPCNode(e.node.Client)
	e.runner = storetest.Runner(t, 8, "btc")
	var err error
	if e.ledger, err = ledger.New(e.runner, "btc"); err != nil {
		t.Fatal(err)
	}
	hotM, err := hdkeys.NewMaster(psbttest.Seed(7), regtest)
	if err != nil {
		t.Fatal(err)
	}
	if e.hotAcct, err = hotM.Account(hdkeys.P2WPKH, 0); err != nil {
		t.Fatal(err)
	}
	signer, err := hotwallet.New(hotM, e.hotAcct)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(signer.Close)
	hotKey, err := addresses.ParseKey(e.hotAcct.Descriptor(), regtest)
	if err != nil {
		t.Fatal(err)
	}
	if e.issuer, err = addresses.NewIssuer(e.ctx, e.ledger, hotKey); err != nil {
		t.Fatal(err)
	}
	seed := bip39.NewSeed(coldMnemonic, "")
	if e.coldM, err = hdkeys.NewMaster(seed, regtest); err != nil {
		t.Fatal(err)
	}
	coldAcct, err := e.coldM.Account(st, 0)
	if err != nil {
		t.Fatal(err)
	}
	coldKey, err := addresses.ParseKey(coldAcct.Descriptor(), regtest)
	if err != nil {
		t.Fatal(err)
	}
	if e.cold, err = addresses.NewCold(e.ctx, e.ledger, coldKey, addresses.DefaultColdGap); err != nil {
		t.Fatal(err)
	}
	tip, _, err := e.chain.Tip(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.follower = deposits.NewFollower(e.ledger, e.chain, deposits.Config{Confirmations: 1, StartHeight: tip}, nil)
	if e.bc, err = broadcast.New(e.runner, "btc", e.chain, nil); err != nil {
		t.Fatal(err)
	}
	if e.b, err = batcher.New(e.ledger, e.chain, e.issuer, signer, e.bc, batcher.Config{Confirmations: 1, CoinConfirmations: 1}, nil); err != nil {
		t.Fatal(err)
	}
	if e.topups, err = cold.NewTopUps(e.ledger, e.chain, e.issuer, e.cold, cold.Config{}, nil); err != nil {
		t.Fatal(err)
	}
	if e.im, err = cold.NewImporter(e.ledger, regtest, nil); err != nil {
		t.Fatal(err)
	}
	// Fund the cold wallet: one coin per amount, at its receive addresses.
	var pays []devenv.Payment
	for range coins {
		var c addresses.Change
		if err := e.runner.InTx(e.ctx, "test-cold-address", func(tx *store.Tx) error {
			var err error
			c, err = e.cold.NextTx(tx, 0)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		pays = append(pays, devenv.Payment{Address: c.Address, Amount: coins[len(pays)]})
	}
	if _, err := devenv.NewFaucet(e.chain).Pay(e.ctx, pays...); err != nil {
		t.Fatal(err)
	}
	e.mine(1)
	return e
}

func (e *importEnv) mine(n int) {
	e.t.Helper()
	if _, err := e.node.Generate(e.ctx, n); err != nil {
		e.t.Fatal(err)
	}
	if err := e.follower.SyncToTip(e.ctx); err != nil {
		e.t.Fatal(err)
	}
	if err := e.b.Follow(e.ctx); err != nil {
		e.t.Fatal(err)
	}
}

func (e *importEnv) export(amount int64) cold.Export {
	e.t.Helper()
	x, err := e.topups.Export(e.ctx, amount, "test")
	if err != nil {
		e.t.Fatal(err)
	}
	return x
}

// signed is x's PSBT signed on the real signer path, as
// cryptoassets-signer signs it.
func (e *importEnv) signed(p *btcpsbt.Packet) *btcpsbt.Packet {
	e.t.Helper()
	p = clonePSBT(e.t, p)
	pol := &policy.Policy{Network: "regtest", HotWalletDescriptor: e.hotAcct.Descriptor(), HotWalletLookahead: 50, ChangeLookahead: 50}
	if err := pol.Init(); err != nil {
		e.t.Fatal(err)
	}
	s := &sign.Signer{Master: e.coldM, Policy: pol}
	r, err := s.Review(p)
	if err != nil {
		e.t.Fatal(err)
	}
	if ok, err := s.Sign(p, r); err != nil || !ok {
		e.t.Fatalf("sign: %v %v", ok, err)
	}
	return p
}

func clonePSBT(t *testing.T, p *btcpsbt.Packet) *btcpsbt.Packet {
	t.Helper()
	var b bytes.Buffer
	if err := p.Serialize(&b); err != nil {
		t.Fatal(err)
	}
	q, err := btcpsbt.NewFromRawBytes(&b, false)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// encode serializes p as base64 without the codec's own checks, as any
// wallet might write it.
func encode(t *testing.T, p *btcpsbt.Packet) []byte {
	t.Helper()
	s, err := p.B64Encode()
	if err != nil {
		t.Fatal(err)
	}
	return []byte(s)
}

// snapshot is everything an import may change.
type importSnapshot struct {
	batches, coins string
	broadcasts     int
	events         int
}

func (e *importEnv) snapshot() importSnapshot {
	e.t.Helper()
	var s importSnapshot
	q := func(sql string, dst any) {
		if err := e.runner.Pool().QueryRow(e.ctx, sql).Scan(dst); err != nil {
			e.t.Fatal(err)
		}
	}
	q(`SELECT coalesce(string_agg(id || ':' || state, ',' ORDER BY id), '') FROM btc.batches`, &s.batches)
	q(`SELECT coalesce(string_agg(encode(txid, 'hex') || ':' || vout || ':' || coalesce(reserved_by::text, '-') || ':' || coalesce(encode(spent_by, 'hex'), '-'), ',' ORDER BY txid, vout), '') FROM btc.coins`, &s.coins)
	q(`SELECT count(*) FROM btc.broadcasts`, &s.broadcasts)
	q(`SELECT count(*) FROM public.events`, &s.events)
	return s
}

func (e *importEnv) state(id int64) string {
	e.t.Helper()
	var s string
	if err := e.runner.Pool().QueryRow(e.ctx, `SELECT state FROM btc.batches WHERE id = $1`, id).Scan(&s); err != nil {
		e.t.Fatal(err)
	}
	return s
}

// events counts the events of type typ about batch id.
func (e *importEnv) events(typ string, id int64) int {
	e.t.Helper()
	var n int
	if err := e.runner.Pool().QueryRow(e.ctx, `SELECT count(*) FROM public.events WHERE type = $1 AND payload->>'batch_id' = $2`, typ, itoa(id)).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *importEnv) reserved(id int64) int {
	e.t.Helper()
	var n int
	if err := e.runner.Pool().QueryRow(e.ctx, `SELECT count(*) FROM btc.coins WHERE reserved_by = $1`, id).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// hotOutput is the index of x's output to the hot wallet.
func hotOutput(t *testing.T, x cold.Export) int {
	t.Helper()
	for i, o := range x.PSBT.UnsignedTx.TxOut {
		if o.Value == x.Amount {
			return i
		}
	}
	t.Fatal("the export has no output of its amount")
	return -1
}

// Every refusal the issue lists, each with a message naming the top-up and
// what to do, and after each nothing changed: batch states, coins,
// broadcast records and events are what they were (an expired top-up is
// marked expired, as the keeper would have, and nothing else).
func TestImportRefuses(t *testing.T) {
	e := newImportEnv(t, 30_000_000, 20_000_000)
	short, err := cold.NewTopUps(e.ledger, e.chain, e.issuer, e.cold, cold.Config{Expiry: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}

	type prepared struct {
		signed []byte
		x      cold.Export // zero when nothing was exported
	}
	cases := []struct {
		name    string
		prepare func(t *testing.T) prepared
		want    error
		says    []string
		// expired: the refusal marks the top-up expired and emits one event.
		expired bool
	}{
		{
			name: "outputs changed after signing",
			prepare: func(t *testing.T) prepared {
				x := e.export(10_000_000)
				p := e.signed(x.PSBT)
				p.UnsignedTx.TxOut[hotOutput(t, x)].Value -= 1_000
				return prepared{encode(t, p), x}
			},
			want: cold.ErrNotExported,
			says: []string{"its outputs differ from top-up", "pays 9999000 sat to bcrt1", "'s pays 10000000 sat to bcrt1"},
		},
		{
			name: "a sequence changed after signing",
			prepare: func(t *testing.T) prepared {
				x := e.export(10_000_000)
				p := e.signed(x.PSBT)
				p.UnsignedTx.TxIn[0].Sequence = wire.MaxTxInSequenceNum
				return prepared{encode(t, p), x}
			},
			want: cold.ErrNotExported,
			says: []string{"its sequences differ from top-up", "has sequence 0xffffffff"},
		},
		{
			name: "cancelled",
			prepare: func(t *testing.T) prepared {
				x := e.export(10_000_000)
				signed := encode(t, e.signed(x.PSBT))
				if _, err := e.topups.Cancel(e.ctx, x.ID, "alice"); err != nil {
					t.Fatal(err)
				}
				return prepared{signed, x}
			},
			want: cold.ErrCancelled,
			says: []string{"was cancelled (by alice)", "export a new one"},
		},
		{
			name: "expired",
			prepare: func(t *testing.T) prepared {
				x, err := short.Export(e.ctx, 10_000_000, "test")
				if err != nil {
					t.Fatal(err)
				}
				signed := encode(t, e.signed(x.PSBT))
				time.Sleep(time.Until(x.ExpiresAt) + 100*time.Millisecond)
				return prepared{signed, x}
			},
			want:    cold.ErrExpired,
			says:    []string{"expired before its import", "export a new one"},
			expired: true,
		},
		{
			name: "never exported",
			prepare: func(t *testing.T) prepared {
				acct, err := e.coldM.Account(hdkeys.P2WPKH, 0)
				if err != nil {
					t.Fatal(err)
				}
				in := psbttest.Derive(t, acct, 0, 7)
				fund := psbttest.FakeFunding(map[*hdkeys.Derived]int64{in: 3_000_000}, []*hdkeys.Derived{in})
				hot := psbttest.Derive(t, e.hotAcct, 1, 0)
				p := psbttest.TopUp(t, fund, map[int]*hdkeys.Derived{0: in}, hot, psbttest.Derive(t, acct, 1, 0), 2_000_000, 2_000)
				return prepared{signed: encode(t, e.signed(p))}
			},
			want: cold.ErrNotExported,
			says: []string{"no exported top-up spends any of its inputs"},
		},
		{
			name: "a signature that does not verify",
			prepare: func(t *testing.T) prepared {
				x := e.export(10_000_000)
				p := e.signed(x.PSBT)
				// The witness is <count> <len> <DER signature> <len> <key>:
				// byte 10 is inside the signature's r, so the DER stays
				// well-formed and only the check fails.
				w := p.Inputs[0].FinalScriptWitness
				w[10] ^= 0x01
				return prepared{encode(t, p), x}
			},
			want: cold.ErrBadSignature,
			says: []string{"signature is refused: input 0", "its signature does not verify", "sign the exported PSBT again"},
		},
		{
			// The signer was told input 0 spends more than it does, and
			// the PSBT says so too: verified against the coin the export
			// stored, the signature fails; trusting the PSBT, it would pass
			// here and the node would refuse it.
			name: "signed over a false amount the PSBT claims",
			prepare: func(t *testing.T) prepared {
				x := e.export(10_000_000)
				return prepared{encode(t, signElsewhere(t, x.PSBT, 1, 0)), x}
			},
			want: cold.ErrBadSignature,
			says: []string{"signature is refused: input 0", "its signature does not verify"},
		},
		{
			// Valid signatures that commit to no output: a relayer could
			// send the coins anywhere.
			name: "signed with SIGHASH_NONE|ANYONECANPAY",
			prepare: func(t *testing.T) prepared {
				x := e.export(10_000_000)
				return prepared{encode(t, signElsewhere(t, x.PSBT, 0, txscript.SigHashNone|txscript.SigHashAnyOneCanPay)), x}
			},
			want: cold.ErrBadSignature,
			says: []string{"sighash type 0x82, not SIGHASH_ALL"},
		},
		{
			name: "unsigned",
			prepare: func(t *testing.T) prepared {
				x := e.export(10_000_000)
				return prepared{encode(t, x.PSBT), x}
			},
			want: cold.ErrBadSignature,
			says: []string{"is not signed"},
		},
		{
			name:    "not a PSBT",
			prepare: func(t *testing.T) prepared { return prepared{signed: []byte("hello, this is not a PSBT\n")} },
			want:    psbt.ErrMalformed,
			says:    []string{"not a PSBT"},
		},
		{
			name:    "NUL bytes",
			prepare: func(t *testing.T) prepared { return prepared{signed: []byte("cHNidP8\x00\x00\x00garbage")} },
			want:    cold.ErrUnreadable,
			says:    []string{"NUL byte at offset 7"},
		},
		{
			name: "oversized",
			prepare: func(t *testing.T) prepared {
				return prepared{signed: append([]byte("cHNidP8"), bytes.Repeat([]byte("A"), psbt.DefaultMaxSize)...)}
			},
			want: psbt.ErrTooLarge,
			says: []string{"limit is"},
		},
		{
			name: "another network",
			prepare: func(t *testing.T) prepared {
				x := e.export(10_000_000)
				p := e.signed(x.PSBT)
				mainM, err := hdkeychain.NewMaster(bytes.Repeat([]byte{1}, 32), &chaincfg.MainNetParams)
				if err != nil {
					t.Fatal(err)
				}
				pub, err := mainM.Neuter()
				if err != nil {
					t.Fatal(err)
				}
				ser := serializeXPub(pub)
				p.Unknowns = append(p.Unknowns, &btcpsbt.Unknown{Key: append([]byte{0x01}, ser...), Value: []byte{0, 0, 0, 0}})
				return prepared{encode(t, p), x}
			},
			want: cold.ErrUnreadable,
			says: []string{"another network than regtest"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pr := tc.prepare(t)
			before := e.snapshot()
			got, err := e.im.Import(e.ctx, e.bc, pr.signed)
			if !errors.Is(err, tc.want) {
				t.Fatalf("want %v, got %v (%+v)", tc.want, err, got)
			}
			for _, s := range tc.says {
				if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(s)) {
					t.Errorf("the refusal does not say %q: %v", s, err)
				}
			}
			if pr.x.ID != 0 && !errors.Is(err, cold.ErrUnreadable) && !strings.Contains(err.Error(), "top-up "+itoa(pr.x.ID)) {
				t.Errorf("the refusal does not name top-up %d: %v", pr.x.ID, err)
			}
			t.Log(err)
			after := e.snapshot()
			if tc.expired {
				if st := e.state(pr.x.ID); st != cold.StateExpired {
					t.Fatalf("an expired top-up refused at import is %s", st)
				}
				if n := e.reserved(pr.x.ID); n != 0 {
					t.Fatalf("an expired top-up still reserves %d coins", n)
				}
				if after.events != before.events+1 || after.broadcasts != before.broadcasts {
					t.Fatalf("expiry: events %d -> %d, broadcasts %d -> %d", before.events, after.events, before.broadcasts, after.broadcasts)
				}
			} else if after != before {
				t.Fatalf("a refused import changed something:\nbefore %+v\nafter  %+v", before, after)
			}
			// Leave no top-up open for the next case.
			if pr.x.ID != 0 && e.state(pr.x.ID) == cold.StateReserved {
				if _, err := e.topups.Cancel(e.ctx, pr.x.ID, "test"); err != nil {
					t.Fatal(err)
				}
			}
		})
	}

	t.Run("imported twice", func(t *testing.T) {
		x := e.export(10_000_000)
		signed := encode(t, e.signed(x.PSBT))
		got, err := e.im.Import(e.ctx, e.bc, signed)
		if err != nil || got.BatchID != x.ID || got.TxID != x.TxID || got.Broadcast.Outcome != broadcast.Accepted {
			t.Fatalf("first import: %+v %v", got, err)
		}
		before := e.snapshot()
		_, err = e.im.Import(e.ctx, e.bc, signed)
		if !errors.Is(err, cold.ErrAlreadyImported) || !strings.Contains(err.Error(), "top-up "+itoa(x.ID)) {
			t.Fatalf("second import: %v", err)
		}
		if after := e.snapshot(); after != before {
			t.Fatalf("the second import changed something:\nbefore %+v\nafter  %+v", before, after)
		}
		t.Log(err)
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// serializeXPub is the 78-byte BIP32 serialization of an extended key.
func serializeXPub(k *hdkeychain.ExtendedKey) []byte {
	// String is base58check of the 78 bytes and a 4-byte checksum.
	return base58.Decode(k.String())[:78]
}

// A top-up signed by a wallet that is not ours but holds the right keys
// (as Electrum or Sparrow would: the seed from the mnemonic, each input's
// key from the BIP32 path the PSBT states, a partial signature per input
// for the importer to finalize; a taproot key-path signature for a P2TR
// cold wallet) imports, is mined and confirms; the hot wallet is paid on
// the chain exactly once and the top-up booked once, cold -> hot.
func TestTopUpSignedByAnotherWalletImportsAndConfirms(t *testing.T) {
	for _, st := range []hdkeys.ScriptType{hdkeys.P2WPKH, hdkeys.P2TR} {
		t.Run(st.String(), func(t *testing.T) { topUpSignedElsewhere(t, st) })
	}
}

func topUpSignedElsewhere(t *testing.T, st hdkeys.ScriptType) {
	e := newImportEnvOf(t, st, 30_000_000, 20_000_000)
	x := e.export(40_000_000)
	if len(x.PSBT.Inputs) < 2 {
		t.Fatalf("the export spends %d coins: the test wants two, each signed", len(x.PSBT.Inputs))
	}
	p := signElsewhere(t, x.PSBT, 0, 0)

	got, err := e.im.Import(e.ctx, e.bc, encode(t, p))
	if err != nil || got.BatchID != x.ID || got.TxID != x.TxID || got.Amount != x.Amount || got.Fee != x.Fee {
		t.Fatalf("import: %+v %v", got, err)
	}
	if got.Broadcast.Outcome != broadcast.Accepted || got.Broadcast.Kind != broadcast.KindColdTopup || got.Broadcast.ClosedAt == nil {
		t.Fatalf("broadcast record after the import: %+v", got.Broadcast)
	}
	if st := e.state(x.ID); st != batcher.Broadcast {
		t.Fatalf("the imported top-up is %s after the node accepted it, want broadcast", st)
	}
	if n := e.events(batcher.EventTopupBroadcast, x.ID); n != 1 {
		t.Fatalf("%d cold.topup_broadcast events, want 1", n)
	}
	e.mine(1)
	if st := e.state(x.ID); st != batcher.Confirmed {
		t.Fatalf("the top-up is %s after a block, want confirmed", st)
	}
	if n := e.events(batcher.EventTopupConfirmed, x.ID); n != 1 {
		t.Fatalf("%d cold.topup_confirmed events, want 1", n)
	}
	// Booked once, cold -> hot: cold_wallet +(amount+fee), hot_wallet
	// -amount, network_fees -fee.
	var booking string
	if err := e.runner.Pool().QueryRow(e.ctx, `SELECT string_agg(a.kind || ' ' || e.available_delta, ', ' ORDER BY a.kind)
		FROM btc.ledger_transactions t JOIN btc.ledger_entries e ON e.tx_id = t.id JOIN btc.accounts a ON a.id = e.account_id
		WHERE t.kind = 'cold.topup_booked'`).Scan(&booking); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("cold_wallet %d, hot_wallet %d, network_fees %d", x.Amount+x.Fee, -x.Amount, -x.Fee); booking != want {
		t.Fatalf("the top-up is booked as %q, want %q", booking, want)
	}
	s, err := chainscan.EveryBlock(e.ctx, e.chain)
	if err != nil {
		t.Fatal(err)
	}
	hot := p.UnsignedTx.TxOut[hotOutput(t, x)]
	if n := s.Confirmed(hot.PkScript, x.Amount); n != 1 {
		t.Fatalf("the hot wallet is paid %d times on the chain, want once", n)
	}
	if err := e.ledger.Check(e.ctx); err != nil {
		t.Fatal(err)
	}
}

// signElsewhere signs p as another wallet holding the cold keys would, with
// btcd's own primitives only: the seed from the mnemonic (BIP39), each
// input's key at the BIP32 path the PSBT states, a partial signature per
// input, nothing finalized. lie is added to the amount input 0 is signed
// over, and to what the returned PSBT claims it spends; hashType is the
// sighash type of every signature (0: SIGHASH_ALL, taproot's default).
func signElsewhere(t *testing.T, exported *btcpsbt.Packet, lie int64, hashType txscript.SigHashType) *btcpsbt.Packet {
	t.Helper()
	p := clonePSBT(t, exported)
	if lie != 0 {
		p.Inputs[0].WitnessUtxo.Value += lie
		p.Inputs[0].NonWitnessUtxo = nil // it would contradict the lie
	}
	master, err := hdkeychain.NewMaster(bip39.NewSeed(coldMnemonic, ""), regtest)
	if err != nil {
		t.Fatal(err)
	}
	fetcher := txscript.NewMultiPrevOutFetcher(nil)
	for i, in := range p.UnsignedTx.TxIn {
		fetcher.AddPrevOut(in.PreviousOutPoint, p.Inputs[i].WitnessUtxo)
	}
	hashes := txscript.NewTxSigHashes(p.UnsignedTx, fetcher)
	derive := func(path []uint32) *btcec.PrivateKey {
		k := master
		for _, step := range path {
			if k, err = k.Derive(step); err != nil {
				t.Fatal(err)
			}
		}
		priv, err := k.ECPrivKey()
		if err != nil {
			t.Fatal(err)
		}
		return priv
	}
	for i := range p.Inputs {
		in := &p.Inputs[i]
		in.SighashType = hashType // as a signer states what it signs
		prev := in.WitnessUtxo
		switch {
		case len(in.Bip32Derivation) == 1:
			priv := derive(in.Bip32Derivation[0].Bip32Path)
			pub := priv.PubKey().SerializeCompressed()
			if !bytes.Equal(pub, in.Bip32Derivation[0].PubKey) {
				t.Fatalf("input %d: the key at its stated path is not the key it states", i)
			}
			ht := hashType
			if ht == 0 {
				ht = txscript.SigHashAll
			}
			sig, err := txscript.RawTxInWitnessSignature(p.UnsignedTx, hashes, i, prev.Value, prev.PkScript, ht, priv)
			if err != nil {
				t.Fatal(err)
			}
			in.PartialSigs = append(in.PartialSigs, &btcpsbt.PartialSig{PubKey: pub, Signature: sig})
		case len(in.TaprootBip32Derivation) == 1:
			priv := derive(in.TaprootBip32Derivation[0].Bip32Path)
			if !bytes.Equal(schnorr.SerializePubKey(priv.PubKey()), in.TaprootBip32Derivation[0].XOnlyPubKey) {
				t.Fatalf("input %d: the key at its stated path is not the key it states", i)
			}
			// BIP86: the output key is the internal key tweaked with no
			// script tree; RawTxInTaprootSignature tweaks it so.
			sig, err := txscript.RawTxInTaprootSignature(p.UnsignedTx, hashes, i, prev.Value, prev.PkScript, nil, hashType, priv)
			if err != nil {
				t.Fatal(err)
			}
			in.TaprootKeySpendSig = sig
		default:
			t.Fatalf("input %d states no key origin", i)
		}
	}
	return p
}

// Operators importing the same signed top-up at once (two terminals, a
// retried script): exactly one import opens and sends it, every other one
// is refused as already imported, and the node has it once.
func TestConcurrentImportsSendOnce(t *testing.T) {
	e := newImportEnv(t, 30_000_000)
	x := e.export(10_000_000)
	signed := encode(t, e.signed(x.PSBT))
	const n = 6
	// The first import in holds its transaction a moment: the others meet
	// its row lock and conflict with its commit even on an idle machine.
	var once sync.Once
	defer cold.HoldImport(func() { once.Do(func() { time.Sleep(300 * time.Millisecond) }) })()
	retries := e.runner.Stats().Retries
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = e.im.Import(e.ctx, e.bc, signed)
		}()
	}
	close(start)
	wg.Wait()
	var won, refused int
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case errors.Is(err, cold.ErrAlreadyImported):
			refused++
		default:
			t.Fatalf("an import failed otherwise: %v", err)
		}
	}
	if won != 1 || refused != n-1 {
		t.Fatalf("%d imports took the top-up and %d were refused, want 1 and %d", won, refused, n-1)
	}
	collisions := e.runner.Stats().Retries - retries
	t.Logf("%d imports, %d conflicts retried", n, collisions)
	if collisions == 0 {
		t.Fatal("the imports never met: the test proves nothing")
	}
	var records, attempts int
	if err := e.runner.Pool().QueryRow(e.ctx, `SELECT count(*), coalesce(sum(attempts), 0) FROM btc.broadcasts`).Scan(&records, &attempts); err != nil {
		t.Fatal(err)
	}
	if records != 1 {
		t.Fatalf("%d broadcast records, want 1", records)
	}
	if st := e.state(x.ID); st != batcher.Broadcast {
		t.Fatalf("the top-up is %s, want broadcast", st)
	}
}

// lossyNode loses the node's answer to a broadcast after the node got the
// transaction: the real node, with one fault a real node cannot be asked
// to produce.
type lossyNode struct {
	chain.Node
}

func (n lossyNode) Broadcast(ctx context.Context, tx *wire.MsgTx) (chainhash.Hash, error) {
	if _, err := n.Node.Broadcast(ctx, tx); err != nil {
		return chainhash.Hash{}, err
	}
	return chainhash.Hash{}, errors.New("connection reset by peer")
}

// An import whose broadcast answer is lost has still taken the top-up: the
// record stays open, the batch broadcasting, a second import is refused,
// and the resolver settles it with the same bytes.
func TestImportWithALostAnswerIsSettledByTheResolver(t *testing.T) {
	e := newImportEnv(t, 30_000_000)
	x := e.export(10_000_000)
	signed := encode(t, e.signed(x.PSBT))
	lossy, err := broadcast.New(e.runner, "btc", lossyNode{e.chain}, nil)
	if err != nil {
		t.Fatal(err)
	}
	batcher.RegisterHooks(lossy, e.ledger, nil)
	got, err := e.im.Import(e.ctx, lossy, signed)
	if !errors.Is(err, broadcast.ErrUnresolved) || got.BatchID != x.ID || got.Broadcast.ClosedAt != nil {
		t.Fatalf("import with a lost answer: %+v %v", got, err)
	}
	if st := e.state(x.ID); st != batcher.Broadcasting {
		t.Fatalf("the top-up is %s with its answer lost, want broadcasting", st)
	}
	if _, err := e.im.Import(e.ctx, e.bc, signed); !errors.Is(err, cold.ErrAlreadyImported) {
		t.Fatalf("a second import while the first is open: %v", err)
	}
	rs, err := e.bc.Resolve(e.ctx)
	if err != nil || len(rs) != 1 || rs[0].ClosedAt == nil {
		t.Fatalf("resolve: %+v %v", rs, err)
	}
	if st := e.state(x.ID); st != batcher.Broadcast {
		t.Fatalf("the top-up is %s after the resolver found it, want broadcast", st)
	}
	e.mine(1)
	if st := e.state(x.ID); st != batcher.Confirmed {
		t.Fatalf("the top-up is %s after a block, want confirmed", st)
	}
}

// A top-up one of whose coins the cold keys spent elsewhere meanwhile (a
// wallet outside the service). When the follower has seen the spend, the
// import is refused, naming the coin and its spender, and changes
// nothing; the top-up can then be cancelled. When it has not, the
// transaction is exactly the exported one, correctly signed, so it is
// taken and sent, and the node's refusal is the answer: the top-up is
// rejected and its coins still unspent go back.
func TestImportOfATopUpWhoseCoinWasSpentElsewhere(t *testing.T) {
	for _, followed := range []bool{true, false} {
		t.Run(map[bool]string{true: "followed", false: "not yet followed"}[followed], func(t *testing.T) {
			e := newImportEnv(t, 30_000_000, 20_000_000)
			x := e.export(40_000_000)
			signed := encode(t, e.signed(x.PSBT))

			in := x.PSBT.Inputs[0]
			elsewhere, err := btcpsbt.New([]*wire.OutPoint{&x.PSBT.UnsignedTx.TxIn[0].PreviousOutPoint},
				[]*wire.TxOut{wire.NewTxOut(in.WitnessUtxo.Value-2_000, append([]byte{0x00, 0x14}, bytes.Repeat([]byte{9}, 20)...))},
				2, 0, []uint32{wire.MaxTxInSequenceNum})
			if err != nil {
				t.Fatal(err)
			}
			elsewhere.Inputs[0].WitnessUtxo, elsewhere.Inputs[0].Bip32Derivation = in.WitnessUtxo, in.Bip32Derivation
			p := signElsewhere(t, elsewhere, 0, 0)
			if err := btcpsbt.MaybeFinalizeAll(p); err != nil {
				t.Fatal(err)
			}
			spend, err := btcpsbt.Extract(p)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.chain.Broadcast(e.ctx, spend); err != nil {
				t.Fatal(err)
			}
			if followed {
				e.mine(1)
				before := e.snapshot()
				_, err := e.im.Import(e.ctx, e.bc, signed)
				if !errors.Is(err, cold.ErrCoinSpent) || !strings.Contains(err.Error(), spend.TxHash().String()) || !strings.Contains(err.Error(), "cold cancel "+itoa(x.ID)) {
					t.Fatalf("import of a top-up whose coin the follower saw spent: %v", err)
				}
				t.Log(err)
				if after := e.snapshot(); after != before {
					t.Fatalf("the refused import changed something:\nbefore %+v\nafter  %+v", before, after)
				}
				if _, err := e.topups.Cancel(e.ctx, x.ID, "test"); err != nil {
					t.Fatal(err)
				}
				return
			}
			if _, err := e.node.Generate(e.ctx, 1); err != nil { // mined, not yet followed
				t.Fatal(err)
			}
			got, err := e.im.Import(e.ctx, e.bc, signed)
			if err != nil || got.BatchID != x.ID || got.Broadcast.Outcome != broadcast.Rejected {
				t.Fatalf("import of a top-up whose coin is spent: %+v %v", got, err)
			}
			t.Logf("the node's answer: %s", got.Broadcast.Error)
			if st := e.state(x.ID); st != batcher.Rejected {
				t.Fatalf("the top-up is %s after the node refused it, want rejected", st)
			}
			e.mine(1)
			var held int
			if err := e.runner.Pool().QueryRow(e.ctx, `SELECT count(*) FROM btc.coins WHERE reserved_by = $1 AND spent_by IS NULL`, x.ID).Scan(&held); err != nil {
				t.Fatal(err)
			}
			if held != 0 {
				t.Fatalf("the rejected top-up still holds %d unspent coins", held)
			}
			if _, err := e.topups.Export(e.ctx, 10_000_000, "test"); err != nil {
				t.Fatalf("a new top-up after the rejected one: %v", err)
			}
		})
	}
}
