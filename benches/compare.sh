#!/usr/bin/env bash
# End-to-end load benchmarks of `pbx serve` against Kamailio, same machine, same run,
# through ../shared/bench/compare.sh (sipp load, ramp to the highest clean rate).
#
# Usage: benches/compare.sh [SCENARIO...] [-- BUDGET_S]
#   SCENARIO: register_noauth register_auth uac_rr (default: all three)
#   BUDGET_S: ramp budget per server and scenario (default 60)
#   PBX=path: pbx binary to measure (default: cargo build --release -p pbx)
# Prints one JSON line per scenario (see ../shared/bench/README.md) and a summary.
# Needs: sip-tester and kamailio (apt-get install -y sip-tester kamailio).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bench=${BENCH_DIR:-$root/../shared/bench}
[ -x "$bench/compare.sh" ] || { echo "compare.sh not found in $bench (set BENCH_DIR)" >&2; exit 2; }
budget=60
scenarios=()
while [ $# -gt 0 ]; do
    case $1 in
        --) budget=${2:-60}; shift $# ;;
        *) scenarios+=("$1"); shift ;;
    esac
done
[ ${#scenarios[@]} -gt 0 ] || scenarios=(register_noauth register_auth uac_rr)

if [ -n "${PBX:-}" ]; then
    pbx=$PBX
else
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/cache/pbx-target}
    cargo build --release --quiet -p pbx --manifest-path "$root/Cargo.toml"
    pbx=$CARGO_TARGET_DIR/release/pbx
fi
out_dir=${OUT_DIR:-$root/target-bench}
mkdir -p "$out_dir"

pid=""
stop() { [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; pid=""; }
trap stop EXIT INT TERM

start() { # config
    local config=$1 data
    data=$(sed -n 's/^data_dir = "\(.*\)"/\1/p' "$config")
    rm -rf "$data"
    "$pbx" --config "$config" users import "$bench/users.csv" >/dev/null
    PBX_LOG=warn "$pbx" --config "$config" serve > "$out_dir/pbx-$(basename "$config" .toml).log" 2>&1 &
    pid=$!
    for _ in $(seq 50); do
        python3 "$bench/lib/benchlib.py" ping 127.0.0.1 5060 0.3 >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "pbx did not answer OPTIONS on 127.0.0.1:5060" >&2; return 1
}

for s in "${scenarios[@]}"; do
    case $s in
        register_noauth) config=$root/fixtures/bench-noauth.toml; env=() ;;
        register_auth) config=$root/fixtures/bench.toml; env=() ;;
        uac_rr) config=$root/fixtures/bench.toml; env=(UAS_PORT=5090 UAS_USER=uas5090) ;;
        *) echo "unknown scenario $s" >&2; exit 2 ;;
    esac
    start "$config"
    line=$(env "${env[@]}" "$bench/compare.sh" 127.0.0.1:5060 "$s" ramp "$budget" | tail -1)
    stop
    echo "$line" | tee -a "$out_dir/results.jsonl"
    python3 - "$line" <<'PY' || true
import json, sys
d = json.loads(sys.argv[1])
p, k = d["project"].get("max_clean_cps"), d["kamailio"].get("max_clean_cps")
print(f"{d['scenario']}: pbx {p}/s, kamailio {k}/s, ratio {d.get('ratio')}")
PY
done
