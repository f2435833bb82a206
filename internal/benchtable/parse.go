package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// A run is what bench.out holds: the machine and the moment, then one
// section per entry.
type run struct {
	date     string // RFC 3339, UTC
	cores    int
	procs    int // GOMAXPROCS of the benchmarks: the name suffix go test adds
	cpu      string
	loadavg  string // /proc/loadavg's three averages when the run started
	goVer    string
	commit   string
	elapsed  string
	sections []*section
}

// A section is one entry's go test: its benchmark lines and how it ended.
type section struct {
	id      string
	command string
	loadavg string // the 1-minute load average when the entry started
	exit    string // "ok", or how go test failed
	results []result
	failed  []string // the names of the benchmarks go test reported failing
}

// A result is one benchmark line.
type result struct {
	name    string // without the -GOMAXPROCS suffix
	iters   int64
	metrics []metric // in the order go test printed them
}

type metric struct {
	value float64
	unit  string
}

func (r result) metric(unit string) (float64, bool) {
	for _, m := range r.metrics {
		if m.unit == unit {
			return m.value, true
		}
	}
	return 0, false
}

// The lines bench.out has besides go test's own output. Each is a
// "key: value" line, the form go test itself uses for goos, pkg and cpu.
const (
	keyDate     = "bench-date"
	keyCores    = "bench-cores"
	keyProcs    = "bench-gomaxprocs"
	keyCPU      = "bench-cpu"
	keyLoad     = "bench-loadavg"
	keyGo       = "bench-go"
	keyCommit   = "bench-commit"
	keyElapsed  = "bench-elapsed"
	keyEntry    = "bench-entry"
	keyCommand  = "bench-command"
	keyEntLoad  = "bench-entry-loadavg"
	keyEntryEnd = "bench-entry-exit"
)

var (
	benchName = regexp.MustCompile(`^(Benchmark\S+)(\s+|$)`)
	failLine  = regexp.MustCompile(`^\s*--- FAIL: (Benchmark\S+)`)
)

// parse reads bench.out. A benchmark that logged while it ran has its name
// and its figures on different lines (go test prints the name first), so a
// name alone on its line waits for the next line of figures.
func parse(r io.Reader) (*run, error) {
	out := &run{}
	var cur *section
	var pending string // a benchmark name whose figures have not come yet
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if k, v, ok := strings.Cut(line, ": "); ok && strings.HasPrefix(k, "bench-") {
			if err := out.set(&cur, k, v); err != nil {
				return nil, fmt.Errorf("bench.out line %d: %w", n, err)
			}
			pending = ""
			continue
		}
		if cur == nil {
			continue
		}
		if m := failLine.FindStringSubmatch(line); m != nil {
			cur.failed = append(cur.failed, out.strip(m[1]))
			pending = ""
			continue
		}
		if m := benchName.FindStringSubmatch(line); m != nil {
			rest := strings.TrimSpace(line[len(m[0]):])
			if res, ok := figures(rest); ok {
				res.name = out.strip(m[1])
				cur.results = append(cur.results, res)
				pending = ""
			} else {
				pending = m[1]
			}
			continue
		}
		if pending != "" {
			if res, ok := figures(strings.TrimSpace(line)); ok {
				res.name = out.strip(pending)
				cur.results = append(cur.results, res)
				pending = ""
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if out.date == "" {
		return nil, fmt.Errorf("bench.out has no %s line: not written by benchtable", keyDate)
	}
	return out, nil
}

func (out *run) set(cur **section, k, v string) error {
	var err error
	switch k {
	case keyDate:
		out.date = v
	case keyCores:
		out.cores, err = strconv.Atoi(v)
	case keyProcs:
		out.procs, err = strconv.Atoi(v)
	case keyCPU:
		out.cpu = v
	case keyLoad:
		out.loadavg = v
	case keyGo:
		out.goVer = v
	case keyCommit:
		out.commit = v
	case keyElapsed:
		out.elapsed = v
	case keyEntry:
		*cur = &section{id: v}
		out.sections = append(out.sections, *cur)
	case keyCommand, keyEntLoad, keyEntryEnd:
		if *cur == nil {
			return fmt.Errorf("%s before any %s", k, keyEntry)
		}
		switch k {
		case keyCommand:
			(*cur).command = v
		case keyEntLoad:
			(*cur).loadavg = v
		default:
			(*cur).exit = v
		}
	default:
		return fmt.Errorf("unknown key %q", k)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", k, err)
	}
	return nil
}

// strip drops the "-N" go test appends to a name when GOMAXPROCS is N > 1
// (and only then: a sub-benchmark may end in a number of its own).
func (out *run) strip(name string) string {
	if out.procs > 1 {
		return strings.TrimSuffix(name, "-"+strconv.Itoa(out.procs))
	}
	return name
}

// figures parses "N  v unit  v unit ...", the rest of a benchmark line.
func figures(s string) (result, bool) {
	f := strings.Fields(s)
	if len(f) < 3 || len(f)%2 == 0 {
		return result{}, false
	}
	n, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return result{}, false
	}
	res := result{iters: n}
	for i := 1; i < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return result{}, false
		}
		res.metrics = append(res.metrics, metric{value: v, unit: f[i+1]})
	}
	return res, true
}
