package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/btcsuite/btcd/wire"
	"github.com/urfave/cli/v2"

	"github.com/cryptoassets/cryptoassets/online/api"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/chain/rpc"
	"github.com/cryptoassets/cryptoassets/online/events"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/service"
)

// Faucet pays regtest coins to an address: the customer's wallet in the
// demo. The dev program passes one backed by internal/devenv, so this package,
// and with it the production binary, carries no faucet key and no launcher.
type Faucet interface {
	Pay(ctx context.Context, address string, sat int64) (*wire.MsgTx, error)
}

// DemoCommand is the `demo` command of the dev program (cmd/cryptoassets-dev):
// the whole story on regtest, paid for by the faucet newFaucet returns for
// the asset's node.
func DemoCommand(newFaucet func(chain.Node) Faucet) *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "run the whole story on regtest: accounts, addresses, a deposit seen/confirmed/credited, a transfer, webhooks",
		Description: "Needs a migrated database and a regtest node whose coinbase pays the devenv faucet\n" +
			"(make dev-up provides both; make demo runs everything). Refuses any asset not on regtest.",
		Flags: []cli.Flag{assetFlag},
		Action: withLedger(func(c *cli.Context, e *env, l *ledger.Ledger) error {
			ctx, cancel := context.WithTimeout(c.Context, 3*time.Minute)
			defer cancel()
			return runDemo(ctx, c, e, l, newFaucet)
		}),
	}
}

// demoMovedCommand keeps `cryptoassets demo` (the design's subcommand) as a
// pointer: the demo needs the dev environment, which this program does not
// carry.
func demoMovedCommand() *cli.Command {
	return &cli.Command{
		Name:            "demo",
		Usage:           "moved: the demo runs in the development program, `cryptoassets-dev demo` (make demo runs it end to end)",
		SkipFlagParsing: true,
		Action: func(c *cli.Context) error {
			return errors.New("the demo is not part of the production program: run `cryptoassets-dev demo` " +
				"(built into bin/ by make dev-up; make demo runs the whole story)")
		},
	}
}

type demo struct {
	c      *cli.Context
	base   string
	token  string
	node   *rpc.Client
	seqKey int
}

func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.c.App.Writer, "  "+format+"\n", args...)
}

func (d *demo) step(title string) { fmt.Fprintf(d.c.App.Writer, "\n-- %s\n", title) }

// call makes an API request like an application would, and decodes the reply.
func (d *demo) call(ctx context.Context, method, path, body string, idem bool) (map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, method, d.base+path, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+d.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if idem {
		d.seqKey++
		req.Header.Set("Idempotency-Key", fmt.Sprintf("demo-%d", d.seqKey))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("%s %s: %s", method, path, raw)
	}
	if resp.StatusCode >= 300 {
		return out, fmt.Errorf("%s %s: HTTP %d %s", method, path, resp.StatusCode, raw)
	}
	return out, nil
}

