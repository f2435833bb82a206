#!/usr/bin/env bash
# make demo: the whole story against a PostgreSQL cluster and a btcd regtest
# node that the demo starts itself (under .demo/) and stops at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=.demo
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
serve_pid=
stop_serve() { if [ -n "$serve_pid" ]; then kill -TERM "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; serve_pid=; fi; }
# The signer's keystore is apart from the service's files, as on its own laptop.
airgap=$(mktemp -d -t cryptoassets-airgap-XXXXXX)
cleanup() { stop_serve; bin/cryptoassets-dev down --dir "$dir" >/dev/null 2>&1 || true; rm -rf "$dir" "$airgap"; }
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

step "the air-gapped signer, its keystore in a directory of its own: restore the cold seed (a regtest test mnemonic), write its policy (a top-up may pay only the hot wallet)"
signer=(bin/cryptoassets-signer --dir "$airgap")
hot=$(sed -n 's/^hot_wallet_descriptor = "\(.*\)"$/\1/p' "$dir/cryptoassets.toml")
echo "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong" |
	"${signer[@]}" --passphrase-fd 3 restore --network regtest --hot-wallet-descriptor "$hot" 3<<<"demo cold passphrase"
cold=$("${signer[@]}" --passphrase-fd 3 xpub 3<<<"demo cold passphrase")
echo "the cold wallet's account key, carried to the server: $cold"

step "serve: the API, the follower, webhooks, the batcher and the cold keeper; it unlocks the hot keystore and checks the node's network and the server's durability"
# The demo batches quickly (a withdrawal waits at most 2s, three at once go
# at once) and keeps the hot wallet between 0.3 and 1.5 BTC, checked every
# second: above 1.5 the keeper sweeps down to 1 BTC to cold, below 0.3 it
# exports a top-up up to 1 BTC for the signer.
# Customers pay a flat 0.0002 BTC per withdrawal, which covers the network
# fees of the batches, the sweep and the top-up: the reserve stays whole.
cat >>"$dir/cryptoassets.toml" <<EOF
withdrawal_fee_sat = 20000
batch_interval = "2s"
batch_threshold_count = 3
cold_wallet_descriptor = "$cold"
hot_floor_sat = 30000000
hot_target_sat = 100000000
hot_ceiling_sat = 150000000
cold_export_dir = "$PWD/$dir/exports"
cold_check_interval = "1s"

[election]
instance = "demo-a"
lease = "3s"
EOF
sed -n '/^withdrawal_fee_sat/,$p' "$dir/cryptoassets.toml"
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
# wait_batch KIND STATE: the id of the newest batch of KIND in STATE (bounded wait).
wait_batch() {
	local id=
	for _ in $(seq 150); do
		id=$(bin/cryptoassets batches list | awk -v k="$1" -v s="$2" '$2 == k && $3 == s { print $1; exit }')
		if [ -n "$id" ]; then echo "$id" && return 0; fi
		sleep 0.2
	done
	echo "demo: no $1 batch is $2 after 30s" >&2
	bin/cryptoassets batches list >&2
	tail -20 "$dir/serve.log" >&2
	return 1
}
# wait_batch_state ID STATE: wait until batch ID is in STATE (bounded).
wait_batch_state() {
	for _ in $(seq 150); do
		[ "$(bin/cryptoassets batches list | awk -v id="$1" '$1 == id { print $3 }')" = "$2" ] && return 0
		sleep 0.2
	done
	echo "demo: batch $1 is not $2 after 30s" >&2
	bin/cryptoassets batches list >&2
	tail -20 "$dir/serve.log" >&2
	exit 1
}

step "a merchant's large deposit lifts the hot wallet above its 1.5 BTC ceiling"
bin/cryptoassets account create erin
addr=$(bin/cryptoassets address new erin | cut -f1)
bin/cryptoassets-dev pay "$addr" 1.2
bin/cryptoassets-dev mine 3
for _ in $(seq 100); do bin/cryptoassets account balance erin | grep -q "available 1.20000000" && break; sleep 0.2; done
bin/cryptoassets account balance erin

step "serve's cold keeper sweeps everything above the 1 BTC target to a fresh cold address: built and signed with the hot key, sent through the broadcaster"
sweep=$(wait_batch sweep broadcast)
grep "swept to cold" "$dir/serve.log" | cut -c1-300
bin/cryptoassets batches show "$sweep"

step "the sweep mined: confirmed at 3 confirmations, booked hot -> cold; the cold wallet's coin followed"
bin/cryptoassets-dev mine 3
wait_batch_state "$sweep" confirmed
bin/cryptoassets batches list
bin/cryptoassets coins list --wallet cold
bin/cryptoassets coins balance
bin/cryptoassets events list --limit 1000 | grep -E 'sweep\.' | cut -c1-220
bin/cryptoassets ledger check

step "erin withdraws 0.9 BTC: the hot wallet's free coins fall below its 0.3 BTC floor"
out=$(bin/cryptoassets withdraw --idempotency-key demo-w3 erin "$faucet" 0.9) && echo "$out"
w3=$(echo "$out" | wid)

step "the keeper exports a top-up up to the target: cold coins reserved, the unsigned PSBT written as files and QR frames (cold.topup_exported: a signing ceremony is due)"
# The ceremony starts from the event, as an integrator sees it: it comes
# once the files it names are written.
ev=
for _ in $(seq 150); do
  ev=$(bin/cryptoassets events list --limit 1000 | grep "$(printf '\tcold.topup_exported\t')" | tail -n 1) && [ -n "$ev" ] && break
  sleep 0.2
done
[ -n "$ev" ] || { echo "no cold.topup_exported event" >&2; exit 1; }
echo "$ev" | cut -c1-300
topup=$(echo "$ev" | grep -o '"batch_id":[0-9]*' | cut -d: -f2)
files=$(echo "$ev" | grep -o '"files":\[[^]]*\]' | sed 's/^"files":\[//; s/\]$//' | tr ',' '\n' | tr -d '"')
for f in $files; do [ -e "$f" ] || { echo "the event names $f, which is not there" >&2; exit 1; }; done
frames=$(echo "$files" | grep -- '-ur$')
ls "$dir/exports" "$frames"
bin/cryptoassets cold list
bin/cryptoassets cold show "$topup"
echo "meanwhile the batcher pays erin from the hot coins left:"
wait_state "$w3" broadcast
bin/cryptoassets-dev mine 3
wait_state "$w3" confirmed
bin/cryptoassets withdrawals show "$w3"

step "to the air-gapped laptop: its camera reads the top-up's UR frames (copied as image files); inspect them without keys"
mkdir -p "$airgap/from-server"
cp "$frames"/*.png "$airgap/from-server/"
"${signer[@]}" inspect --network regtest $(printf -- '--qr %s ' "$airgap"/from-server/*.png)

step "on the signer: verify against its seed and policy, sign, answer as QR frames"
"${signer[@]}" --passphrase-fd 3 sign --yes $(printf -- '--qr %s ' "$airgap"/from-server/*.png) --qr-dir "$airgap/signed" --format ur 3<<<"demo cold passphrase"
ls "$airgap/signed"

step "back online, cold import scans the signer's frames (any order): only the exported top-up, still open, every input verified; then broadcast, recorded before (opened) and after (closed)"
bin/cryptoassets cold import $(printf -- '--qr %s ' $(ls -r "$airgap"/signed/*.png))
wait_batch_state "$topup" broadcast
bin/cryptoassets broadcasts list

step "the top-up mined: confirmed at 3 confirmations, booked cold -> hot"
bin/cryptoassets-dev mine 3
wait_batch_state "$topup" confirmed
bin/cryptoassets cold show "$topup"
bin/cryptoassets cold list
bin/cryptoassets batches list
bin/cryptoassets events list --limit 1000 | grep -E 'sweep\.|cold\.topup_' | cut -c1-220

step "balances: the hot wallet back between its floor and ceiling, the rest cold; the audit checks every coin against the node and prints the reserve ratio"
bin/cryptoassets coins balance
for _ in $(seq 20); do out=$(bin/cryptoassets audit 2>&1) && case "$out" in *"no mismatches"*) break ;; esac; sleep 0.5; done
echo "$out"
case "$out" in *"no mismatches"*) ;; *) echo "demo: the audit did not pass" >&2; exit 1 ;; esac
bin/cryptoassets ledger check

step "several servers on one database: a second serve answers the API too; each worker (follower, payments, audit, webhooks) runs on one of them, elected through a lease row in PostgreSQL"
sed 's/^instance = "demo-a"$/instance = "demo-b"/' "$dir/cryptoassets.toml" >"$dir/cryptoassets-b.toml"
listen_b="127.0.0.1:$((40000 + RANDOM % 20000))"
CRYPTOASSETS_CONFIG="$dir/cryptoassets-b.toml" CRYPTOASSETS_HTTP_LISTEN="$listen_b" bin/cryptoassets serve >"$dir/serve-b.log" 2>&1 &
serve_b_pid=$!
for _ in $(seq 100); do grep -q "API listening" "$dir/serve-b.log" && break; sleep 0.1; done
echo "demo-b: /healthz $(curl -sS -o /dev/null -w '%{http_code}' "http://$listen_b/healthz"), /readyz $(curl -sS -o /dev/null -w '%{http_code}' "http://$listen_b/readyz")"
bin/cryptoassets status
echo "demo-b's /metrics: the cluster's leases, as every instance sees them"
curl -sS "http://$listen_b/metrics" | grep -E '^cryptoassets_election_leader' || { echo "demo: no election metrics on /metrics" >&2; exit 1; }

step "demo-a stopped: demo-b takes its workers over within lease + renew_interval, and its follower credits the next deposit"
stop_serve
serve_pid=$serve_b_pid
for _ in $(seq 100); do case "$(bin/cryptoassets status)" in *demo-a*) sleep 0.2 ;; *) break ;; esac; done
bin/cryptoassets status
case "$(bin/cryptoassets status)" in *demo-a*) echo "demo: demo-b did not take every worker over" >&2; exit 1 ;; esac
addr=$(bin/cryptoassets address new dave | cut -f1)
before=$(bin/cryptoassets account balance dave)
bin/cryptoassets-dev pay "$addr" 0.01
bin/cryptoassets-dev mine 3
for _ in $(seq 100); do [ "$(bin/cryptoassets account balance dave)" != "$before" ] && break; sleep 0.2; done
bin/cryptoassets account balance dave
bin/cryptoassets ledger check

step "stop"
cleanup
trap - EXIT
echo "demo finished"
