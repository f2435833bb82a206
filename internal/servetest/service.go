package servetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg"

	"github.com/cryptoassets/cryptoassets/internal/devenv"
	"github.com/cryptoassets/cryptoassets/internal/testenv"
	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
	"github.com/cryptoassets/cryptoassets/shared/keystore"
)

// DevMnemonic is the development hot seed (the BIP84 test vector), as the
// demo restores it. Regtest only.
const DevMnemonic = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"

const hotPassphrase = "servetest hot passphrase"

// Asset is the one asset the harness configures.
const Asset = "btc"

// Options say what the service is pointed at.
type Options struct {
	// DatabaseURL is the database; empty: a fresh one from testenv.
	DatabaseURL string
	// RPCURL is the node's RPC endpoint (or a proxy in front of it).
	RPCURL string
	// RPCUser and RPCPassword default to devenv's.
	RPCUser, RPCPassword string
	// AssetTOML is appended to the asset's table, one key per line
	// (batch_interval = "200ms", confirmations = 1, …).
	AssetTOML string
	// ElectionTOML is appended to the [election] table (lease = "2s", …).
	// The instance is the Service's own, the same for each of its runs, so
	// a restarted serve takes its leases over at once.
	ElectionTOML string
}

// Service is one installation of cryptoassets: its configuration, keystore
// and log in a folder of the test, and at most one serve process at a time.
type Service struct {
	tb         testing.TB
	Bin        string
	Dir        string
	Config     string
	DB         string
	APIURL     string // http://127.0.0.1:PORT, the same for every run
	Descriptor string // the hot wallet's account key
	Instance   string // election.instance of every run
	logPath    string

	mu    sync.Mutex
	runs  int
	proc  *process
	token string
}

// process is one run of serve.
type process struct {
	cmd   *exec.Cmd
	done  chan struct{}
	state *os.ProcessState
}

// New writes the configuration and hot keystore and migrates the database.
// Serve is not started.
func New(tb testing.TB, opt Options) *Service {
	tb.Helper()
	if opt.RPCURL == "" {
		tb.Fatal("servetest: Options.RPCURL is required")
	}
	if opt.RPCUser == "" {
		opt.RPCUser, opt.RPCPassword = devenv.RPCUser, devenv.RPCPassword
	}
	if opt.DatabaseURL == "" {
		opt.DatabaseURL = testenv.NewDatabase(tb)
	}
	dir := tb.TempDir()
	s := &Service{tb: tb, Bin: Binary(tb), Dir: dir, DB: opt.DatabaseURL, logPath: filepath.Join(dir, "serve.log")}

	seed, err := keystore.SeedFromMnemonic(DevMnemonic, nil)
	if err != nil {
		tb.Fatal(err)
	}
	master, err := hdkeys.NewMaster(seed, &chaincfg.RegressionNetParams)
	if err != nil {
		tb.Fatal(err)
	}
	account, err := master.Account(hdkeys.P2WPKH, 0)
	if err != nil {
		tb.Fatal(err)
	}
	s.Descriptor = account.Descriptor()
	ks := filepath.Join(dir, "hot.keystore")
	if err := keystore.Create(ks, seed, keystore.Meta{Network: keystore.Regtest}, []byte(hotPassphrase)); err != nil {
		tb.Fatal(err)
	}
	pass := filepath.Join(dir, "hot.pass")
	if err := os.WriteFile(pass, []byte(hotPassphrase+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}

	port, err := freePort()
	if err != nil {
		tb.Fatal(err)
	}
	s.APIURL = fmt.Sprintf("http://127.0.0.1:%d", port)
	s.Instance = fmt.Sprintf("servetest-%d", port)
	conf := fmt.Sprintf(`[database]
url = %q
[http]
listen = "127.0.0.1:%d"
[election]
instance = %q
%s
[assets.%s]
network = "regtest"
rpc_url = %q
rpc_user = %q
rpc_password = %q
hot_wallet_descriptor = %q
hot_keystore = %q
hot_passphrase_file = %q
%s
`, opt.DatabaseURL, port, s.Instance, opt.ElectionTOML, Asset, opt.RPCURL, opt.RPCUser, opt.RPCPassword, s.Descriptor, ks, pass, opt.AssetTOML)
	s.Config = filepath.Join(dir, "cryptoassets.toml")
	if err := os.WriteFile(s.Config, []byte(conf), 0o600); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.cleanup)
	if out, err := s.CLI("migrate"); err != nil {
		tb.Fatalf("cryptoassets migrate: %v\n%s", err, out)
	}
	return s
}

// environ is the process environment without overrides that would point
// the program elsewhere than its configuration.
func environ(extra []string) []string {
	var env []string
	for _, e := range os.Environ() {
		name, _, _ := strings.Cut(e, "=")
		if name == "DATABASE_URL" || strings.HasPrefix(name, "CRYPTOASSETS_") {
			continue
		}
		env = append(env, e)
	}
	return append(env, extra...)
}

// CLI runs one cryptoassets command against the configuration and returns
// its standard output and error together.
func (s *Service) CLI(args ...string) (string, error) {
	return s.CLIEnv(nil, args...)
}

