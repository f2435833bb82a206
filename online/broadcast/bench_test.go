package broadcast

import (
	"context"
	"fmt"
	"testing"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/storetest"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/store"
)

// BenchmarkResolve is one resolver pass (serve runs one every
// resolve_interval) over k open records the node never received and cannot
// be reached to send: each pass looks at every input and output, reads the
// blocks it has not read yet for all of them, and counts an attempt. k=0
// is the idle pass.
func BenchmarkResolve(b *testing.B) {
	for _, k := range []int{0, 1, 10} {
		b.Run(fmt.Sprintf("open=%d", k), func(b *testing.B) {
			ctx := context.Background()
			n := testenv.NewNode(b, devenv.BtcdOptions{})
			real := chain.NewRPCNode(n.Client)
			node := &faultyNode{Node: real}
			node.refused.Store(true)
			bc, err := New(storetest.Runner(b, 4, "btc"), "btc", node, nil)
			if err != nil {
				b.Fatal(err)
			}
			faucet := devenv.NewFaucet(real)
			for range k {
				tx, err := faucet.Build(ctx, []devenv.Payment{{Address: devenv.FaucetAddress().EncodeAddress(), Amount: 10_000}}, 10_000)
				if err != nil {
					b.Fatal(err)
				}
				if err := bc.runner.InTx(ctx, "open", func(t *store.Tx) error { _, _, err := bc.OpenTx(t, KindColdTopup, tx); return err }); err != nil {
					b.Fatal(err)
				}
			}
			// The first pass reads the last day of blocks; the ones after
			// it, measured here, read only new blocks.
			if _, err := bc.Resolve(ctx); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				rs, err := bc.Resolve(ctx)
				if err != nil || len(rs) != k {
					b.Fatalf("resolve: %d records, %v", len(rs), err)
				}
			}
		})
	}
}
