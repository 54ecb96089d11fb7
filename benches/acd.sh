#!/bin/sh
# Contact-center load (issue 13): sipp callers -> queue 600 of pbx (B2BUA,
# media anchored, callers answered with music by pbx's media endpoints) ->
# AGENTS logged-in agents whose registered contacts all point at one sipp
# UAS that answers every offer. Each call waits in the queue until the ACD
# offers it, rings its agent, is bridged, talks HOLD_MS and hangs up; agents
# have no wrap-up. Prints the rate, sipp's verdict and the records' dispositions.
#
#   benches/acd.sh [RATE] [CALLS] [AGENTS]     # default 200 calls/s, 2000 calls, 200 agents
#   HOLD_MS=500 benches/acd.sh 400 4000 300
#   HOLD_MS=12000 benches/acd.sh 200 2400 0      # nobody logged in: 2,400 callers wait with
#                                                # music at once, then give up (abandons)
#
# Uses target/release/pbx (or $PBX), ports 5560 (pbx), 5590 (agents' UAS),
# 5591 (callers), 9560 (admin API); HOLD_MS (default 1200) is the caller's whole
# call after pbx answers it with music, queue wait included: callers still waiting
# at the end of it abandon (see the stats), relay ports 30000-65000 (endpoints
# 10000-19999: music for up to 5,000 waiting callers), a scratch dir under /tmp. Bounded: CALLS calls, sipp's 120 s timeout.
set -eu
ulimit -n 262144 2>/dev/null || ulimit -n 65536 2>/dev/null || true
RATE=${1:-200}
CALLS=${2:-2000}
AGENTS=${3:-200}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PBX=${PBX:-${CARGO_TARGET_DIR:-$ROOT/target}/release/pbx}
WORK=$(mktemp -d /tmp/pbx-acd-bench.XXXXXX)
{
cat <<CONF
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
endpoint_port_min = 10000
endpoint_port_max = 19999
prompts_dir = "$ROOT/fixtures/prompts"
[metrics]
listen = "127.0.0.1:9560"
[[dialplan]]
extension = "600"
type = "queue"
queue = "support"
[[queues]]
name = "support"
ring_timeout_s = 10
wrap_up_s = 0
retry_delay_s = 1
CONF
i=0
while [ "$i" -lt "$AGENTS" ]; do
    printf '[[agents]]\nname = "a%d"\nskills = ["support:5"]\n[[users]]\nname = "a%d"\npassword = "bench"\n' "$i" "$i"
    i=$((i + 1))
done
} > "$WORK/pbx.toml"
"$PBX" --config "$WORK/pbx.toml" serve > "$WORK/pbx.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null || true' EXIT
# Up once the admin API has written its token (a previous run may still be stopping).
i=0
until [ -s "$WORK/data/admin-token" ] && ss -ltn | grep -q 127.0.0.1:9560; do
    i=$((i + 1)); [ "$i" -lt 100 ] || { echo "pbx did not start:"; tail -5 "$WORK/pbx.log"; exit 1; }
    sleep 0.1
done
# Every agent registers a contact at the UAS and logs in.
python3 - "$AGENTS" "$WORK/data/admin-token" <<'PY'
import socket, sys, urllib.request
agents, token = int(sys.argv[1]), open(sys.argv[2]).read().strip()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0)); s.settimeout(2)
port = s.getsockname()[1]
for i in range(agents):
    msg = ("REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKa%d\r\n"
           "Max-Forwards: 70\r\nFrom: <sip:a%d@127.0.0.1>;tag=1\r\nTo: <sip:a%d@127.0.0.1>\r\n"
           "Call-ID: bench-reg-%d\r\nCSeq: 1 REGISTER\r\nContact: <sip:a%d@127.0.0.1:5590>\r\n"
           "Expires: 3600\r\nContent-Length: 0\r\n\r\n" % (port, i, i, i, i, i))
    s.sendto(msg.encode(), ("127.0.0.1", 5560))
    assert s.recv(2000).startswith(b"SIP/2.0 200"), "REGISTER of a%d" % i
    req = urllib.request.Request("http://127.0.0.1:9560/agents/a%d/login" % i, method="POST",
                                 headers={"Authorization": "Bearer " + token})
    urllib.request.urlopen(req, timeout=5).read()
print("agents registered and logged in:", agents)
PY
sipp -sf "$ROOT/fixtures/sipp/b2b_uas.xml" -i 127.0.0.1 -p 5590 -mp 6000 -m "$CALLS" \
    -nostdin -trace_err -error_file "$WORK/uas-errors.log" > "$WORK/uas.out" 2>&1 &
UAS=$!
trap 'kill $PID $UAS 2>/dev/null; wait $PID 2>/dev/null || true' EXIT
sleep 0.5
IDLE_KB=$(awk '/VmRSS/ {print $2}' /proc/$PID/status)
CPU0=$(awk '{print $14 + $15}' /proc/$PID/stat)
START=$(date +%s.%N)
sed "s/<pause milliseconds=\"1200\"\/>/<pause milliseconds=\"${HOLD_MS:-1200}\"\/>/" \
    "$ROOT/fixtures/sipp/b2b_uac.xml" > "$WORK/uac.xml"
set +e
sipp -sf "$WORK/uac.xml" -i 127.0.0.1 -p 5591 -mp 7000 -s 600 -key caller caller \
    -r "$RATE" -m "$CALLS" -l 100000 -timeout 120s -timeout_error -nostdin \
    -trace_stat -stf "$WORK/uac-stat.csv" -trace_err -error_file "$WORK/uac-errors.log" \
    127.0.0.1:5560 > "$WORK/uac.out" 2>&1
STATUS=$?
set -e
END=$(date +%s.%N)
CPU1=$(awk '{print $14 + $15}' /proc/$PID/stat)
ELAPSED=$(awk "BEGIN{printf \"%.2f\", $END - $START}")
PEAK_KB=$(awk '/VmHWM/ {print $2}' /proc/$PID/status)
TICKS=$(getconf CLK_TCK)
CPU_MS=$(awk "BEGIN{printf \"%.0f\", ($CPU1 - $CPU0) * 1000 / $TICKS}")
echo "rate=$RATE calls=$CALLS agents=$AGENTS sipp_exit=$STATUS elapsed_s=$ELAPSED pbx_cpu_ms=$CPU_MS cpu_ms_per_call=$(awk "BEGIN{printf \"%.2f\", $CPU_MS / $CALLS}") idle_rss_kb=$IDLE_KB peak_rss_kb=$PEAK_KB work=$WORK"
sleep 1.5
"$PBX" --config "$WORK/pbx.toml" cdr --csv | tail -n +2 | cut -d, -f13 | sort | uniq -c
"$PBX" --config "$WORK/pbx.toml" queues stats support | grep -E "offered|answered|abandon|service level"
