#!/usr/bin/env bash
# make bench: the benchmarks listed in internal/benchtable/list.go, each
# beside its baseline from the same run, as one markdown table on stdout;
# their raw output stays in bench.out. --write-docs (make bench-docs) puts
# the table of the last bench.out into docs/benchmarks.md. Other flags:
# scripts/bench.sh -help.
set -euo pipefail
cd "$(dirname "$0")/.."
# Built rather than go run, so a refused table exits 1 with its reasons
# and nothing after them.
go build -o bin/benchtable ./internal/benchtable
exec bin/benchtable "$@"
