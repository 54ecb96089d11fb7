#!/usr/bin/env bash
# CPU per operation of `pbx serve` and Kamailio at FIXED rates, same machine, same run.
#
# Usage: benches/cpu_per_op.sh [SCENARIO...]
#   SCENARIO: register_auth (digest REGISTER, 401 + 200) and/or uac_rr (proxied calls);
#             default: both.
# Environment:
#   REG_RATE=3000    REGISTERs/s offered in register_auth (sipp -r)
#   CALL_RATE=500    calls/s offered in uac_rr
#   DURATION=8       seconds of load per server and scenario (bounded: sipp -m RATE*DURATION)
#   PBX=path         pbx binary to measure (default: cargo build --release -p pbx)
#   ROUNDS=1         repeat each scenario (pbx, then Kamailio, per round)
#   BENCH_DIR        the shared sipp/Kamailio kit (default ../shared/bench)
#
# For every server and scenario: start it from an EMPTY data directory (pbx) or a
# fresh Kamailio, read the CPU time (utime + stime of every thread; for Kamailio of
# the main process and all its children) from /proc/PID/stat right before and
# right after the sipp run, and print CPU-ms per 1,000 successful operations
# (a REGISTER = one registration with its challenge round trip; a call =
# INVITE..BYE) and the ratio pbx / Kamailio. One JSON line per scenario and round
# is appended to target-bench/cpu_per_op.jsonl.
# The clock tick is 10 ms; on a shared 2-core VM compare ratios from one run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bench=${BENCH_DIR:-$root/../shared/bench}
[ -x "$bench/run-sipp.sh" ] || { echo "run-sipp.sh not found in $bench (set BENCH_DIR)" >&2; exit 2; }
command -v sipp >/dev/null || { echo "sipp missing (apt-get install -y sip-tester)" >&2; exit 2; }
command -v kamailio >/dev/null || { echo "kamailio missing (apt-get install -y kamailio)" >&2; exit 2; }

scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(register_auth uac_rr)
reg_rate=${REG_RATE:-3000}
call_rate=${CALL_RATE:-500}
duration=${DURATION:-8}
rounds=${ROUNDS:-1}

if [ -z "${PBX:-}" ]; then
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/cache/pbx-target}
    cargo build --release --quiet -p pbx --manifest-path "$root/Cargo.toml"
    PBX=$CARGO_TARGET_DIR/release/pbx
fi
out_dir=${OUT_DIR:-$root/target-bench}
mkdir -p "$out_dir"
tck=$(getconf CLK_TCK)
pbx_port=$(python3 "$bench/lib/benchlib.py" free-port)

pid="" data="" kam_state=""
cleanup() {
    if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    pid=""
    if [ -n "$kam_state" ]; then "$bench/kamailio/stop-kamailio.sh" "$kam_state" >&2 || true; fi
    kam_state=""
    if [ -n "$data" ]; then rm -rf "$data"; fi
    data=""
}
trap cleanup EXIT INT TERM

# CPU ticks (utime + stime) of PID and, with "tree", of all its descendants.
cpu_ticks() { # PID [tree]
    python3 - "$1" "${2:-}" <<'PY'
import os, sys
root, tree = int(sys.argv[1]), sys.argv[2] == "tree"
procs = {}
for d in os.listdir("/proc"):
    if d.isdigit():
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        rest = s[s.rindex(")") + 2:].split()
        procs[int(d)] = (int(rest[1]), int(rest[11]) + int(rest[12]))  # ppid, utime+stime
want = {root}
if tree:
    grew = True
    while grew:
        grew = False
        for p, (pp, _) in procs.items():
            if pp in want and p not in want:
                want.add(p); grew = True
print(sum(procs[p][1] for p in want if p in procs))
PY
}

