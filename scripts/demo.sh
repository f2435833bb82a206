#!/usr/bin/env bash
# make demo: the whole story against a PostgreSQL cluster and a btcd regtest
# node that the demo starts itself (under .demo/) and stops at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=.demo
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
serve_pid=
stop_serve() { if [ -n "$serve_pid" ]; then kill -TERM "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; serve_pid=; fi; }
cleanup() { stop_serve; bin/cryptoassets-dev down --dir "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT

step "build"
go build -o bin/ ./cmd/cryptoassets ./cmd/cryptoassets-signer ./cmd/cryptoassets-dev
bin/cryptoassets version
bin/cryptoassets-signer version
bin/cryptoassets-dev version

step "start PostgreSQL and a btcd regtest node"
bin/cryptoassets-dev up --dir "$dir" | tee "$dir.up.log"
faucet=$(sed -n 's/.*mining to \([a-z0-9]*\)).*/\1/p' "$dir.up.log")
rm -f "$dir.up.log"
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

step "the hot wallet's seed, encrypted at rest in the signer's keystore format (dev seed: the BIP84 test mnemonic)"
export CRYPTOASSETS_ASSET_BTC_HOT_KEYSTORE="$PWD/$dir/hot.keystore"
export CRYPTOASSETS_ASSET_BTC_HOT_PASSPHRASE_FILE="$PWD/$dir/hot.pass"
(umask 077 && echo "demo hot passphrase" >"$CRYPTOASSETS_ASSET_BTC_HOT_PASSPHRASE_FILE")
echo "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about" |
	bin/cryptoassets hotkey restore --passphrase-fd 3 3<<<"demo hot passphrase"
bin/cryptoassets hotkey xpub --passphrase-fd 3 3<<<"demo hot passphrase"

step "serve: the API, the follower, webhooks and the batcher; it unlocks the hot keystore and checks the node's network and the server's durability"
# The demo batches quickly: a withdrawal waits at most 2s, three at once go at once.
printf 'batch_interval = "2s"\nbatch_threshold_count = 3\n' >>"$dir/cryptoassets.toml"
export CRYPTOASSETS_HTTP_LISTEN="127.0.0.1:$((20000 + RANDOM % 20000))"
bin/cryptoassets serve >"$dir/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 100); do grep -q "API listening" "$dir/serve.log" && break; sleep 0.1; done
cat "$dir/serve.log"

step "a new user funds an account on the dev node: cryptoassets-dev pay, then mine"
bin/cryptoassets account create dave
addr=$(bin/cryptoassets address new dave | cut -f1)
bin/cryptoassets-dev pay "$addr" 0.5
bin/cryptoassets-dev mine 3
for _ in $(seq 100); do bin/cryptoassets account balance dave | grep -q "available 0.50000000" && break; sleep 0.2; done
bin/cryptoassets account balance dave

step "withdrawal requests: debited at once; bad ones refused and change nothing"
expect_refused() { if "$@"; then echo "demo: expected a refusal: $*" >&2; exit 1; fi; }
wid() { sed -n 's/^withdrawal \([0-9]*\) .*/\1/p' | head -1; }
expect_refused bin/cryptoassets withdraw dave "$faucet" 5
expect_refused bin/cryptoassets withdraw dave "$faucet" 100sat
expect_refused bin/cryptoassets withdraw dave bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq 0.1
echo "a request cancelled before the batcher takes it: refunded in the same transaction"
out=$(bin/cryptoassets withdraw --idempotency-key demo-w2 dave "$faucet" 0.05) && echo "$out"
w2=$(echo "$out" | wid)
bin/cryptoassets withdrawals cancel "$w2"
out=$(bin/cryptoassets withdraw --idempotency-key demo-w1 dave "$faucet" 0.1) && echo "$out"
w1=$(echo "$out" | wid)
echo "the same key again: the first withdrawal, nothing debited twice"
bin/cryptoassets withdraw --idempotency-key demo-w1 dave "$faucet" 0.1

step "withdrawals through the API (Idempotency-Key required); one over the balance refused"
token=$(bin/cryptoassets token create demo-payouts 2>/dev/null)
api() { curl -sS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' "$@"; }
base="http://$CRYPTOASSETS_HTTP_LISTEN/v1/btc/withdrawals"
field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\).*/\1/p"; }
over=$(api -X POST "$base" -H 'Idempotency-Key: demo-api-over' -d "{\"account\":\"dave\",\"address\":\"$faucet\",\"amount\":\"5\"}")
echo "$over"
case "$over" in *'"insufficient_funds"'*) ;; *) echo "demo: a withdrawal over the balance was not refused" >&2; exit 1 ;; esac
ids=("$w1")
for i in 1 2; do
	out=$(api -X POST "$base" -H "Idempotency-Key: demo-api-$i" -d "{\"account\":\"dave\",\"address\":\"$faucet\",\"amount\":\"0.0$((i + 1))\"}")
	echo "$out"
	ids+=("$(echo "$out" | field id)")
