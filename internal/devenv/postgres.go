package devenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Postgres is a PostgreSQL cluster in a directory of its own.
type Postgres struct {
	Dir  string // data directory; also holds the socket and the log
	Port int
	bin  string // directory of initdb and pg_ctl
}

// DSN is the URL of the cluster's default database.
func (p *Postgres) DSN() string { return p.DSNFor("postgres") }

// DSNFor is the URL of database db in the cluster.
func (p *Postgres) DSNFor(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.Port, db)
}

// postgresBinDir finds initdb and pg_ctl, installing them when it can.
func postgresBinDir(ctx context.Context) (string, error) {
	if dir := findPostgresBin(); dir != "" {
		return dir, nil
	}
	if os.Geteuid() == 0 {
		if _, err := exec.LookPath("apt-get"); err == nil {
			fmt.Fprintln(os.Stderr, "devenv: PostgreSQL server binaries not found; installing them: apt-get install -y postgresql")
			for _, args := range [][]string{{"update", "-qq"}, {"install", "-y", "-qq", "--no-install-recommends", "postgresql"}} {
				cmd := exec.CommandContext(ctx, "apt-get", args...)
				cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
				if out, err := cmd.CombinedOutput(); err != nil {
					return "", fmt.Errorf("apt-get %s failed: %v\n%s", strings.Join(args, " "), err, out)
				}
			}
			if dir := findPostgresBin(); dir != "" {
				return dir, nil
			}
		}
	}
	return "", errors.New("PostgreSQL server binaries (initdb, pg_ctl) not found: install them with `sudo apt-get install -y postgresql` (or your system's postgresql server package) and run again")
}

func findPostgresBin() string {
	var dirs []string
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Newest major version first.
	sort.Slice(found, func(i, j int) bool { return pgMajor(found[i]) > pgMajor(found[j]) })
	dirs = append(dirs, found...)
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "pg_ctl")) {
			return d
		}
	}
	return ""
}

func pgMajor(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// pgCommand runs a PostgreSQL program, as the postgres user when we are root.
func pgCommand(ctx context.Context, bin string, args ...string) *exec.Cmd {
	if os.Geteuid() == 0 {
		return exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--", bin}, args...)...)
	}
	return exec.CommandContext(ctx, bin, args...)
}

// prepareDir creates dir so that the server's user owns it and can reach it.
func prepareDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return os.Chmod(dir, 0o700)
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("running as root needs a 'postgres' user to run the server as: %w (installing the postgresql package creates it)", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return err
	}
	// The postgres user must be able to walk down to dir.
	for d := filepath.Dir(dir); d != "/" && d != "."; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return err
		}
		if st.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(d, st.Mode().Perm()|0o011); err != nil {
				return fmt.Errorf("making %s reachable for the postgres user: %w", d, err)
			}
		}
	}
	return os.Chmod(dir, 0o700)
}

// PostgresOptions changes how StartPostgresWith starts a server.
type PostgresOptions struct {
	// Settings are extra "name=value" server settings, after the defaults.
	Settings []string
}

// StartPostgres starts the cluster in dir, creating it first if dir holds
// none. If a server is already running there it is reused, so calling it
// twice is harmless. A cluster started before comes back on its port when
// that port is free, so clients configured with it reconnect after a crash.
//
// The server runs with fsync=off and full_page_writes=off: fast, and a
// process crash (the OS page cache survives) still loses no commit. It keeps
// synchronous_commit=on, so a commit is written before it is acknowledged;
// the service also sets that on its own connections (store.Open).
func StartPostgres(ctx context.Context, dir string) (*Postgres, error) {
	return StartPostgresWith(ctx, dir, PostgresOptions{})
}

// StartPostgresWith is StartPostgres with options.
func StartPostgresWith(ctx context.Context, dir string, opt PostgresOptions) (*Postgres, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	bin, err := postgresBinDir(ctx)
	if err != nil {
		return nil, err
	}
	p := &Postgres{Dir: dir, bin: bin}
	if port, ok := p.runningPort(ctx); ok {
		p.Port = port
		return p, nil
	}
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err != nil {
		if err := prepareDir(dir); err != nil {
			return nil, fmt.Errorf("preparing %s: %w", dir, err)
		}
		out, err := pgCommand(ctx, filepath.Join(bin, "initdb"), "-D", dir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync").CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("initdb %s: %v\n%s", dir, err, out)
		}
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		if attempt == 0 {
			if prev, ok := p.recordedPort(); ok && portFree(prev) {
				port = prev
			}
		}
		opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=300 -c shared_buffers=256MB", port, dir)
		for _, s := range opt.Settings {
			opts += " -c " + s
		}
		out, err := pgCommand(ctx, filepath.Join(bin, "pg_ctl"), "-D", dir, "-l", filepath.Join(dir, "server.log"), "-w", "-t", "60", "-o", opts, "start").CombinedOutput()
		if err == nil {
			p.Port = port
			if err := os.WriteFile(filepath.Join(dir, "devenv.port"), []byte(strconv.Itoa(port)), 0o644); err != nil {
				return nil, err
			}
			return p, nil
		}
		lastErr = fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, tail(filepath.Join(dir, "server.log"), 20))
	}
	return nil, lastErr
}