func runDemo(ctx context.Context, c *cli.Context, e *env, l *ledger.Ledger, newFaucet func(chain.Node) Faucet) error {
	a := e.cfg.Assets[l.Asset()]
	if a.Network != "regtest" {
		return fmt.Errorf("the demo runs on regtest only; asset %s is on %s", l.Asset(), a.Network)
	}
	node, err := service.RPC(a)
	if err != nil {
		return err
	}
	chainNode, err := nodeFor(a)
	if err != nil {
		return err
	}
	d := &demo{c: c, node: node}

	d.step("an API token for the shop's application")
	_, secret, err := api.NewTokens(e.runner).Create(ctx, "demo shop")
	if err != nil {
		return err
	}
	d.token = secret
	d.say("token %s… created (stored hashed; revocable with `cryptoassets token revoke`)", secret[:10])

	// The service: API, chain follower, webhook delivery to our receiver.
	srv, err := buildAPI(ctx, e)
	if err != nil {
		return err
	}
	apiLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	d.base = "http://" + apiLn.Addr().String()
	go func() { _ = http.Serve(apiLn, srv.Handler()) }()
	defer apiLn.Close()

	rc := &demoReceiver{secret: randomSecret()}
	hookLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() { _ = http.Serve(hookLn, rc) }()
	defer hookLn.Close()

	f, err := followerFor(e, l.Asset())
	if err != nil {
		return err
	}
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = f.Run(wctx) }()
	deliverer := &events.Deliverer{Runner: e.runner, Hooks: []events.Webhook{{URL: "http://" + hookLn.Addr().String() + "/hook", Secret: rc.secret}},
		Poll: 200 * time.Millisecond, MinBackoff: 200 * time.Millisecond}
	if err := events.Redeliver(ctx, e.runner, deliverer.Hooks[0].URL, latestEventID(ctx, e)); err != nil {
		return err
	}
	go func() { _ = deliverer.Run(wctx) }()
	d.say("service running: API on %s, chain follower on %s, webhooks to %s", d.base, a.RPCURL, deliverer.Hooks[0].URL)

	d.step("two customer accounts")
	suffix := randomSecret()[:3]
	alice, bob := "alice-"+hex.EncodeToString(suffix), "bob-"+hex.EncodeToString(suffix)
	for _, n := range []string{alice, bob} {
		if _, err := d.call(ctx, "POST", "/v1/"+l.Asset()+"/accounts", fmt.Sprintf(`{"name":%q}`, n), true); err != nil {
			return err
		}
		d.say("created %s", n)
	}

	d.step("deposit addresses")
	out, err := d.call(ctx, "POST", "/v1/"+l.Asset()+"/accounts/"+alice+"/addresses", `{"label":"first deposit"}`, true)
	if err != nil {
		return err
	}
	aliceAddr, _ := out["address"].(string)
	d.say("%s pays to %s (%s)", alice, aliceAddr, out["derivation_path"])
	out, err = d.call(ctx, "POST", "/v1/"+l.Asset()+"/accounts/"+bob+"/addresses", ``, true)
	if err != nil {
		return err
	}
	d.say("%s pays to %s (%s)", bob, out["address"], out["derivation_path"])

	d.step("alice's customer pays 0.5 BTC from their own wallet")
	tx, err := newFaucet(chainNode).Pay(ctx, aliceAddr, 50_000_000)
	if err != nil {
		return err
	}
	d.say("transaction %s is in the mempool", tx.TxHash())
	if err := d.waitBalance(ctx, l.Asset(), alice, "pending_sat", "50000000"); err != nil {
		return err
	}
	d.say("seen: %s has 0.5 BTC pending", alice)

	d.step(fmt.Sprintf("blocks are mined until %d confirmations", a.Confirmations))
	for i := 1; i <= a.Confirmations; i++ {
		if err := node.Call(ctx, nil, "generate", 1); err != nil {
			return err
		}
		d.say("block mined (%d confirmation%s)", i, map[bool]string{true: "", false: "s"}[i == 1])
	}
	if err := d.waitBalance(ctx, l.Asset(), alice, "available_sat", "50000000"); err != nil {
		return err
	}
	d.say("credited: %s has 0.5 BTC available", alice)

	d.step("an internal transfer of 0.1 BTC, sent twice with the same Idempotency-Key")
	body := fmt.Sprintf(`{"from":%q,"to":%q,"amount":"0.1","memo":"demo"}`, alice, bob)
	d.seqKey++
	key := d.seqKey
	first, err := d.call(ctx, "POST", "/v1/"+l.Asset()+"/transfers", body, false)
	if err == nil || !strings.Contains(err.Error(), "missing_idempotency_key") {
		return fmt.Errorf("a transfer without an Idempotency-Key must be refused: %v %v", first, err)
	}
	d.say("without a key: refused (missing_idempotency_key)")
	var ids []any
	for i := 0; i < 2; i++ {
		d.seqKey = key - 1
		out, err := d.call(ctx, "POST", "/v1/"+l.Asset()+"/transfers", body, true)
		if err != nil {
			return err
		}
		ids = append(ids, out["id"])
	}
	if ids[0] != ids[1] {
		return fmt.Errorf("the retried transfer was recorded twice: %v", ids)
	}
	d.say("both answers name ledger transaction %v: the money moved once", ids[0])

	d.step("balances and history")
	for _, n := range []string{alice, bob} {
		out, err := d.call(ctx, "GET", "/v1/"+l.Asset()+"/accounts/"+n, "", false)
		if err != nil {
			return err
		}
		d.say("%-12s available %s BTC, pending %s BTC", n, out["available"], out["pending"])
	}
	out, err = d.call(ctx, "GET", "/v1/"+l.Asset()+"/accounts/"+alice+"/history", "", false)
	if err != nil {
		return err
	}
	entries, _ := out["entries"].([]any)
	for _, en := range entries {
		m, _ := en.(map[string]any)
		d.say("history of %s: %-16v %14v BTC available, %14v pending", alice, m["kind"], m["available_delta"], m["pending_delta"])
	}

	d.step("webhooks")
	if err := d.waitFor(ctx, func() bool { return rc.count("deposit.credited") >= 1 }); err != nil {
		return fmt.Errorf("no deposit.credited webhook arrived: %w", err)
	}
	for _, t := range []string{"deposit.seen", "deposit.confirmations", "deposit.credited"} {
		d.say("%-22s %d delivered, signature verified", t, rc.count(t))
	}
	if rc.badSignatures() > 0 {
		return fmt.Errorf("%d webhook deliveries had a bad signature", rc.badSignatures())
	}

	d.step("ledger check")
	if err := l.Check(ctx); err != nil {
		return err
	}
	d.say("money conserved, every cached balance equals its entries, no customer below zero")
	return nil
}

func (d *demo) waitFor(ctx context.Context, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

func (d *demo) waitBalance(ctx context.Context, asset, account, field, want string) error {
	var last any
	err := d.waitFor(ctx, func() bool {
		out, err := d.call(ctx, "GET", "/v1/"+asset+"/accounts/"+account, "", false)
		if err != nil {
			return false
		}
		last = out[field]
		return out[field] == want
	})
	if err != nil {
		return fmt.Errorf("%s %s stayed %v, want %s: %w", account, field, last, want, err)
	}
	return nil
}

func latestEventID(ctx context.Context, e *env) int64 {
	var id int64
	_ = e.runner.Pool().QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM public.events`).Scan(&id)
	return id
}

func randomSecret() []byte {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

// demoReceiver is the shop's webhook endpoint: it verifies each signature.
type demoReceiver struct {
	secret []byte
	mu     sync.Mutex
	byType map[string]int
	bad    int
}

func (r *demoReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	r.mu.Lock()
	defer r.mu.Unlock()
	if events.Verify(r.secret, body, req.Header.Get(events.SignatureHeader), 0) != nil {
		r.bad++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var p struct {
		Type string `json:"type"`
	}
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&p); err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	if r.byType == nil {
		r.byType = map[string]int{}
	}
	r.byType[p.Type]++
	w.WriteHeader(http.StatusNoContent)
}

func (r *demoReceiver) count(t string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byType[t]
}

func (r *demoReceiver) badSignatures() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bad
}
