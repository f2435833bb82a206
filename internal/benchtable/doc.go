// Benchtable is `make bench`: it runs the benchmarks listed in list.go, one
// `go test -bench` per entry, keeps their raw output in bench.out, and
// prints one markdown table made from that file alone: each figure beside
// its baseline from the same run, the ratio, the target and whether it is
// met, the load average when the entry started, the machine, the date, and
// the command that reproduces each row. Benchmarks that report no baseline
// yet are listed in a second table with the figures they do report.
//
// A benchmark stands beside its baseline by the convention of issue #15:
// besides ns/op it reports the figure in a unit named for what it counts
// ("postings/s", "ns/input"), the baseline in the same unit named
// "baseline-" + that unit, and "ratio" (figure / baseline). An entry with a
// target must report all three; a line that does not is refused rather
// than shown without its baseline.
//
// docs/benchmarks.md shows the same table between two marker lines;
// -write-docs rewrites that block from the last complete bench.out, so the
// doc always says what a run printed.
//
//	scripts/bench.sh                 every entry, then the table (make bench)
//	scripts/bench.sh -only Follower  the entries whose id or benchmark matches
//	scripts/bench.sh -table          the table of the last bench.out again
//	scripts/bench.sh --write-docs    the table into docs/benchmarks.md (make bench-docs)
//
// A run with -only leaves bench.out holding only what it ran, and
// -write-docs refuses a run that lacks an entry: the doc's table is always
// one whole run.
package main