// runningPort reports the port of a server already running in p.Dir.
func (p *Postgres) runningPort(ctx context.Context) (int, bool) {
	pid, ok := p.postmasterPID()
	if !ok {
		return 0, false
	}
	if !processLive(pid) {
		// A killed postmaster nobody reaped stays a zombie, which pg_ctl and
		// the next postmaster take for a live server: its lock file is stale
		// once no server process is left.
		// So is its socket's lock file in the same directory (-k).
		if p.processes() == 0 {
			locks, _ := filepath.Glob(filepath.Join(p.Dir, ".s.PGSQL.*.lock"))
			for _, f := range append(locks, filepath.Join(p.Dir, "postmaster.pid")) {
				_ = os.Remove(f)
			}
		}
		return 0, false
	}
	if err := pgCommand(ctx, filepath.Join(p.bin, "pg_ctl"), "-D", p.Dir, "status").Run(); err != nil {
		return 0, false
	}
	return p.recordedPort()
}

// recordedPort is the port the cluster in p.Dir was last started on.
func (p *Postgres) recordedPort() (int, bool) {
	b, err := os.ReadFile(filepath.Join(p.Dir, "devenv.port"))
	if err != nil {
		return 0, false
	}
	port, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return port, err == nil && port > 0
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// Stop stops the server. Stopping a stopped cluster is not an error.
func (p *Postgres) Stop(ctx context.Context) error {
	if _, ok := p.runningPort(ctx); !ok {
		return nil
	}
	out, err := pgCommand(ctx, filepath.Join(p.bin, "pg_ctl"), "-D", p.Dir, "-m", "fast", "-w", "stop").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
	return nil
}

// StopPostgres stops a cluster in dir if one runs there.
func StopPostgres(ctx context.Context, dir string) error {
	bin := findPostgresBin()
	if bin == "" {
		return nil
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	return (&Postgres{Dir: dir, bin: bin}).Stop(ctx)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitFor polls check until it succeeds or the timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// PostgresProgram returns the path of a PostgreSQL client program such as
// pgbench, preferring the installation the server comes from.
func PostgresProgram(name string) (string, error) {
	dirs := []string{findPostgresBin()}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(found, func(i, j int) bool { return pgMajor(found[i]) > pgMajor(found[j]) })
	for _, d := range append(dirs, found...) {
		if p := filepath.Join(d, name); d != "" && isExecutable(p) {
			return p, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found: install the PostgreSQL client programs (apt-get install postgresql-contrib or postgresql-client)", name)
}

// Kill ends the cluster's postmaster with SIGKILL, as a crash would, and
// waits until every server process of the cluster has gone (the backends
// notice the postmaster's death and exit), so it can be started again.
func (p *Postgres) Kill(ctx context.Context) error {
	pid, ok := p.postmasterPID()
	if !ok {
		return fmt.Errorf("no postmaster.pid in %s: the cluster is not running", p.Dir)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("killing the postmaster %d: %w", pid, err)
	}
	return waitFor(ctx, 30*time.Second, func() error {
		if processLive(pid) {
			return fmt.Errorf("the postmaster %d still runs after SIGKILL", pid)
		}
		if n := p.processes(); n > 0 {
			return fmt.Errorf("%d server processes of %s still running after the postmaster was killed", n, p.Dir)
		}
		return nil
	})
}

// processes counts the processes working in the cluster's directory (every
// PostgreSQL server process runs with the data directory as its cwd).
func (p *Postgres) processes() int {
	dirs, _ := filepath.Glob("/proc/[0-9]*/cwd")
	n := 0
	for _, d := range dirs {
		if cwd, err := os.Readlink(d); err == nil && cwd == p.Dir {
			n++
		}
	}
	return n
}

// postmasterPID reads the pid in the cluster's postmaster.pid.
func (p *Postgres) postmasterPID() (int, bool) {
	b, err := os.ReadFile(filepath.Join(p.Dir, "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	return pid, err == nil && pid > 0
}

// processLive reports whether pid runs: it exists and is not a zombie.
func processLive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return syscall.Kill(pid, 0) == nil // no /proc: trust the signal check
	}
	// The state follows the parenthesized command name.
	i := strings.LastIndexByte(string(b), ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}