done
bin/cryptoassets account balance dave

# wait_state ID STATE: poll the API until the withdrawal is in STATE (bounded).
wait_state() {
	local out=
	for _ in $(seq 150); do
		out=$(api "$base/$1")
		case "$out" in *"\"state\":\"$2\""*) return 0 ;; esac
		sleep 0.2
	done
	echo "demo: withdrawal $1 is not $2 after 30s; the API says: $out" >&2
	echo "serve's log ends:" >&2
	tail -20 "$dir/serve.log" >&2
	exit 1
}

step "the batcher pays them: one transaction, change to a fresh hot address, signed with the hot key, opened, sent"
for id in "${ids[@]}"; do wait_state "$id" broadcast; done
bin/cryptoassets withdrawals list
bin/cryptoassets batches list
bin/cryptoassets broadcasts list

step "mined: confirmed at the asset's 3 confirmations, booked out of the hot wallet"
bin/cryptoassets-dev mine 3
for id in "${ids[@]}"; do wait_state "$id" confirmed; done
batch=$(api "$base/${ids[0]}" | field batch_id)
bin/cryptoassets batches show "$batch"

step "the chain's proof: each withdrawal's txid and vout, and the node's own view of that output"
for id in "${ids[@]}"; do
	out=$(api "$base/$id")
	echo "$out"
	bin/cryptoassets-dev txout "$(echo "$out" | field txid)" "$(echo "$out" | field vout)"
done
bin/cryptoassets withdrawals show "${ids[0]}"
bin/cryptoassets coins list --wallet hot --state unspent
bin/cryptoassets account balance dave
echo "the events an integrator follows:"
bin/cryptoassets events list --limit 1000 | grep -E 'withdrawal\.(requested|cancelled|batched|broadcast|confirmed)' | cut -c1-220
bin/cryptoassets ledger check
stop_serve

step "the air-gapped signer: restore a cold seed (regtest test mnemonic), write its policy"
signer=(bin/cryptoassets-signer --dir "$dir/signer")
hot=$(sed -n 's/^hot_wallet_descriptor = "\(.*\)"$/\1/p' "$dir/cryptoassets.toml")
echo "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong" |
	"${signer[@]}" --passphrase-fd 3 restore --network regtest --hot-wallet-descriptor "$hot" 3<<<"demo passphrase"
cold=$("${signer[@]}" --passphrase-fd 3 xpub 3<<<"demo passphrase")
echo "cold wallet account key: $cold"

step "the online side funds the cold wallet, follows it, and exports a top-up: its cold coins reserved until it is imported, cancelled or expired"
bin/cryptoassets-dev demo topup --cold-descriptor "$cold" --out "$dir/topup.psbt"

step "on the signer: inspect, verify against seed and policy, sign, hand back as QR frames"
"${signer[@]}" inspect --network regtest "$dir/topup.psbt"
"${signer[@]}" --passphrase-fd 3 sign --yes --qr-dir "$dir/signed-frames" --format ur --tx-out "$dir/topup.tx.hex" "$dir/topup.psbt" 3<<<"demo passphrase"

step "the online side scans the frames: only the exported top-up, every input verified, then broadcast: recorded before (opened) and after (closed)"
bin/cryptoassets cold import $(printf -- '--qr %s ' "$dir"/signed-frames/*.png)
bin/cryptoassets-dev mine 1
bin/cryptoassets broadcasts list
bin/cryptoassets broadcasts resolve

step "stop"
cleanup
trap - EXIT
echo "demo finished"
