package main

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/table.md from testdata/bench.out")

// testdata/bench.out is recorded output of this machine's runs (load 12 to
// 25: other work beside them), for entries like these: a target missed, a
// target met, a paired row with no target, a baseline named before the
// convention, and benchmarks that report no baseline.
var sampleEntries = []entry{
	{id: "signer", pkg: "./offline-signer/sign", bench: "^BenchmarkSign500$", benchtime: "5x",
		what: "500 inputs signed", targets: []target{{op: "<=", ratio: 0.7}}},
	{id: "transfers", pkg: "./online/ledger", bench: "^BenchmarkTransfers$", benchtime: "5000x",
		what: "transfers beside pgbench", targets: []target{{match: "/spread$", op: ">=", ratio: 0.5}}, also: "^retries/commit$"},
	{id: "catchup", pkg: "./online/deposits", bench: "^BenchmarkFollowerCatchUp$", benchtime: "3x", timeout: "30m",
		what: "1,000 blocks caught up", targets: []target{{op: "<=", ratio: 1.2}}},
	{id: "withdrawals", pkg: "./online/withdrawals", bench: "^BenchmarkWithdrawalRequests$", benchtime: "3000x", what: "requests"},
	{id: "emit", pkg: "./online/events", bench: "^BenchmarkEmit$", benchtime: "1000x", what: "one event"},
	{id: "addresses", pkg: "./online/addresses", bench: "^BenchmarkIssue$", benchtime: "5000x", what: "addresses"},
}

func sample(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "bench.out"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func formatText(t *testing.T, out string, list []entry) (string, error) {
	t.Helper()
	rn, err := parse(strings.NewReader(out))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return format(rn, list)
}

// The table of a recorded run is exactly testdata/table.md: every figure
// beside its baseline, ratio, target and whether it is met, the load, the
// machine, the date and each row's command; the rows without a baseline
// in the second table.
func TestFormatMakesTheTableOfARecordedRun(t *testing.T) {
	got, err := formatText(t, sample(t), sampleEntries)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "table.md")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("table differs from %s (go test -update rewrites it):\n%s", golden, got)
	}
	for _, s := range []string{
		"| BenchmarkSign500 | 500 inputs signed | 2.79 ms/input | 2.59 ms/input | **1.08** | ratio ≤ 0.7 | **no** | — | 25.17 |",
		"| BenchmarkTransfers/spread | transfers beside pgbench | 1,203 transfers/s | 1,441 transfers/s | **0.84** | ratio ≥ 0.5 | yes | 0.068 retries/commit | 19.20 |",
		"| BenchmarkTransfers/one-hot-account | 〃 | 141 transfers/s | 107 transfers/s | **1.31** | — | — | 4.59 retries/commit | 19.20 |",
		"| BenchmarkFollowerCatchUp | 1,000 blocks caught up | 2.05 s/catch-up | 1.90 s/catch-up | **1.08** | ratio ≤ 1.2 | yes |",
		"`go test ./online/deposits -run '^$' -bench '^BenchmarkFollowerCatchUp$' -benchtime 3x -timeout 30m`",
		"`go test ./online/ledger -run '^$' -bench '^BenchmarkTransfers$/^one-hot-account$' -benchtime 5000x`",
		"| BenchmarkWithdrawalRequests | requests | 1,168 pgbench-tps, 0.67 ratio, 0.022 retries/commit, 785 withdrawals/s | 12.61 |",
		"| BenchmarkEmit | one event | 741 µs/op | 25.61 |",
		"| BenchmarkIssue/batch-500 | 〃 | 1,918 addresses/s |",
		"2026-12-02 07:11 UTC (10m19s in all), commit 2e779bf with uncommitted changes: 2 cores (AMD EPYC), GOMAXPROCS 2, go1.26.8",
		"Load average at the start 19.34 10.17 4.36",
	} {
		if !strings.Contains(got, s) {
			t.Errorf("table lacks %q", s)
		}
	}
	second := strings.Index(got, "Figures without a baseline")
	if second < 0 || strings.Index(got, "BenchmarkEmit") < second || strings.Index(got, "BenchmarkFollowerCatchUp") > second {
		t.Errorf("paired rows first, the others after \"Figures without a baseline\":\n%s", got)
	}
}

