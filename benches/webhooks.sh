#!/bin/sh
# Webhooks (issue 15): pbx's webhook worker against a local receiver
# (benches/webhook_receiver.py, asyncio HTTP/1.1 keep-alive, 200 to all).
#
# 1. Throughput: BACKLOG outbox rows (BACKLOG/5 calls of 5 events) are written
#    into the running server's store at once; deliveries/s = BACKLOG / time
#    until the receiver has them all (enrich + fan out + sign + POST + record).
# 2. Pop latency under load: sipp calls (b2b_uac -> bob, a sipp UAS ringing
#    at once) at RATE calls/s for CALLS calls; for every call, the time from
#    INVITE arrival (the call's `call.created` time) to the receiver getting
#    its `call.ringing` pop; p50/p99/max. The subscription takes every event
#    (EVENTS, default `*`), so pops compete with the calls' other events.
#
#   benches/webhooks.sh [RATE] [CALLS] [BACKLOG]   # default 200 calls/s, 2000 calls, 20000 rows
#   EVENTS=call.ringing benches/webhooks.sh 1000 10000   # the pop only (no backlog phase)
#   PER_SUB=32 benches/webhooks.sh 1000 10000           # attempts in flight per subscription
#
# Uses target/release/pbx (or $PBX), ports 5560 (pbx), 5590 (UAS), 5591 (UAC),
# 9570 (receiver), relay ports 30000-65000, a scratch dir under /tmp. Bounded:
# CALLS calls, sipp's 120 s timeout, the receiver stops after 300 s.
set -eu
ulimit -n 262144 2>/dev/null || ulimit -n 65536 2>/dev/null || true
RATE=${1:-200}
CALLS=${2:-2000}
BACKLOG=${3:-20000}
EVENTS=${EVENTS:-*}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PBX=${PBX:-${CARGO_TARGET_DIR:-$ROOT/target}/release/pbx}
WORK=$(mktemp -d /tmp/pbx-webhooks-bench.XXXXXX)
cat > "$WORK/pbx.toml" <<CONF
[server]
domain = "127.0.0.1"
listen = ["udp:127.0.0.1:5560"]
data_dir = "$WORK/data"
transaction_linger_secs = 5
[auth]
register = false
[security]
trusted = ["127.0.0.0/8"]
ban_threshold = 1000000
[calls]
engine = "b2bua"
[media]
anchor = "always"
address = "127.0.0.1"
port_min = 30000
port_max = 65000
endpoint_port_min = 8000
endpoint_port_max = 8799
[metrics]
listen = "off"
[[users]]
name = "bob"
password = "bob-bench"
[[webhooks]]
name = "bench"
url = "http://127.0.0.1:9570/hooks"
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
events = ["$EVENTS"]
masked = false
[webhook_delivery]
per_subscription = ${PER_SUB:-8}
concurrency = ${PER_SUB:-8}
CONF
python3 "$ROOT/benches/webhook_receiver.py" 9570 "$WORK/hooks.tsv" 300 &
RX=$!
"$PBX" --config "$WORK/pbx.toml" serve > "$WORK/pbx.log" 2>&1 &
PID=$!
trap 'kill $PID $RX 2>/dev/null; wait $PID 2>/dev/null || true' EXIT
sleep 2
count() { wc -l < "$WORK/hooks.tsv"; }

# 1. Throughput (only when the subscription takes every event).
if [ "$EVENTS" = "*" ]; then
python3 - "$WORK/data/pbx.sqlite" "$BACKLOG" <<'PY'
import sqlite3, sys, time, json
db, n = sys.argv[1], int(sys.argv[2])
c = sqlite3.connect(db, timeout=10)
now = int(time.time() * 1000)
rows = [("bk_%d" % i, "c%016x" % (0xb00000 + i // 5), "bench.event", now,
         json.dumps({"caller": "13812345678", "n": i})) for i in range(n)]
with c:
    c.executemany("INSERT INTO event_outbox (event_id, call_id, kind, at_ms, payload) "
                  "VALUES (?, ?, ?, ?, ?)", rows)
PY
T0=$(date +%s.%N)
i=0
while [ "$(count)" -lt "$BACKLOG" ]; do
    i=$((i + 1)); [ "$i" -lt 1200 ] || { echo "backlog not delivered in 120 s: $(count)"; break; }
    sleep 0.1
done
T1=$(date +%s.%N)
DELIVERED=$(count)
echo "backlog=$BACKLOG delivered=$DELIVERED seconds=$(awk "BEGIN{printf \"%.2f\", $T1 - $T0}") deliveries_per_s=$(awk "BEGIN{printf \"%.0f\", $DELIVERED / ($T1 - $T0)}") per_subscription=${PER_SUB:-8}"
fi

# 2. Pop latency under sipp load.
python3 - <<'PY'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
msg = ("REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKbench1\r\n"
       "Max-Forwards: 70\r\nFrom: <sip:bob@127.0.0.1>;tag=1\r\nTo: <sip:bob@127.0.0.1>\r\n"
       "Call-ID: bench-reg\r\nCSeq: 1 REGISTER\r\nContact: <sip:bob@127.0.0.1:5590>\r\n"
       "Expires: 3600\r\nContent-Length: 0\r\n\r\n" % port)
s.settimeout(2)
s.sendto(msg.encode(), ("127.0.0.1", 5560))
print("REGISTER:", s.recv(2000).split(b"\r\n")[0].decode())
PY
sipp -sf "$ROOT/fixtures/sipp/b2b_uas.xml" -i 127.0.0.1 -p 5590 -mp 6000 -m "$CALLS" \
    -nostdin -trace_err -error_file "$WORK/uas-errors.log" > "$WORK/uas.out" 2>&1 &
UAS=$!
trap 'kill $PID $RX $UAS 2>/dev/null; wait $PID 2>/dev/null || true' EXIT
sleep 0.5
set +e
sipp -sf "$ROOT/fixtures/sipp/b2b_uac.xml" -i 127.0.0.1 -p 5591 -mp 7000 -s bob -key caller caller \
    -r "$RATE" -m "$CALLS" -l 100000 -timeout 120s -timeout_error -nostdin \
    -trace_err -error_file "$WORK/uac-errors.log" 127.0.0.1:5560 > "$WORK/uac.out" 2>&1
STATUS=$?
set -e
sleep 3
python3 - "$WORK/hooks.tsv" "$RATE" "$CALLS" "$STATUS" <<'PY'
import sys
path, rate, calls, status = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
created, pop, ring = {}, {}, {}
for line in open(path):
    at, hid, kind, call, extra = line.rstrip("\n").split("\t")
    if kind == "call.created" and extra:
        created[call] = int(extra)
    elif kind == "call.ringing" and call not in pop:
        pop[call], ring[call] = int(at), int(extra)
def stats(name, lat):
    lat = sorted(lat)
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] if lat else -1
    return "%s_ms n=%d p50=%d p90=%d p99=%d max=%d" % (name, len(lat), q(0.5), q(0.9), q(0.99), lat[-1] if lat else -1)
print("rate=%s calls=%d sipp_exit=%s pops=%d" % (rate, calls, status, len(pop)))
print(stats("invite_to_pop", [pop[c] - created[c] for c in pop if c in created]))
print(stats("ring_to_pop", [pop[c] - ring[c] for c in pop]))
PY
echo "work=$WORK"
