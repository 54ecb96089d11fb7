#!/usr/bin/env bash
# WebRTC bridge load (issue 17): N concurrent calls anchored the way the
# B2BUA anchors them, 20 ms PCMU packets both ways for a bounded time, over
# loopback, in three modes one after another in the same run:
#   webrtc    — the caller is a browser (str0m peer: ICE, DTLS, SRTP), the
#               callee plain RTP: pbx's WebRTC side + relay
#   plain     — both plain RTP: pbx's relay alone
#   rtpengine — both plain RTP through rtpengine's userspace daemon
#               (Debian rtpengine-daemon, no kernel table), driven over its
#               ng control protocol on 127.0.0.1
# Each prints delivered packets, loss and the media threads' CPU per packet;
# the last lines are the ratios. The generator is
# pbx-core/examples/webrtc_load/; numbers go to media/WEBRTC.md.
#
# Usage: benches/webrtc.sh [CALLS=50] [SECONDS=10]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
calls=${1:-50}
secs=${2:-10}
[ "$calls" -le 2000 ] && [ "$secs" -le 120 ] || { echo "at most 2000 calls and 120 s" >&2; exit 2; }
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/cache/pbx-target}
cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p pbx-core --example webrtc_load
bin="$CARGO_TARGET_DIR/release/examples/webrtc_load"
out=$(mktemp)
trap 'rm -f "$out"; [ -n "${rtp_pid:-}" ] && kill "$rtp_pid" 2>/dev/null || true' EXIT

"$bin" "$calls" "$secs" 30000 webrtc | tee -a "$out"
"$bin" "$calls" "$secs" 30000 plain | tee -a "$out"

# rtpengine is for this bench only (not a test dependency): install it here
if ! command -v rtpengine >/dev/null; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends rtpengine-daemon >/dev/null || true
fi
if command -v rtpengine >/dev/null; then
    ng_port=22230
    rtpengine --config-file=none --foreground --log-stderr --log-level=3 --table=-1 \
        --interface=127.0.0.1 --listen-ng=127.0.0.1:$ng_port \
        --port-min=36000 --port-max=$((36000 + calls * 4 + 64)) --num-threads=1 \
        >/tmp/webrtc-bench-rtpengine.log 2>&1 &
    rtp_pid=$!
    sleep 1
    NG=127.0.0.1:$ng_port RTPENGINE_PID=$rtp_pid "$bin" "$calls" "$secs" 30000 rtpengine | tee -a "$out"
else
    echo "rtpengine not installed (apt-get install rtpengine-daemon): no rtpengine ratio" >&2
fi

per() { grep "mode=$1 " "$out" | sed -n 's/.*cpu_per_packet_us=\([0-9.]*\).*/\1/p'; }
w=$(per webrtc); p=$(per plain); r=$(per rtpengine || true)
awk -v w="$w" -v p="$p" -v r="$r" 'BEGIN {
    if (p > 0) printf "webrtc/plain CPU per packet: %.1fx\n", w / p;
    if (r > 0) printf "plain pbx relay / rtpengine CPU per packet: %.2f\n", p / r;
}'
