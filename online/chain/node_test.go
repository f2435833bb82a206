package chain_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/chain/rpc"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// cutTransport wraps the real transport and cuts the reply body after n
// bytes, as a connection dropped mid-reply would.
type cutTransport struct {
	next http.RoundTripper
	n    int64
}

func (c cutTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(io.LimitReader(resp.Body, c.n), errReader{}), resp.Body}
	return resp, nil
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset by peer") }

func TestNodeAgainstRealBtcd(t *testing.T) {
	node := testenv.NewNode(t, devenv.BtcdOptions{})
	ctx := testenv.Ctx(t, time.Minute)
	n := chain.NewRPCNode(node.Client)
	height, tip, err := n.Tip(ctx)
	if err != nil || height != devenv.SegwitHeight {
		t.Fatalf("tip %d %v", height, err)
	}
	h, err := n.BlockHash(ctx, height)
	if err != nil || h != tip {
		t.Fatalf("block hash at tip: %s %v", h, err)
	}
	blk, err := n.Block(ctx, tip)
	if err != nil || blk.BlockHash() != tip || len(blk.Transactions) == 0 {
		t.Fatalf("block: %v", err)
	}
	if _, err := n.BlockHash(ctx, height+10); !errors.Is(err, chain.ErrNoBlock) {
		t.Fatalf("beyond the tip: %v", err)
	}
	if _, err := n.Block(ctx, chainhash.Hash{1}); !errors.Is(err, chain.ErrNoBlock) {
		t.Fatalf("unknown block: %v", err)
	}
	if _, err := n.Transaction(ctx, chainhash.Hash{2}); !errors.Is(err, chain.ErrNoTransaction) {
		t.Fatalf("unknown transaction: %v", err)
	}
	cb, err := n.Transaction(ctx, blk.Transactions[0].TxHash())
	if err != nil || cb.TxHash() != blk.Transactions[0].TxHash() {
		t.Fatalf("coinbase by txid: %v", err)
	}
	if ids, err := n.MempoolTxids(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("mempool %v %v", ids, err)
	}
}

func TestRPCFaults(t *testing.T) {
	node := testenv.NewNode(t, devenv.BtcdOptions{})
	ctx := testenv.Ctx(t, time.Minute)
	tests := []struct {
		name string
		cfg  rpc.Config
		call func(c *rpc.Client) error
		want func(error) bool
	}{
		{"wrong password", rpc.Config{URL: node.RPCURL(), User: devenv.RPCUser, Password: "wrong"},
			func(c *rpc.Client) error { return c.Call(ctx, nil, "getblockcount") },
			func(err error) bool { return err != nil && strings.Contains(err.Error(), "authentication refused") }},
		{"method the node lacks", rpc.Config{URL: node.RPCURL(), User: devenv.RPCUser, Password: devenv.RPCPassword},
			func(c *rpc.Client) error { return c.Call(ctx, nil, "estimatesmartfee", 6) },
			rpc.IsMethodNotFound},
		{"reply cut mid-way", rpc.Config{URL: node.RPCURL(), User: devenv.RPCUser, Password: devenv.RPCPassword,
			Transport: cutTransport{next: http.DefaultTransport, n: 40}},
			func(c *rpc.Client) error {
				var s string
				h, _ := chain.NewRPCNode(node.Client).BlockHash(ctx, 1)
				return c.Call(ctx, &s, "getblock", h.String(), 0)
			},
			func(err error) bool { return err != nil && strings.Contains(err.Error(), "connection reset") }},
		{"nobody listening", rpc.Config{URL: "http://127.0.0.1:1", User: "u", Password: "p", Timeout: time.Second},
			func(c *rpc.Client) error { return c.Call(ctx, nil, "getblockcount") },
			func(err error) bool { return err != nil && strings.Contains(err.Error(), "getblockcount") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := rpc.New(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.call(c); !tc.want(err) {
				t.Fatalf("unexpected: %v", err)
			}
		})
	}
	if _, err := rpc.New(rpc.Config{URL: "127.0.0.1:8332"}); err == nil {
		t.Fatal("a URL without scheme must be refused")
	}
}