start_pbx() { # SCENARIO -> sets pid, data
    data=$(mktemp -d "${TMPDIR:-/tmp}/pbx-cpu-data.XXXXXX")
    local config="$data/bench.toml"
    # fixtures/bench.toml with a fresh data dir, a free port and no metrics listener.
    sed -e "s|^data_dir = .*|data_dir = \"$data\"|" \
        -e "s|127.0.0.1:5060|127.0.0.1:$pbx_port|g" \
        -e '/^\[metrics\]/,$d' "$root/fixtures/bench.toml" > "$config"
    "$PBX" --config "$config" users import "$bench/users.csv" >/dev/null
    PBX_LOG=warn "$PBX" --config "$config" serve > "$out_dir/cpu-pbx-$1.log" 2>&1 &
    pid=$!
    for _ in $(seq 50); do
        python3 "$bench/lib/benchlib.py" ping 127.0.0.1 "$pbx_port" 0.3 >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "pbx did not answer OPTIONS on 127.0.0.1:$pbx_port" >&2; return 1
}

# measure SCENARIO TARGET PID TREE RATE -> prints "cpu_ms successful json"
measure() {
    local scenario=$1 target=$2 p=$3 tree=$4 rate=$5 before after json ok
    python3 "$bench/lib/benchlib.py" wait-idle 10 15 1 >/dev/null || true
    before=$(cpu_ticks "$p" "$tree")
    json=$(UAS_PORT=5090 UAS_USER=uas5090 "$bench/run-sipp.sh" "$scenario" "$target" "$rate" "$duration" | tail -1)
    after=$(cpu_ticks "$p" "$tree")
    ok=$(python3 "$bench/lib/benchlib.py" get "$json" successful)
    echo "$(( (after - before) * 1000 / tck )) $ok $json"
}

for round in $(seq "$rounds"); do
for s in "${scenarios[@]}"; do
    case $s in
        register_auth) rate=$reg_rate mode=auth ;;
        uac_rr) rate=$call_rate mode=proxy ;;
        *) echo "unknown scenario $s (register_auth, uac_rr)" >&2; exit 2 ;;
    esac
    start_pbx "$s"
    read -r p_ms p_ok p_json < <(measure "$s" "127.0.0.1:$pbx_port" "$pid" "" "$rate")
    cleanup
    read -r kam_state kam_pid kam_port < <("$bench/kamailio/start-kamailio.sh" "$mode" 0)
    read -r k_ms k_ok k_json < <(measure "$s" "127.0.0.1:$kam_port" "$kam_pid" tree "$rate")
    cleanup
    python3 - "$s" "$rate" "$duration" "$round" "$p_ms" "$p_ok" "$k_ms" "$k_ok" "$p_json" "$k_json" <<'PY' | tee -a "$out_dir/cpu_per_op.jsonl"
import json, sys
s, rate, dur, rnd, p_ms, p_ok, k_ms, k_ok, pj, kj = sys.argv[1:]
p_ms, k_ms, p_ok, k_ok = int(p_ms), int(k_ms), int(float(p_ok or 0)), int(float(k_ok or 0))
per = lambda ms, ok: round(ms * 1000 / ok, 1) if ok else None
pp, kk = per(p_ms, p_ok), per(k_ms, k_ok)
pj, kj = json.loads(pj), json.loads(kj)
out = {"scenario": s, "rate": float(rate), "duration_s": int(dur), "round": int(rnd),
       "pbx": {"cpu_ms": p_ms, "ops": p_ok, "cpu_ms_per_1k": pp, "failed": pj.get("failed"),
               "retransmissions": pj.get("retransmissions")},
       "kamailio": {"cpu_ms": k_ms, "ops": k_ok, "cpu_ms_per_1k": kk, "failed": kj.get("failed"),
                    "retransmissions": kj.get("retransmissions")},
       "ratio": round(pp / kk, 3) if pp and kk else None}
print(json.dumps(out))
print(f"{s} @ {rate}/s x {dur}s: pbx {pp} CPU-ms/1k ({p_ok} ok, {pj.get('failed')} failed), "
      f"kamailio {kk} CPU-ms/1k ({k_ok} ok, {kj.get('failed')} failed), ratio {out['ratio']}",
      file=sys.stderr)
PY
done
done
