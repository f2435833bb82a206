#!/usr/bin/env bash
# make demo: the whole story against a PostgreSQL cluster and a btcd regtest
# node that the demo starts itself (under .demo/) and stops at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=.demo
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
cleanup() { go run ./internal/cmd/devenv -dir "$dir" down >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT

step "build"
go build -o bin/ ./cmd/cryptoassets ./cmd/cryptoassets-signer
bin/cryptoassets version
bin/cryptoassets-signer version

step "start PostgreSQL and a btcd regtest node"
go run ./internal/cmd/devenv -dir "$dir" up
# shellcheck disable=SC1091
. "$dir/env"

step "migrate (global schema, then one schema per asset)"
bin/cryptoassets migrate
step "migrate again: nothing to do"
bin/cryptoassets migrate
step "migrate status"
bin/cryptoassets migrate status

step "the story: accounts, addresses, a deposit seen, confirmed and credited, a transfer, webhooks"
bin/cryptoassets demo

step "what an operator sees"
bin/cryptoassets deposits list
bin/cryptoassets account list
bin/cryptoassets events list --limit 5
bin/cryptoassets ledger check

step "stop"
cleanup
trap - EXIT
echo "demo finished"
