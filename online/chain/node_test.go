package chain_test

import (
	"bytes"
	"encoding/json"
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

// BlockHashes answers in one batch what BlockHash answers height by
// height, ends where the chain ends, and refuses a range it cannot ask.
func TestBlockHashesInOneBatch(t *testing.T) {
	node := testenv.NewNode(t, devenv.BtcdOptions{})
	ctx := testenv.Ctx(t, time.Minute)
	n := chain.NewRPCNode(node.Client)
	tip, _, err := n.Tip(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hs, err := n.BlockHashes(ctx, tip-5, tip+3)
	if err != nil || len(hs) != 6 {
		t.Fatalf("heights %d..%d past the tip: %d hashes, %v; want the 6 up to the tip", tip-5, tip+3, len(hs), err)
	}
	for i, h := range hs {
		want, err := n.BlockHash(ctx, tip-5+int32(i))
		if err != nil || h != want {
			t.Fatalf("height %d: batch %s, one by one %s (%v)", tip-5+int32(i), h, want, err)
		}
	}
	if _, err := n.BlockHashes(ctx, tip+1, tip+2); !errors.Is(err, chain.ErrNoBlock) {
		t.Fatalf("beyond the tip: %v", err)
	}
	for _, r := range [][2]int32{{-1, 3}, {5, 4}, {0, rpc.MaxBatch}} {
		if _, err := n.BlockHashes(ctx, r[0], r[1]); err == nil {
			t.Fatalf("heights %d..%d accepted", r[0], r[1])
		}
	}
}

// rewriteTransport wraps the real transport and replaces the node's reply
// with what rewrite makes of it, as a broken or hostile node might answer.
type rewriteTransport struct {
	next    http.RoundTripper
	rewrite func([]byte) []byte
}

func (r rewriteTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(r.rewrite(body)))
	resp.ContentLength = -1
	return resp, nil
}

// A batch reply that does not answer each call exactly once is refused as
// a whole; an error for one call is that call's.
func TestCallBatchRefusesAReplyThatDoesNotAnswerEachCallOnce(t *testing.T) {
	node := testenv.NewNode(t, devenv.BtcdOptions{})
	ctx := testenv.Ctx(t, time.Minute)
	var replies []map[string]any
	decode := func(b []byte) {
		replies = nil
		if err := json.Unmarshal(b, &replies); err != nil {
			t.Fatalf("the node's own batch reply: %v", err)
		}
	}
	encode := func() []byte { b, _ := json.Marshal(replies); return b }
	tests := []struct {
		name    string
		rewrite func([]byte) []byte
		want    string
	}{
		{"one reply missing", func(b []byte) []byte { decode(b); replies = replies[:1]; return encode() }, "1 replies to a batch of 2"},
		{"one call answered twice", func(b []byte) []byte { decode(b); replies[1]["id"] = replies[0]["id"]; return encode() }, "or one twice"},
		{"an id of no call", func(b []byte) []byte { decode(b); replies[0]["id"] = 1 << 40; return encode() }, "answers no call"},
		{"one reply too many", func(b []byte) []byte { decode(b); replies = append(replies, replies[0]); return encode() }, "3 replies to a batch of 2"},
		{"not an array", func([]byte) []byte { return []byte(`{"result":"00","error":null,"id":1}`) }, "not a JSON-RPC array"},
		{"not JSON", func([]byte) []byte { return []byte("<html>busy</html>") }, "not JSON-RPC"},
		{"NUL bytes", func([]byte) []byte { return []byte("[\x00\x00]") }, "not a JSON-RPC array"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := rpc.New(rpc.Config{URL: node.RPCURL(), User: devenv.RPCUser, Password: devenv.RPCPassword,
				Transport: rewriteTransport{next: http.DefaultTransport, rewrite: tc.rewrite}})
			if err != nil {
				t.Fatal(err)
			}
			res, errs, err := c.CallBatch(ctx, "getblockhash", [][]any{{0}, {1}})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v %v %v, want an error saying %q", res, errs, err, tc.want)
			}
			if _, err := chain.NewRPCNode(c).BlockHashes(ctx, 0, 1); err == nil {
				t.Fatal("BlockHashes accepted the reply")
			}
		})
	}
	// The real reply, untouched: one call's error is its own.
	res, errs, err := node.Client.CallBatch(ctx, "getblockhash", [][]any{{0}, {1 << 30}})
	if err != nil || len(res) != 2 || errs[0] != nil || errs[1] == nil {
		t.Fatalf("a batch with one call past the tip: %v %v %v", res, errs, err)
	}
}
