package main

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	baselinePrefix = "baseline-"
	ratioUnit      = "ratio"
	// The ratio a row reports must be its figure over its baseline within
	// this much: the figures go test prints keep four or five digits, and a
	// ratio inverted or taken against another baseline is far outside it.
	ratioTolerance = 0.02
)

// A paired row: a figure beside its baseline.
type pairedRow struct {
	e        entry
	s        *section
	r        result
	name     string // r's, or for a row of two rows "A ÷ B"
	unit     string
	fig      float64
	base     float64
	ratio    float64
	tgt      *target
	also     string
	both     bool // a row of two rows: its command runs the whole entry
	firstRow bool // the first row of its entry carries the entry's description
}

type soloRow struct {
	e        entry
	s        *section
	r        result
	firstRow bool
}

// format makes the table of the listed entries from a run. Anything that
// would make the table say less than the run measured is an error, and no
// table is made: an entry with no section or no benchmark line, a go test
// that failed, a row whose target has no baseline to be measured against,
// a baseline without its figure or its ratio, a ratio that is not figure /
// baseline.
func format(rn *run, list []entry) (string, error) {
	byID := map[string]*section{}
	for _, s := range rn.sections {
		byID[s.id] = s
	}
	var errs []error
	var paired []pairedRow
	var solo []soloRow
	for _, e := range list {
		s := byID[e.id]
		switch {
		case s == nil:
			errs = append(errs, fmt.Errorf("%s: not in the run (a partial one?)", e.id))
			continue
		case s.exit != "ok":
			errs = append(errs, fmt.Errorf("%s: go test failed (%s)%s", e.id, orNone(s.exit), failedNames(s.failed)))
			continue
		case len(s.results) == 0:
			errs = append(errs, fmt.Errorf("%s: -bench %s matched no benchmark in %s", e.id, e.bench, e.pkg))
			continue
		}
		first := true
		var mine []pairedRow
		for _, r := range s.results {
			p, err := pair(e, r)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", e.id, err))
				continue
			}
			if p != nil {
				p.s, p.firstRow = s, first
				mine = append(mine, *p)
			} else {
				solo = append(solo, soloRow{e: e, s: s, r: r, firstRow: first})
			}
			first = false
		}
		for _, a := range e.across {
			p, err := acrossRow(a, mine)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", e.id, err))
				continue
			}
			mine = append(mine, p)
		}
		paired = append(paired, mine...)
	}
	if len(errs) > 0 {
		return "", errors.Join(errs...)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "`make bench` at %s (%s in all), commit %s: %d cores (%s), GOMAXPROCS %d, %s. "+
		"Load average at the start %s (1, 5 and 15 minutes); the load column is the 1-minute average as each benchmark started.\n\n",
		humanDate(rn.date), orNone(rn.elapsed), rn.commit, rn.cores, rn.cpu, rn.procs, rn.goVer, rn.loadavg)
	b.WriteString("| benchmark | what | figure | baseline, same run | ratio | target | met | also | load | command |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, p := range paired {
		tgt, met := "—", "—"
		if p.tgt != nil {
			tgt = "ratio " + map[string]string{"<=": "≤", ">=": "≥"}[p.tgt.op] + " " + strconv.FormatFloat(p.tgt.ratio, 'f', -1, 64)
			met = "yes"
			if !p.tgt.met(p.ratio) {
				met = "**no**"
			}
		}
		b.WriteString(cells(p.name, what(p.e, p.firstRow), quantity(p.fig, p.unit), quantity(p.base, p.unit), "**"+ratio(p.ratio)+"**",
			tgt, met, p.also, p.s.loadavg, p.command()))
	}
	if len(solo) > 0 {
		b.WriteString("\nFigures without a baseline (yet):\n\n")
		b.WriteString("| benchmark | what | figures | load | command |\n")
		b.WriteString("|---|---|---|---|---|\n")
		for _, o := range solo {
			b.WriteString(cells(o.r.name, what(o.e, o.firstRow), others(o.r), o.s.loadavg, command(o.e, o.r.name)))
		}
	}
	return b.String(), nil
}

