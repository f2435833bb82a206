package ledger

import (
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// cpuMeter reads CPU time from /proc (Linux): the server's side of the
// ledger's work (its connections' backends) and of pgbench's (the backends
// the postmaster reaped, pgbench's and nothing else when the test cluster
// serves only this benchmark), and the client side of each (this process;
// pgbench as a child of it). CPU time per posting does not grow, as wall
// time does, when other work shares the machine's cores.
type cpuMeter struct {
	pool       *pgxpool.Pool
	postmaster int
}

// newCPUMeter returns nil where /proc cannot be read.
func newCPUMeter(tb testing.TB, pool *pgxpool.Pool) *cpuMeter {
	tb.Helper()
	var pid int
	if err := pool.QueryRow(context.Background(), `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		tb.Fatal(err)
	}
	f, ok := procStat(pid)
	if !ok {
		return nil
	}
	ppid, _ := strconv.Atoi(f[1])
	if _, ok := procStat(ppid); !ok {
		return nil
	}
	return &cpuMeter{pool: pool, postmaster: ppid}
}

// procStat returns the fields of /proc/pid/stat after the command name,
// from the state (field 3) on.
func procStat(pid int) ([]string, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, false
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return nil, false
	}
	return strings.Fields(string(b[i+1:])), true
}

// ticks is CLK_TCK, which Linux fixes at 100 for user space.
const ticks = 100

func ticksField(f []string, i int) time.Duration {
	n, _ := strconv.ParseInt(f[i], 10, 64)
	return time.Duration(n) * time.Second / ticks
}

// backends is the CPU time so far of each client backend of the pool's
// database.
func (m *cpuMeter) backends(tb testing.TB) map[int]time.Duration {
	tb.Helper()
	if m == nil {
		return nil
	}
	rows, err := m.pool.Query(context.Background(), `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	cpu := map[int]time.Duration{}
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			tb.Fatal(err)
		}
		// utime and stime are fields 14 and 15, here 11 and 12.
		if f, ok := procStat(pid); ok {
			cpu[pid] = ticksField(f, 11) + ticksField(f, 12)
		}
	}
	return cpu
}

// spent is the CPU time the backends of after spent since before.
func spent(before, after map[int]time.Duration) time.Duration {
	var d time.Duration
	for pid, t := range after {
		d += t - before[pid]
	}
	return d
}

// reapedWhenGone is reaped once pgbench's backends have exited and the
// postmaster has had a moment to reap them.
func (m *cpuMeter) reapedWhenGone(tb testing.TB) time.Duration {
	tb.Helper()
	if m == nil {
		return 0
	}
	for range 100 {
		var n int
		if err := m.pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgbench'`).Scan(&n); err != nil {
			tb.Fatal(err)
		}
		if n == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	return m.reaped()
}

// reaped is the CPU time of the postmaster's children that have exited
// (cutime and cstime, fields 16 and 17).
func (m *cpuMeter) reaped() time.Duration {
	f, ok := procStat(m.postmaster)
	if !ok {
		return 0
	}
	return ticksField(f, 13) + ticksField(f, 14)
}

// self and children are this process's CPU time and that of its waited-for
// children (pgbench).
func self() time.Duration     { return rusage(syscall.RUSAGE_SELF) }
func children() time.Duration { return rusage(syscall.RUSAGE_CHILDREN) }

func rusage(who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
