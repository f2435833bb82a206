package devenv

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"

	"github.com/cryptoassets/cryptoassets/online/chain/rpc"
)

// Regtest RPC credentials of every node devenv starts. The nodes listen on
// loopback only and hold nothing of value.
const (
	RPCUser     = "regtest"
	RPCPassword = "regtest"
)

// SegwitHeight is how far devenv mines a new chain: btcd's regtest activates
// segwit by BIP9 signalling at about height 432, and the spare blocks give the
// faucet mature coinbase outputs to spend.
const SegwitHeight = 500

// Btcd is a running btcd regtest node.
type Btcd struct {
	Dir     string
	RPCPort int
	P2PPort int
	PID     int
	Client  *rpc.Client
}

// RPCURL is the node's JSON-RPC endpoint.
func (b *Btcd) RPCURL() string { return fmt.Sprintf("http://127.0.0.1:%d", b.RPCPort) }

// P2PAddr is the node's peer-to-peer listening address.
func (b *Btcd) P2PAddr() string { return fmt.Sprintf("127.0.0.1:%d", b.P2PPort) }

// FaucetKey is the regtest-only key the node mines to. Its coins fund
// deposits in tests and in the demo. It is derived from a public string:
// never use it on any other network.
func FaucetKey() *btcec.PrivateKey {
	seed := sha256.Sum256([]byte("cryptoassets regtest faucet: worthless by design"))
	k, _ := btcec.PrivKeyFromBytes(seed[:])
	return k
}

// FaucetAddress is FaucetKey's P2WPKH address on regtest.
func FaucetAddress() btcutil.Address {
	pub := FaucetKey().PubKey().SerializeCompressed()
	a, err := btcutil.NewAddressWitnessPubKeyHash(btcutil.Hash160(pub), &chaincfg.RegressionNetParams)
	if err != nil {
		panic(err) // a 20-byte hash is always a valid witness program
	}
	return a
}

// BtcdBinary returns the path of the btcd program pinned in go.mod, building
// it on first use into the user cache directory. CRYPTOASSETS_BTCD overrides
// the path.
func BtcdBinary(ctx context.Context) (string, error) {
	if p := os.Getenv("CRYPTOASSETS_BTCD"); p != "" {
		if !isExecutable(p) {
			return "", fmt.Errorf("CRYPTOASSETS_BTCD=%s is not an executable file", p)
		}
		return p, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Version}}", "github.com/btcsuite/btcd").Output()
	if err != nil {
		return "", fmt.Errorf("finding the pinned btcd version (go list -m github.com/btcsuite/btcd): %w", err)
	}
	version := strings.TrimSpace(string(out))
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "cryptoassets")
	path := filepath.Join(dir, "btcd-"+version)
	if isExecutable(path) {
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	// Build to a private name and rename, so concurrent test packages never
	// run a half-written binary.
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	build := exec.CommandContext(ctx, "go", "build", "-o", tmp, "github.com/btcsuite/btcd")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building btcd %s: %v\n%s", version, err, out)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", err
	}
	return path, nil
}

// moduleRoot finds the directory of this project's go.mod from the working
// directory upwards.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory: run from inside the project")
		}
		dir = parent
	}
}

// BtcdOptions tune StartBtcd.
type BtcdOptions struct {
	// Detach leaves the node running after this process exits (make dev-up).
	// Otherwise the node is killed when this process dies.
	Detach bool
	// NoMine skips mining to segwit activation (a second node of a reorg
	// test that will sync from a peer).
	NoMine bool
	// ExtraArgs are appended to btcd's command line.
	ExtraArgs []string
}