// What would make the table say less than the run measured is refused
// with the entry and the reason, and no table is made.
func TestFormatRefuses(t *testing.T) {
	const spreadLine = "BenchmarkTransfers/spread-2         \t    5000\t    831069 ns/op\t      1441 baseline-transfers/s\t         0.1418 pgbench-retries/commit\t         0.8351 ratio\t         0.06840 retries/commit\t      1203 transfers/s"
	withTarget := slices.Clone(sampleEntries)
	withTarget[3].targets = []target{{op: ">=", ratio: 0.4}}
	for _, c := range []struct {
		name      string
		old, new  string
		list      []entry
		wantError string
	}{
		{"a row with a target and no baseline", "", "", withTarget,
			"withdrawals: BenchmarkWithdrawalRequests reports no baseline (a \"baseline-<unit>\" metric beside its figure), and its target is a ratio to one; it reports ns/op, pgbench-tps, ratio, retries/commit, withdrawals/s"},
		{"a row with a target whose baseline was renamed away",
			spreadLine, "BenchmarkTransfers/spread-2 \t 5000\t 831069 ns/op\t 1441 pgbench-tps\t 0.8351 ratio\t 1203 transfers/s", nil,
			"transfers: BenchmarkTransfers/spread reports no baseline"},
		{"a baseline without its figure",
			spreadLine, "BenchmarkTransfers/spread-2 \t 5000\t 831069 ns/op\t 1441 baseline-transfers/s\t 0.8351 ratio\t 1203 tps", nil,
			"reports baseline-transfers/s but no transfers/s figure"},
		{"a baseline without the ratio",
			spreadLine, "BenchmarkTransfers/spread-2 \t 5000\t 831069 ns/op\t 1441 baseline-transfers/s\t 1203 transfers/s", nil,
			"no ratio"},
		{"a ratio the wrong way up",
			spreadLine, "BenchmarkTransfers/spread-2 \t 5000\t 831069 ns/op\t 1441 baseline-transfers/s\t 1.198 ratio\t 1203 transfers/s", nil,
			"reports ratio 1.198, but transfers/s / baseline-transfers/s is 0.8348"},
		{"two baselines on one row",
			spreadLine, spreadLine + "\t 4000 baseline-ns/op", nil,
			"reports 2 baselines"},
		{"a zero baseline",
			spreadLine, "BenchmarkTransfers/spread-2 \t 5000\t 831069 ns/op\t 0 baseline-transfers/s\t 0 ratio\t 1203 transfers/s", nil,
			"a baseline must be positive"},
		{"a failed go test",
			"BenchmarkEmit-2   \t    1000\t    740794 ns/op\nPASS\nok  \tgithub.com/cryptoassets/cryptoassets/online/events\t9.996s\nbench-entry-exit: ok",
			"--- FAIL: BenchmarkEmit-2\n    bench_test.go:20: emit: connection refused\nFAIL\nbench-entry-exit: exit status 1", nil,
			"emit: go test failed (exit status 1): BenchmarkEmit failed"},
		{"an entry that matched nothing",
			"BenchmarkEmit-2   \t    1000\t    740794 ns/op\n", "", nil,
			"emit: -bench ^BenchmarkEmit$ matched no benchmark"},
		{"an entry the run lacks (a partial run)", "", "",
			append(sampleEntries[:len(sampleEntries):len(sampleEntries)], entry{id: "resolve", pkg: "./online/broadcast", bench: "^BenchmarkResolve$", benchtime: "20x"}),
			"resolve: not in the run"},
		{"an unfinished entry",
			"bench-entry-exit: ok\nbench-elapsed: 10m19s\n", "", nil,
			"addresses: go test failed (did not finish)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := sample(t)
			if c.old != "" {
				if !strings.Contains(out, c.old) {
					t.Fatalf("sample lacks %q", c.old)
				}
				out = strings.Replace(out, c.old, c.new, 1)
			}
			list := c.list
			if list == nil {
				list = sampleEntries
			}
			got, err := formatText(t, out, list)
			if err == nil || !strings.Contains(err.Error(), c.wantError) {
				t.Fatalf("error %v, want one containing %q", err, c.wantError)
			}
			if got != "" {
				t.Errorf("a table came with the error:\n%s", got)
			}
		})
	}
}

