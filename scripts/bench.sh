#!/usr/bin/env bash
# make bench: every benchmark in the module, once, with memory figures.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -run='^$' -bench=. -benchmem -count=1 -timeout 30m ./... | tee bench.out