// StartBtcd starts a regtest node in dir and mines until segwit is active.
// If a node started earlier still runs there it is reused.
func StartBtcd(ctx context.Context, dir string, opt BtcdOptions) (*Btcd, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if b, ok := runningBtcd(ctx, dir); ok {
		return b, nil
	}
	bin, err := BtcdBinary(ctx)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "btcd.conf")
	if err := os.WriteFile(conf, nil, 0o644); err != nil { // keep ~/.btcd/btcd.conf out
		return nil, err
	}
	rpcPort, err := freePort()
	if err != nil {
		return nil, err
	}
	p2pPort, err := freePort()
	if err != nil {
		return nil, err
	}
	args := []string{
		"--configfile=" + conf,
		"--regtest",
		"--datadir=" + filepath.Join(dir, "data"),
		"--logdir=" + filepath.Join(dir, "logs"),
		"--rpcuser=" + RPCUser, "--rpcpass=" + RPCPassword,
		"--rpclisten=127.0.0.1:" + strconv.Itoa(rpcPort),
		"--listen=127.0.0.1:" + strconv.Itoa(p2pPort),
		"--notls",
		"--txindex",
		"--rpcmaxclients=200",
		"--nobanning",
		"--miningaddr=" + FaucetAddress().EncodeAddress(),
		"--debuglevel=info",
	}
	args = append(args, opt.ExtraArgs...)
	logf, err := os.OpenFile(filepath.Join(dir, "btcd.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if opt.Detach {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	} else {
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting btcd: %w", err)
	}
	b := &Btcd{Dir: dir, RPCPort: rpcPort, P2PPort: p2pPort, PID: cmd.Process.Pid}
	// Reap the child so a stopped node does not linger as a zombie that
	// still answers kill(pid, 0).
	go cmd.Wait() //nolint:errcheck
	if b.Client, err = rpc.New(rpc.Config{URL: b.RPCURL(), User: RPCUser, Password: RPCPassword, Timeout: 30 * time.Second}); err != nil {
		return nil, err
	}
	if err := waitFor(ctx, 30*time.Second, func() error {
		return b.Client.Call(ctx, nil, "getblockcount")
	}); err != nil {
		_ = b.kill()
		return nil, fmt.Errorf("btcd did not answer RPC within 30s: %v\n%s", err, tail(filepath.Join(dir, "btcd.out"), 20))
	}
	state := fmt.Sprintf("%d %d %d\n", b.PID, rpcPort, p2pPort)
	if err := os.WriteFile(filepath.Join(dir, "devenv.state"), []byte(state), 0o644); err != nil {
		return nil, err
	}
	if !opt.NoMine {
		if err := b.activateSegwit(ctx); err != nil {
			_ = b.kill()
			return nil, err
		}
	}
	return b, nil
}

func runningBtcd(ctx context.Context, dir string) (*Btcd, bool) {
	data, err := os.ReadFile(filepath.Join(dir, "devenv.state"))
	if err != nil {
		return nil, false
	}
	b := &Btcd{Dir: dir}
	if _, err := fmt.Sscanf(string(data), "%d %d %d", &b.PID, &b.RPCPort, &b.P2PPort); err != nil {
		return nil, false
	}
	if syscall.Kill(b.PID, 0) != nil {
		return nil, false
	}
	b.Client, err = rpc.New(rpc.Config{URL: b.RPCURL(), User: RPCUser, Password: RPCPassword, Timeout: 5 * time.Second})
	if err != nil || b.Client.Call(ctx, nil, "getblockcount") != nil {
		return nil, false
	}
	return b, true
}

// Generate mines n blocks to the faucet address and returns their hashes.
func (b *Btcd) Generate(ctx context.Context, n int) ([]string, error) {
	var hashes []string
	if err := b.Client.Call(ctx, &hashes, "generate", n); err != nil {
		return nil, err
	}
	return hashes, nil
}

// activateSegwit mines until BIP9 reports segwit active, then to SegwitHeight.
func (b *Btcd) activateSegwit(ctx context.Context) error {
	var count int
	if err := b.Client.Call(ctx, &count, "getblockcount"); err != nil {
		return err
	}
	if count < SegwitHeight {
		if _, err := b.Generate(ctx, SegwitHeight-count); err != nil {
			return fmt.Errorf("mining to segwit activation: %w", err)
		}
	}
	var info struct {
		Bip9 map[string]struct {
			Status string `json:"status"`
		} `json:"bip9_softforks"`
		Softforks map[string]struct {
			Active bool `json:"active"`
		} `json:"softforks"`
	}
	raw, err := b.Client.CallRaw(ctx, "getblockchaininfo")
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, &info); err != nil {
		return fmt.Errorf("getblockchaininfo: %w", err)
	}
	if info.Bip9["segwit"].Status != "active" && !info.Softforks["segwit"].Active {
		return fmt.Errorf("segwit is not active at height %d: %s", SegwitHeight, raw)
	}
	return nil
}

// Stop stops the node and waits for it to exit.
func (b *Btcd) Stop(ctx context.Context) error {
	if b == nil {
		return nil
	}
	_ = b.Client.Call(ctx, nil, "stop")
	err := waitFor(ctx, 15*time.Second, func() error {
		if syscall.Kill(b.PID, 0) == nil {
			return errors.New("btcd still running")
		}
		return nil
	})
	if err != nil {
		return b.kill()
	}
	_ = os.Remove(filepath.Join(b.Dir, "devenv.state"))
	return nil
}

func (b *Btcd) kill() error {
	_ = syscall.Kill(b.PID, syscall.SIGKILL)
	_ = os.Remove(filepath.Join(b.Dir, "devenv.state"))
	return nil
}

// StopBtcd stops a node started in dir, if one runs there.
func StopBtcd(ctx context.Context, dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	b, ok := runningBtcd(ctx, dir)
	if !ok {
		_ = os.Remove(filepath.Join(dir, "devenv.state"))
		return nil
	}
	return b.Stop(ctx)
}
