#!/usr/bin/env bash
# make bench: the benchmarks listed in internal/benchtable/list.go, each
# beside its baseline from the same run, as one markdown table on stdout;
# their raw output stays in bench.out. --write-docs (make bench-docs) puts
# the table of the last bench.out into docs/benchmarks.md. Other flags:
# go run ./internal/benchtable -help.
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./internal/benchtable "$@"
