#!/bin/sh
# B2BUA load (issue 5): sipp UAC -> pbx (calls.engine = "b2bua", media anchored)
# -> sipp UAS, at a fixed call rate, N calls; prints the rate and sipp's verdict.
#
#   benches/b2bua.sh [RATE] [CALLS]        # default 200 calls/s, 2000 calls
#   HOLD_MS=20000 benches/b2bua.sh 500 4000   # memory per live call: all 4000 up at once
#
# Uses target/release/pbx (or $PBX), ports 5560 (pbx), 5590 (UAS), 5591 (UAC),
# relay ports 30000-65000 (endpoints 8000-8799), and a scratch dir under /tmp. sipp sends no RTP here:
# the numbers are signalling + relay set-up/tear-down, not media forwarding.
set -eu
# 4 relay sockets per call: raise the descriptor limit (20,000 here by default).
ulimit -n 262144 2>/dev/null || ulimit -n 65536 2>/dev/null || true
RATE=${1:-200}
CALLS=${2:-2000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PBX=${PBX:-${CARGO_TARGET_DIR:-$ROOT/target}/release/pbx}
WORK=$(mktemp -d /tmp/pbx-b2bua-bench.XXXXXX)
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
CONF
${PERF:-} "$PBX" --config "$WORK/pbx.toml" serve > "$WORK/pbx.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null || true' EXIT
sleep 2
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
sipp -sf "$ROOT/fixtures/sipp/b2b_uas.xml" -i 127.0.0.1 -p 5590 -mp 6000 -rtp_echo -m "$CALLS" \
    -nostdin -trace_err -error_file "$WORK/uas-errors.log" > "$WORK/uas.out" 2>&1 &
UAS=$!
trap 'kill $PID $UAS 2>/dev/null; wait $PID 2>/dev/null || true' EXIT
sleep 0.5
IDLE_KB=$(awk '/VmRSS/ {print $2}' /proc/$PID/status)
START=$(date +%s.%N)
set +e
# HOLD_MS: how long each call stays up (the scenario's pause; default 1200 ms).
sed "s/<pause milliseconds=\"1200\"\/>/<pause milliseconds=\"${HOLD_MS:-1200}\"\/>/" \
    "$ROOT/fixtures/sipp/b2b_uac.xml" > "$WORK/uac.xml"
# RTP=1: every call also plays a short RTP stream (RFC 4733 packets from sipp's
# pcap set) after the ACK; the UAS echoes it (-rtp_echo): media flows through
# both relay legs, latching included.
if [ "${RTP:-0}" = 1 ]; then
    sed -i 's|  <pause milliseconds=|  <nop><action><exec play_pcap_audio="/usr/share/sip-tester/dtmf_2833_1.pcap"/></action></nop>\n  <pause milliseconds=|' "$WORK/uac.xml"
fi
sipp -sf "$WORK/uac.xml" -i 127.0.0.1 -p 5591 -mp 7000 -s bob -key caller caller \
    -r "$RATE" -m "$CALLS" -l 100000 -timeout 120s -timeout_error -nostdin \
    -trace_stat -stf "$WORK/uac-stat.csv" -trace_err -error_file "$WORK/uac-errors.log" \
    127.0.0.1:5560 > "$WORK/uac.out" 2>&1
STATUS=$?
set -e
END=$(date +%s.%N)
ELAPSED=$(awk "BEGIN{printf \"%.2f\", $END - $START}")
PEAK_KB=$(awk '/VmHWM/ {print $2}' /proc/$PID/status)
# Concurrent calls at the plateau: rate x call length (1.2 s UAC pause + set-up).
echo "rate=$RATE calls=$CALLS sipp_exit=$STATUS elapsed_s=$ELAPSED idle_rss_kb=$IDLE_KB peak_rss_kb=$PEAK_KB work=$WORK"
sleep 1.5   # CDRs are committed every 100 ms
echo "pbx UDP sockets after the run: $(ss -uanp | grep -c "pid=$PID,")"
"$PBX" --config "$WORK/pbx.toml" cdr --csv | tail -n +2 | cut -d, -f11 | sort | uniq -c
