#!/usr/bin/env bash
# Runs every fuzz target in the module for the given -fuzztime each: a count
# such as 3000x (the default, used by make test) or a duration such as 2m.
# Counts keep short runs clear of Go 1.26's fuzz coordinator race at a
# duration deadline, which can fail a run with no failing input.
set -euo pipefail
fuzztime=${1:-3000x}
cd "$(dirname "$0")/.."
n=0
for pkg in $(go list ./...); do
	targets=$(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true)
	for t in $targets; do
		echo "fuzz $pkg $t ($fuzztime)"
		go test -run='^$' -fuzz="^${t}\$" -fuzztime="$fuzztime" -fuzzminimizetime=100x "$pkg" >/tmp/fuzz-$$.log 2>&1 || { cat /tmp/fuzz-$$.log; rm -f /tmp/fuzz-$$.log; exit 1; }
		n=$((n + 1))
	done
done
rm -f /tmp/fuzz-$$.log
echo "fuzz: $n targets ran for $fuzztime each without a failure"
