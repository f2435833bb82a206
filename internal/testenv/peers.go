package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/online/chain"
)

// Connect makes node a peer of other, so they share blocks and
// transactions (a reorganisation test joins two chains this way).
func Connect(tb testing.TB, ctx context.Context, node, other *devenv.Btcd) {
	tb.Helper()
	if err := node.Client.Call(ctx, nil, "node", "connect", other.P2PAddr(), "temp"); err != nil {
		tb.Fatalf("node connect: %v", err)
	}
}

// Disconnect drops every peer of node and waits until they are gone, so
// that each side then mines a chain of its own.
func Disconnect(tb testing.TB, ctx context.Context, node *devenv.Btcd) {
	tb.Helper()
	var peers []struct {
		Addr string `json:"addr"`
	}
	if err := node.Client.Call(ctx, &peers, "getpeerinfo"); err != nil {
		tb.Fatal(err)
	}
	for _, p := range peers {
		if err := node.Client.Call(ctx, nil, "node", "disconnect", p.Addr); err != nil {
			tb.Fatalf("node disconnect %s: %v (peers %+v)", p.Addr, err, peers)
		}
	}
	WaitFor(tb, "peers to disconnect", func() bool {
		var peers []any
		_ = node.Client.Call(ctx, &peers, "getpeerinfo")
		return len(peers) == 0
	})
}

// WaitFor polls cond until it holds, failing the test after a minute.
func WaitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// SameTip reports whether two nodes have the same best block.
func SameTip(ctx context.Context, a, b chain.Node) bool {
	_, ha, err1 := a.Tip(ctx)
	_, hb, err2 := b.Tip(ctx)
	return err1 == nil && err2 == nil && ha == hb
}
