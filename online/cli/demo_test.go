package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/wire"
	"github.com/urfave/cli/v2"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/online/chain"
)

// devFaucet is the dev program's faucet, for the tests that run the demo.
type devFaucet struct{ f *devenv.Faucet }

func (d devFaucet) Pay(ctx context.Context, address string, sat int64) (*wire.MsgTx, error) {
	return d.f.Pay(ctx, devenv.Payment{Address: address, Amount: sat})
}

// testApp is the production command line with the dev program's demo in
// place of the pointer, as cmd/cryptoassets-dev wires it.
func testApp() *cli.App {
	a := App()
	for i, c := range a.Commands {
		if c.Name == "demo" {
			a.Commands[i] = DemoCommand(func(n chain.Node) Faucet { return devFaucet{devenv.NewFaucet(n)} })
		}
	}
	return a
}

// `cryptoassets demo` stays a subcommand of the production program, but the
// demo is not there: it fails, naming where it is, without a database.
func TestProductionDemoPointsToTheDevProgram(t *testing.T) {
	for _, args := range [][]string{{"demo"}, {"demo", "topup", "--out", "x"}} {
		a := App()
		var out strings.Builder
		a.Writer, a.ErrWriter = &out, &out
		err := a.RunContext(context.Background(), append([]string{"cryptoassets", "--config", "/nonexistent.toml"}, args...))
		if err == nil || !strings.Contains(err.Error(), "cryptoassets-dev demo") {
			t.Fatalf("%v: want an error naming cryptoassets-dev demo, got %v\n%s", args, err, out.String())
		}
	}
}