// pair finds a row's figure, baseline and ratio; nil when it reports no
// baseline and may go without one.
func pair(e entry, r result) (*pairedRow, error) {
	var tgt *target
	for i, t := range e.targets {
		if ok, err := regexp.MatchString(t.match, r.name); err != nil {
			return nil, fmt.Errorf("target %q: %w", t.match, err)
		} else if ok {
			tgt = &e.targets[i]
			break
		}
	}
	var units []string
	for _, m := range r.metrics {
		if strings.HasPrefix(m.unit, baselinePrefix) {
			units = append(units, strings.TrimPrefix(m.unit, baselinePrefix))
		}
	}
	switch {
	case len(units) == 0 && tgt != nil:
		return nil, fmt.Errorf(`%s reports no baseline (a "baseline-<unit>" metric beside its figure), and its target is a ratio to one; it reports %s`,
			r.name, unitList(r))
	case len(units) == 0:
		return nil, nil
	case len(units) > 1:
		return nil, fmt.Errorf("%s reports %d baselines (%s): one figure, one baseline, one ratio per row", r.name, len(units), strings.Join(units, ", "))
	}
	unit := units[0]
	fig, ok := r.metric(unit)
	if !ok {
		return nil, fmt.Errorf("%s reports %s%s but no %s figure", r.name, baselinePrefix, unit, unit)
	}
	base, _ := r.metric(baselinePrefix + unit)
	rat, ok := r.metric(ratioUnit)
	if !ok {
		return nil, fmt.Errorf("%s reports a figure and its baseline but no %s", r.name, ratioUnit)
	}
	if base <= 0 || fig < 0 {
		return nil, fmt.Errorf("%s: figure %v, baseline %v: a baseline must be positive", r.name, fig, base)
	}
	if want := fig / base; math.Abs(rat-want) > ratioTolerance*want {
		return nil, fmt.Errorf("%s reports ratio %v, but %s / %s%s is %.4g", r.name, rat, unit, baselinePrefix, unit, want)
	}
	shown := r
	if e.also != "" {
		re, err := regexp.Compile(e.also)
		if err != nil {
			return nil, fmt.Errorf("also %q: %w", e.also, err)
		}
		shown.metrics = slices.DeleteFunc(slices.Clone(r.metrics), func(m metric) bool {
			return m.unit != unit && m.unit != baselinePrefix+unit && m.unit != ratioUnit && !re.MatchString(m.unit)
		})
	}
	return &pairedRow{e: e, r: r, name: r.name, unit: unit, fig: fig, base: base, ratio: rat, tgt: tgt,
		also: others(shown, unit, baselinePrefix+unit, ratioUnit)}, nil
}

// acrossRow is the row of one row's figure over another's, both of the
// same entry and unit: the ratio is the table's, not a benchmark's.
func acrossRow(a across, rows []pairedRow) (pairedRow, error) {
	find := func(re string) (pairedRow, error) {
		var found []pairedRow
		for _, p := range rows {
			if ok, err := regexp.MatchString(re, p.r.name); err != nil {
				return pairedRow{}, fmt.Errorf("across %q: %w", re, err)
			} else if ok && p.name == p.r.name {
				found = append(found, p)
			}
		}
		if len(found) != 1 {
			return pairedRow{}, fmt.Errorf("across: %d rows with a baseline match %q, want one", len(found), re)
		}
		return found[0], nil
	}
	of, err := find(a.of)
	if err != nil {
		return pairedRow{}, err
	}
	to, err := find(a.to)
	if err != nil {
		return pairedRow{}, err
	}
	if of.unit != to.unit || to.fig <= 0 {
		return pairedRow{}, fmt.Errorf("across: %s (%v %s) over %s (%v %s): want one unit, a positive divisor", of.name, of.fig, of.unit, to.name, to.fig, to.unit)
	}
	_, last, _ := strings.Cut(to.r.name, "/")
	if last == "" {
		last = to.r.name
	}
	row := pairedRow{e: of.e, s: of.s, r: of.r, name: of.r.name + " ÷ " + last, unit: of.unit, fig: of.fig, base: to.fig,
		ratio: of.fig / to.fig, tgt: &a.target, also: "the figures of the two rows, one over the other", both: true}
	if a.ratios {
		if to.ratio <= 0 {
			return pairedRow{}, fmt.Errorf("across: %s has no positive ratio to divide by", to.name)
		}
		row.ratio = of.ratio / to.ratio
		row.also = fmt.Sprintf("the ratios of the two rows (%s, %s), one over the other: each row's figure over its own pass's baseline; the figures alone, one over the other: %s",
			ratio(of.ratio), ratio(to.ratio), ratio(of.fig/to.fig))
	}
	return row, nil
}

