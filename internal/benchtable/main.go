package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"time"
)

func main() {
	out := flag.String("out", "bench.out", "the raw output of the run, and what -table and -write-docs read")
	only := flag.String("only", "", "run only the entries whose id or benchmark regexp matches this regexp")
	table := flag.Bool("table", false, "print the table of the last run again, without running anything")
	writeDocs := flag.Bool("write-docs", false, "rewrite the table in -docs from the last complete run")
	docs := flag.String("docs", "docs/benchmarks.md", "the document whose marked block -write-docs rewrites")
	list := flag.Bool("list", false, "print the entries' go test commands")
	flag.Parse()
	if flag.NArg() > 0 {
		fail(fmt.Errorf("unexpected arguments %q", flag.Args()))
	}
	switch {
	case *list:
		for _, e := range entries {
			fmt.Printf("%-12s %s\n", e.id, shellJoin(goTest(e)))
		}
	case *writeDocs:
		fail(writeDocsFrom(*out, *docs))
	case *table:
		rn, err := readRun(*out)
		fail(err)
		t, err := format(rn, present(rn))
		fail(refused(*out, err))
		fmt.Print(t)
	default:
		sel, err := selectEntries(*only)
		fail(err)
		fail(runAll(sel, *out))
		rn, err := readRun(*out)
		fail(err)
		t, err := format(rn, sel)
		fail(refused(*out, err))
		fmt.Print(t)
	}
}

func refused(path string, err error) error {
	if err != nil {
		return fmt.Errorf("no table from %s (its raw output says more):\n%w", path, err)
	}
	return nil
}

func fail(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func selectEntries(only string) ([]entry, error) {
	if only == "" {
		return entries, nil
	}
	re, err := regexp.Compile(only)
	if err != nil {
		return nil, fmt.Errorf("-only: %w", err)
	}
	var sel []entry
	for _, e := range entries {
		if re.MatchString(e.id) || re.MatchString(e.bench) {
			sel = append(sel, e)
		}
	}
	if len(sel) == 0 {
		return nil, fmt.Errorf("-only %q matches no entry (see -list)", only)
	}
	return sel, nil
}

// present is the listed entries bench.out has a section for: the table of a
// partial run covers what it ran.
func present(rn *run) []entry {
	have := map[string]bool{}
	for _, s := range rn.sections {
		have[s.id] = true
	}
	var sel []entry
	for _, e := range entries {
		if have[e.id] {
			sel = append(sel, e)
		}
	}
	return sel
}

func goTest(e entry) []string {
	args := []string{"go", "test", e.pkg, "-run", "^$", "-bench", e.bench, "-benchtime", e.benchtime, "-count", "1"}
	if e.timeout != "" {
		args = append(args, "-timeout", e.timeout)
	}
	return args
}

// runAll runs the entries one after another (each has the machine to
// itself, as far as this run goes) into the raw output file. A go test that
// fails is recorded there, and the table refuses the run.
func runAll(sel []entry, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	start := time.Now()
	head := [][2]string{
		{keyDate, start.UTC().Format(time.RFC3339)},
		{keyCores, fmt.Sprint(runtime.NumCPU())},
		{keyProcs, fmt.Sprint(runtime.GOMAXPROCS(0))},
		{keyCPU, cpuModel()},
		{keyLoad, loadavg(3)},
		{keyGo, runtime.Version()},
		{keyCommit, commit()},
	}
	for _, kv := range head {
		fmt.Fprintf(f, "%s: %s\n", kv[0], kv[1])
	}
	for i, e := range sel {
		args := goTest(e)
		load := loadavg(1)
		fmt.Fprintf(f, "%s: %s\n%s: %s\n%s: %s\n", keyEntry, e.id, keyCommand, shellJoin(args), keyEntLoad, load)
		fmt.Fprintf(os.Stderr, "bench: [%d/%d] %s (load %s): %s\n", i+1, len(sel), e.id, load, shellJoin(args))
		t0 := time.Now()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stdout, cmd.Stderr = f, f
		exit := "ok"
		if err := cmd.Run(); err != nil {
			exit = err.Error()
		}
		fmt.Fprintf(f, "%s: %s\n", keyEntryEnd, exit)
		fmt.Fprintf(os.Stderr, "bench: [%d/%d] %s: %s in %s\n", i+1, len(sel), e.id, exit, time.Since(t0).Round(time.Second))
	}
	fmt.Fprintf(f, "%s: %s\n", keyElapsed, time.Since(start).Round(time.Second))
	return f.Close()
}

func readRun(path string) (*run, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w (make bench writes it)", err)
	}
	defer f.Close()
	return parse(f)
}

func writeDocsFrom(out, docs string) error {
	rn, err := readRun(out)
	if err != nil {
		return err
	}
	t, err := format(rn, entries)
	if err != nil {
		return refused(out, err)
	}
	doc, err := os.ReadFile(docs)
	if err != nil {
		return err
	}
	next, err := replaceBlock(string(doc), t)
	if err != nil {
		return fmt.Errorf("%s: %w", docs, err)
	}
	if err := os.WriteFile(docs, []byte(next), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench: %s: the table of the run of %s\n", docs, humanDate(rn.date))
	return nil
}

// The block of docs/benchmarks.md that -write-docs owns.
const (
	beginMarker = "<!-- bench-table: begin. `make bench-docs` writes this block from bench.out: do not edit it by hand. -->"
	endMarker   = "<!-- bench-table: end -->"
)

// replaceBlock puts the table between the marker lines, and leaves every
// other line of the document as it was.
func replaceBlock(doc, table string) (string, error) {
	b, e := strings.Count(doc, beginMarker), strings.Count(doc, endMarker)
	if b != 1 || e != 1 {
		return "", fmt.Errorf("want one line %q and one line %q, found %d and %d", beginMarker, endMarker, b, e)
	}
	i := strings.Index(doc, beginMarker) + len(beginMarker)
	j := strings.Index(doc, endMarker)
	if j < i {
		return "", errors.New("the table's end marker comes before its begin marker")
	}
	return doc[:i] + "\n" + table + doc[j:], nil
}

func loadavg(n int) string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < n {
		return "unknown"
	}
	return strings.Join(f[:n], " ")
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	return modelName(f)
}

func modelName(r io.Reader) string {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

// commit names the code the run measured; a work tree with changes to
// tracked files measured something no commit has.
func commit() string {
	head, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(head))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
		c += " with uncommitted changes"
	}
	return c
}
