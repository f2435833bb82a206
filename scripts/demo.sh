#!/usr/bin/env bash
# make demo: the whole story against a PostgreSQL cluster and a btcd regtest
# node that the demo starts itself (under .demo/) and stops at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=.demo
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
cleanup() { bin/cryptoassets-dev down --dir "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT

step "build"
go build -o bin/ ./cmd/cryptoassets ./cmd/cryptoassets-signer ./cmd/cryptoassets-dev
bin/cryptoassets version
bin/cryptoassets-signer version
bin/cryptoassets-dev version

step "start PostgreSQL and a btcd regtest node"
bin/cryptoassets-dev up --dir "$dir"
# shellcheck disable=SC1091
. "$dir/env"

step "migrate (global schema, then one schema per asset)"
bin/cryptoassets migrate
step "migrate again: nothing to do"
bin/cryptoassets migrate
step "migrate status"
bin/cryptoassets migrate status

step "the story: accounts, addresses, a deposit seen, confirmed and credited, a transfer, webhooks"
bin/cryptoassets-dev demo

step "what an operator sees"
bin/cryptoassets deposits list
bin/cryptoassets account list
bin/cryptoassets events list --limit 5
bin/cryptoassets ledger check

step "the air-gapped signer: restore a cold seed (regtest test mnemonic), write its policy"
signer=(bin/cryptoassets-signer --dir "$dir/signer")
hot=$(sed -n 's/^hot_wallet_descriptor = "\(.*\)"$/\1/p' "$dir/cryptoassets.toml")
echo "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong" |
	"${signer[@]}" --passphrase-fd 3 restore --network regtest --hot-wallet-descriptor "$hot" 3<<<"demo passphrase"
cold=$("${signer[@]}" --passphrase-fd 3 xpub 3<<<"demo passphrase")
echo "cold wallet account key: $cold"

step "the online side funds the cold wallet and prepares an unsigned top-up PSBT"
bin/cryptoassets-dev demo topup --cold-descriptor "$cold" --out "$dir/topup.psbt"

step "on the signer: inspect, verify against seed and policy, sign, hand back as QR frames"
"${signer[@]}" inspect --network regtest "$dir/topup.psbt"
"${signer[@]}" --passphrase-fd 3 sign --yes --qr-dir "$dir/signed-frames" --format ur "$dir/topup.psbt" 3<<<"demo passphrase"

step "the online side scans the frames and broadcasts: recorded before (opened) and after (closed)"
bin/cryptoassets cold submit $(printf -- '--qr %s ' "$dir"/signed-frames/*.png)
bin/cryptoassets-dev mine 1
bin/cryptoassets broadcasts list
bin/cryptoassets broadcasts resolve

step "stop"
cleanup
trap - EXIT
echo "demo finished"
