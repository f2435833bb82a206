package cli

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
)

// A mainnet asset whose rpc_url reaches a regtest node: serve refuses to
// start, naming both networks, and the follower writes nothing. It has not
// taken its API port either: the port is taken only after every check.
func TestServeRefusesAMainnetAssetOnARegtestNode(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	node := testenv.NewNode(t, devenv.BtcdOptions{NoMine: true})
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := probe.Addr().String()
	probe.Close()
	conf := fmt.Sprintf("[database]\nurl = %q\n[http]\nlisten = %q\n[assets.btc]\nnetwork = \"mainnet\"\nrpc_url = %q\nrpc_user = %q\nrpc_password = %q\n",
		testenv.NewDatabase(t), addr, node.RPCURL(), devenv.RPCUser, devenv.RPCPassword)
	p := filepath.Join(t.TempDir(), "c.toml")
	if err := os.WriteFile(p, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, p, "migrate"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	out, err := run(t, p, "serve")
	if err == nil || !strings.Contains(err.Error(), "mainnet") || !strings.Contains(err.Error(), "regtest") {
		t.Fatalf("serve of a mainnet asset on a regtest node: %v\n%s", err, out)
	}
	t.Logf("refused: %v", err)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("serve refused but still holds its API port %s: %v", addr, err)
	}
	ln.Close()
}