func TestParse(t *testing.T) {
	head := "bench-date: 2026-12-02T08:31:07Z\nbench-gomaxprocs: %s\nbench-entry: x\n"
	for _, c := range []struct {
		name, procs, body string
		want              []string // name iterations first-metric per result
	}{
		{"the GOMAXPROCS suffix goes", "2",
			"BenchmarkA/watched-1000-2 \t 20\t 5 ns/op\n", []string{"BenchmarkA/watched-1000 20 5 ns/op"}},
		{"with GOMAXPROCS 1 go test adds none, and a name's own number stays", "1",
			"BenchmarkA/watched-1000 \t 20\t 5 ns/op\n", []string{"BenchmarkA/watched-1000 20 5 ns/op"}},
		{"a log line between the name and its figures", "2",
			"BenchmarkA-2 \t2026/12/02 08:32:40 INFO caught up\n   7\t 9 ns/op\t 3 x/s\n", []string{"BenchmarkA 7 9 ns/op"}},
		{"a name alone, then the next benchmark", "2",
			"BenchmarkA-2 \t\nBenchmarkB-2 \t 3\t 4 ns/op\n", []string{"BenchmarkB 3 4 ns/op"}},
		{"--- BENCH log lines are not figures", "2",
			"BenchmarkA-2 \t 1\t 2 ns/op\n--- BENCH: BenchmarkA-2\n    a_test.go:1: 12 rows 3 ok\n", []string{"BenchmarkA 1 2 ns/op"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rn, err := parse(strings.NewReader(strings.Replace(head, "%s", c.procs, 1) + c.body))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rn.sections[0].results {
				got = append(got, fmt.Sprintf("%s %d %g %s", r.name, r.iters, r.metrics[0].value, r.metrics[0].unit))
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
	for _, bad := range []string{
		"goos: linux\nBenchmarkA-2 \t 1\t 2 ns/op\n", // not benchtable's
		"bench-date: now\nbench-command: go test\n",  // a command before its entry
		"bench-date: now\nbench-cores: two\n",
		"bench-date: now\nbench-colour: blue\n",
	} {
		if _, err := parse(strings.NewReader(bad)); err == nil {
			t.Errorf("parse(%q) took it", bad)
		}
	}
}

func TestReplaceBlock(t *testing.T) {
	doc := "# Benchmarks\n\nintro\n\n" + beginMarker + "\nold table\n" + endMarker + "\n\n## Ledger\n"
	got, err := replaceBlock(doc, "new table\n")
	if err != nil {
		t.Fatal(err)
	}
	want := "# Benchmarks\n\nintro\n\n" + beginMarker + "\nnew table\n" + endMarker + "\n\n## Ledger\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if again, _ := replaceBlock(got, "new table\n"); again != got {
		t.Errorf("writing the same table twice changed the doc")
	}
	for _, bad := range []string{
		"no markers",
		beginMarker + "\nonly the beginning\n",
		endMarker + "\n" + beginMarker + "\n",
		beginMarker + "\n" + endMarker + "\n" + beginMarker + "\n" + endMarker + "\n",
	} {
		if _, err := replaceBlock(bad, "t\n"); err == nil {
			t.Errorf("replaceBlock(%q) took it", bad)
		}
	}
}

// The docs carry the markers, once each, so make bench-docs has a block to
// write.
func TestDocsHaveTheBlock(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "benchmarks.md"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := replaceBlock(string(doc), "t\n"); err != nil {
		t.Fatal(err)
	}
}

// Every listed entry can run: its package is there, its regexps compile,
// its id is its own, a target says which way is better.
func TestEntriesAreRunnable(t *testing.T) {
	ids := map[string]bool{}
	for _, e := range entries {
		if ids[e.id] || e.id == "" {
			t.Errorf("entry id %q empty or repeated", e.id)
		}
		ids[e.id] = true
		if fi, err := os.Stat(filepath.Join("..", "..", e.pkg)); err != nil || !fi.IsDir() {
			t.Errorf("%s: package %s: %v", e.id, e.pkg, err)
		}
		re, err := regexp.Compile(e.bench)
		if err != nil || e.benchtime == "" || e.what == "" {
			t.Errorf("%s: bench %q (%v), benchtime %q, what %q", e.id, e.bench, err, e.benchtime, e.what)
			continue
		}
		if names := benchmarks(t, e.pkg); !slices.ContainsFunc(names, re.MatchString) {
			t.Errorf("%s: -bench %s matches none of %s's benchmarks %v", e.id, e.bench, e.pkg, names)
		}
		if _, err := regexp.Compile(e.also); err != nil {
			t.Errorf("%s: also %q: %v", e.id, e.also, err)
		}
		for _, tg := range e.targets {
			if _, err := regexp.Compile(tg.match); err != nil || (tg.op != "<=" && tg.op != ">=") || tg.ratio <= 0 {
				t.Errorf("%s: target %+v (%v)", e.id, tg, err)
			}
		}
	}
}

func TestQuantity(t *testing.T) {
	for _, c := range []struct {
		v    float64
		unit string
		want string
	}{
		{302469, "ns/input", "302 µs/input"},
		{1021000000, "ns/batch", "1.02 s/batch"},
		{3401234, "ns/block", "3.40 ms/block"},
		{870, "ns/op", "870 ns/op"},
		{3558.4, "transfers/s", "3,558 transfers/s"},
		{1234567, "postings/s", "1,234,567 postings/s"},
		{0.018, "retries/commit", "0.018 retries/commit"},
		{12.34, "nsec", "12.3 nsec"},
		{2261212, "batched-fetch-ns/block", "2.26 ms/block batched-fetch"},
		{547353185, "batched-fetch-ns/catch-up", "547 ms/catch-up batched-fetch"},
		{3, "baseline-nsec", "3.00 baseline-nsec"},
	} {
		if got := quantity(c.v, c.unit); got != c.want {
			t.Errorf("quantity(%v, %q) = %q, want %q", c.v, c.unit, got, c.want)
		}
	}
}

// benchmarks lists the Benchmark functions of a package's test files.
func benchmarks(t *testing.T, pkg string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", pkg, "*_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	fset := token.NewFileSet()
	for _, f := range files {
		af, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && strings.HasPrefix(fn.Name.Name, "Benchmark") {
				names = append(names, fn.Name.Name)
			}
		}
	}
	return names
}

// A row of one row's figure over another's: its ratio is the table's, its
// target checked like any other; rows that are not there are refused.
func TestAcross(t *testing.T) {
	for _, c := range []struct {
		name      string
		across    across
		want      string
		wantError string
	}{
		{"met", across{of: "/one-hot-account$", to: "/spread$", target: target{op: "<=", ratio: 0.2}},
			"| BenchmarkTransfers/one-hot-account ÷ spread | 〃 | 141 transfers/s | 1,203 transfers/s | **0.12** | ratio ≤ 0.2 | yes | the figures of the two rows, one over the other | 19.20 | `go test ./online/ledger -run '^$' -bench '^BenchmarkTransfers$' -benchtime 5000x` |", ""},
		{"missed", across{of: "/one-hot-account$", to: "/spread$", target: target{op: ">=", ratio: 0.9}},
			"| BenchmarkTransfers/one-hot-account ÷ spread | 〃 | 141 transfers/s | 1,203 transfers/s | **0.12** | ratio ≥ 0.9 | **no** |", ""},
		{"ratios", across{of: "/one-hot-account$", to: "/spread$", ratios: true, target: target{op: "<=", ratio: 1.1}},
			"| BenchmarkTransfers/one-hot-account ÷ spread | 〃 | 141 transfers/s | 1,203 transfers/s | **1.57** | ratio ≤ 1.1 | **no** | the ratios of the two rows (1.31, 0.84), one over the other", ""},
		{"a row that is not there", across{of: "/watched-1000000$", to: "/spread$", target: target{op: "<=", ratio: 1.1}},
			"", `transfers: across: 0 rows with a baseline match "/watched-1000000$", want one`},
		{"two rows where one is wanted", across{of: "/one-hot-account$", to: "/", target: target{op: "<=", ratio: 1.1}},
			"", `transfers: across: 2 rows with a baseline match "/", want one`},
	} {
		t.Run(c.name, func(t *testing.T) {
			list := slices.Clone(sampleEntries)
			list[1].across = []across{c.across}
			got, err := formatText(t, sample(t), list)
			if c.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantError) {
					t.Fatalf("error %v, want %q", err, c.wantError)
				}
				return
			}
			if err != nil || !strings.Contains(got, c.want) {
				t.Fatalf("error %v; table lacks %q:\n%s", err, c.want, got)
			}
		})
	}
}
