#!/bin/sh
# Call-record API load (issue 15): a store of RECORDS synthetic call records
# (default 1,000,000 over 30 days, with legs, queue events, recordings;
# pbx-core's `records_gen` example), a release `pbx serve` over it, and wrk
# against GET /api/v1/records with typical filters, one run per query.
# Prints requests/s and latency per query.
#
#   benches/records_api.sh [RECORDS] [SECONDS] [CONNECTIONS]   # default 1000000 10 16
#
# Uses $PBX (default target/release/pbx) and target/release/examples/records_gen
# (cargo build --release -p pbx --bin pbx; cargo build --release -p pbx-core
# --example records_gen), ports 5565 (SIP) and 9565 (HTTP), the store cached
# in /var/cache/pbx-records-bench (reused while RECORDS is the same). Bounded:
# SECONDS per query, 7 queries.
set -eu
RECORDS=${1:-1000000}
SECS=${2:-10}
CONNS=${3:-16}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
PBX=${PBX:-$TARGET/release/pbx}
GEN=${GEN:-$TARGET/release/examples/records_gen}
CACHE=${PBX_RECORDS_BENCH_DIR:-/var/cache/pbx-records-bench}
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }
mkdir -p "$CACHE/data"
if [ "$(cat "$CACHE/records" 2>/dev/null)" != "$RECORDS" ]; then
    rm -f "$CACHE"/data/pbx.sqlite*
    "$GEN" "$CACHE/data/pbx.sqlite" "$RECORDS" 30
    echo "$RECORDS" > "$CACHE/records"
fi
cat > "$CACHE/pbx.toml" <<CONF
[server]
domain = "127.0.0.1"
listen = ["udp:127.0.0.1:5565"]
data_dir = "$CACHE/data"
[calls]
engine = "b2bua"
[metrics]
listen = "127.0.0.1:9565"
CONF
"$PBX" serve --config "$CACHE/pbx.toml" > "$CACHE/pbx.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null' EXIT
i=0
until curl -sf -o /dev/null http://127.0.0.1:9565/metrics; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "pbx did not start" >&2; cat "$CACHE/pbx.log" >&2; exit 1; }
    sleep 0.1
done
"$PBX" --config "$CACHE/pbx.toml" tokens revoke bench-agent >/dev/null 2>&1 || true
"$PBX" --config "$CACHE/pbx.toml" tokens revoke bench-admin >/dev/null 2>&1 || true
NAME=$(date +%s)
AGENT=$("$PBX" --config "$CACHE/pbx.toml" tokens create --name "bench-agent-$NAME" --scope read --agent 1042 2>/dev/null)
ADMIN=$("$PBX" --config "$CACHE/pbx.toml" tokens create --name "bench-admin-$NAME" --scope read,admin,numbers 2>/dev/null)
NOW=$(($(date +%s) * 1000))
WEEK=$((NOW - 7 * 86400000))
CALLER=$(curl -sf -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:9565/api/v1/records?scope=all&direction=inbound&limit=1" | sed -n 's/.*"caller":"\([0-9]*\)".*/\1/p')
echo "records: $RECORDS; wrk ${SECS}s, $CONNS connections, 2 threads; $(nproc) cores; commit $(git -C "$ROOT" rev-parse --short HEAD)"
run() {
    label=$1; token=$2; query=$3
    out=$(wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -H "Authorization: Bearer $token" "http://127.0.0.1:9565/api/v1/records?$query")
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
    printf '%-44s %10s req/s  p50 %8s  p99 %8s  non-2xx %s\n' "$label" "$rps" "$p50" "$p99" "${non2xx:-0}"
}
run "my calls today (agent token, default)" "$AGENT" ""
run "all calls today, page of 10" "$ADMIN" "scope=all"
run "7 days, inbound answered, skill group" "$ADMIN" "scope=all&from_ms=$WEEK&to_ms=$NOW&direction=inbound&outcome=answered&skill_group=sales"
run "30 days, agent 1042, limit 50" "$ADMIN" "from_ms=0&to_ms=$NOW&agent=1042&limit=50"
run "all time, caller exact" "$ADMIN" "scope=all&from_ms=0&to_ms=$NOW&caller=$CALLER"
run "7 days, recorded, 60-300 s" "$ADMIN" "scope=all&from_ms=$WEEK&to_ms=$NOW&has_recording=true&min_duration_s=60&max_duration_s=300"
run "7 days, missed in support, page 100" "$ADMIN" "scope=all&from_ms=$WEEK&to_ms=$NOW&outcome=missed&skill_group=support&limit=100"