// CLIEnv is CLI with extra environment variables.
func (s *Service) CLIEnv(env []string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.Bin, append([]string{"--config", s.Config}, args...)...)
	cmd.Env = environ(env)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Start starts serve with the extra environment (for example
// "CRYPTOASSETS_CRASH_AT=batch.reserved") without waiting for it to be ready.
// Its output goes to the log, after a line naming the run.
func (s *Service) Start(env ...string) {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil && !s.proc.exited() {
		s.tb.Fatal("servetest: serve is already running")
	}
	s.runs++
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.tb.Fatal(err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "=== servetest: run %d of serve %v\n", s.runs, env)
	cmd := exec.Command(s.Bin, "--config", s.Config, "serve")
	cmd.Env = environ(env)
	cmd.Stdout, cmd.Stderr = logf, logf
	// The service must not outlive a test process that dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		s.tb.Fatalf("starting serve: %v", err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		p.state = cmd.ProcessState
		close(p.done)
	}()
	s.proc = p
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (s *Service) current() *process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc
}

// Runs counts the serve processes started.
func (s *Service) Runs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runs
}

// PID is the running serve's process id (0 when none was started).
func (s *Service) PID() int {
	if p := s.current(); p != nil {
		return p.cmd.Process.Pid
	}
	return 0
}

// WaitReady waits until the API answers GET /v1/health with 200. It fails
// at once, with the log, when serve exits first.
func (s *Service) WaitReady(timeout time.Duration) error {
	p := s.current()
	if p == nil {
		return errors.New("servetest: serve was not started")
	}
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	for {
		if p.exited() {
			return fmt.Errorf("serve exited (%v) before its API answered:\n%s", p.state, s.LogTail(40))
		}
		resp, err := client.Get(s.APIURL + "/v1/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("serve's API did not answer within %v (last: %v):\n%s", timeout, err, s.LogTail(40))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// StartReady is Start then WaitReady, failing the test when serve does not
// come up within a minute.
func (s *Service) StartReady(env ...string) {
	s.tb.Helper()
	s.Start(env...)
	if err := s.WaitReady(time.Minute); err != nil {
		s.tb.Fatal(err)
	}
}

// Wait waits for serve to exit by itself and returns how it ended.
func (s *Service) Wait(timeout time.Duration) (*os.ProcessState, error) {
	p := s.current()
	if p == nil {
		return nil, errors.New("servetest: serve was not started")
	}
	select {
	case <-p.done:
		return p.state, nil
	case <-time.After(timeout):
		return nil, fmt.Errorf("serve still runs after %v:\n%s", timeout, s.LogTail(40))
	}
}

// WaitKilled waits for serve to die and fails the test unless a SIGKILL
// ended it (a crash point, or Kill).
func (s *Service) WaitKilled(timeout time.Duration) {
	s.tb.Helper()
	st, err := s.Wait(timeout)
	if err != nil {
		s.tb.Fatal(err)
	}
	if !KilledBySIGKILL(st) {
		s.tb.Fatalf("serve ended with %v, not by SIGKILL:\n%s", st, s.LogTail(40))
	}
}

// KilledBySIGKILL reports whether a process ended by SIGKILL.
func KilledBySIGKILL(st *os.ProcessState) bool {
	ws, ok := st.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// Kill ends serve with SIGKILL, as a crash would, and waits for it.
func (s *Service) Kill() {
	s.tb.Helper()
	p := s.current()
	if p == nil || p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	s.WaitKilled(30 * time.Second)
}

// Signal sends sig to the running serve (SIGSTOP freezes it, SIGCONT
// resumes it).
func (s *Service) Signal(sig syscall.Signal) {
	s.tb.Helper()
	if p := s.current(); p != nil && !p.exited() {
		if err := p.cmd.Process.Signal(sig); err != nil {
			s.tb.Fatalf("signal %v to serve: %v", sig, err)
		}
	}
}

// Stop ends serve with SIGTERM, the graceful stop, and fails the test
// unless it exits 0.
func (s *Service) Stop() {
	s.tb.Helper()
	p := s.current()
	if p == nil || p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	st, err := s.Wait(time.Minute)
	if err != nil {
		s.tb.Fatal(err)
	}
	if !st.Success() {
		s.tb.Fatalf("serve stopped with %v:\n%s", st, s.LogTail(40))
	}
}

func (s *Service) cleanup() {
	if p := s.current(); p != nil && !p.exited() {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	}
	if s.tb.Failed() {
		s.tb.Logf("serve log (%s):\n%s", s.logPath, s.LogTail(200))
	}
}

// Log is everything every run of serve wrote.
func (s *Service) Log() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

// LogTail is the log's last n lines.
func (s *Service) LogTail(n int) string {
	lines := strings.Split(strings.TrimRight(s.Log(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// WaitLog waits until the log contains want.
func (s *Service) WaitLog(want string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for !strings.Contains(s.Log(), want) {
		if time.Now().After(deadline) {
			return fmt.Errorf("the serve log never showed %q:\n%s", want, s.LogTail(40))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// Token returns an API token, created with the CLI on first use.
func (s *Service) Token() string {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token != "" {
		return s.token
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.Bin, "--config", s.Config, "token", "create", "servetest")
	cmd.Env = environ(nil)
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	out, err := cmd.Output()
	if err != nil {
		s.tb.Fatalf("token create: %v\n%s", err, errOut.String())
	}
	s.token = strings.TrimSpace(string(out))
	return s.token
}

// Do sends an API request with the token (and an Idempotency-Key when key
// is not empty) and returns the status and body.
func (s *Service) Do(method, path, body, key string) (int, []byte, error) {
	token := s.Token()
	req, err := http.NewRequest(method, s.APIURL+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