func (p pairedRow) command() string {
	if p.both {
		return command(p.e, "")
	}
	return command(p.e, p.r.name)
}

func (t target) met(ratio float64) bool {
	if t.op == "<=" {
		return ratio <= t.ratio
	}
	return ratio >= t.ratio
}

func what(e entry, first bool) string {
	if first {
		return e.what
	}
	return "〃"
}

// others lists a row's figures but the ones named; ns/op only when it is
// the sole figure (beside custom metrics it is the time of one b.N op,
// whatever that op happens to be).
func others(r result, skip ...string) string {
	var parts []string
	for _, m := range r.metrics {
		if m.unit == "ns/op" && len(r.metrics) > 1 || slices.Contains(skip, m.unit) {
			continue
		}
		parts = append(parts, quantity(m.value, m.unit))
	}
	if len(parts) == 0 {
		return "—"
	}
	return strings.Join(parts, ", ")
}

func unitList(r result) string {
	var u []string
	for _, m := range r.metrics {
		u = append(u, m.unit)
	}
	if len(u) == 0 {
		return "no metric"
	}
	return strings.Join(u, ", ")
}

// command is the go test line that reproduces one row: the entry's, with
// -bench narrowed to the row's name ("" keeps the entry's).
func command(e entry, name string) string {
	bench := e.bench
	if name != "" {
		parts := strings.Split(name, "/")
		for i, p := range parts {
			parts[i] = "^" + regexp.QuoteMeta(p) + "$"
		}
		bench = strings.Join(parts, "/")
	}
	args := []string{"go", "test", e.pkg, "-run", "^$", "-bench", bench, "-benchtime", e.benchtime}
	if e.timeout != "" {
		args = append(args, "-timeout", e.timeout)
	}
	return "`" + shellJoin(args) + "`"
}

func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`|&;<>()*?[]{}^!#~=") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}

// quantity writes a figure with its unit, a time in ns scaled to µs, ms
// or s so it reads at a glance ("1.02 ms/batch").
func quantity(v float64, unit string) string {
	// A named time ("batched-fetch-ns/block") reads as a time with its name.
	if i := strings.LastIndex(unit, "-ns"); i > 0 && (len(unit) == i+3 || unit[i+3] == '/') {
		return quantity(v, unit[i+1:]) + " " + unit[:i]
	}
	if rest, ok := strings.CutPrefix(unit, "ns"); ok && (rest == "" || rest[0] == '/') {
		switch a := math.Abs(v); {
		case a >= 1e9:
			return num(v/1e9) + " s" + rest
		case a >= 1e6:
			return num(v/1e6) + " ms" + rest
		case a >= 1e3:
			return num(v/1e3) + " µs" + rest
		}
	}
	return num(v) + " " + unit
}

// num keeps three or four significant digits, with thousands separated.
func num(v float64) string {
	a := math.Abs(v)
	switch {
	case a == 0:
		return "0"
	case a >= 1000:
		s := strconv.FormatFloat(math.Round(a), 'f', 0, 64)
		for i := len(s) - 3; i > 0; i -= 3 {
			s = s[:i] + "," + s[i:]
		}
		if v < 0 {
			s = "-" + s
		}
		return s
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 2, 64)
}

func ratio(v float64) string {
	if math.Abs(v) >= 0.1 {
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 2, 64)
}

func humanDate(s string) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return s
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func failedNames(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return ": " + strings.Join(names, ", ") + " failed"
}

func orNone(s string) string {
	if s == "" {
		return "did not finish"
	}
	return s
}

// cell keeps a table cell one cell: GitHub's tables split on "|" even
// inside code spans.
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func cells(v ...string) string {
	for i := range v {
		v[i] = cell(v[i])
	}
	return "| " + strings.Join(v, " | ") + " |\n"
}
