#!/usr/bin/env bash
# Media relay load: N simulated G.711 calls (20 ms packets both ways) through the
# relay over loopback for a bounded time; prints loss, p50/p99 added delay and the
# relay threads' CPU per packet, from which "relayed calls per core" follows.
# The generator lives in media/examples/relay_load.rs; numbers in media/BENCHMARKS.md.
#
# MODE: relay (pbx's relay), bare (the floor of any socket relay: recv + send
# per datagram on epoll, nothing else) or uring (the same floor on io_uring).
# Run the modes one after another on the same machine and compare ratios.
#
# Usage: benches/relay.sh [CALLS=500] [SECONDS=10] [PORT_BASE=20000] [THREADS=1] [MODE=relay]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/cache/pbx-target}
exec cargo run --release --quiet --manifest-path "$root/Cargo.toml" -p media --example relay_load -- \
    "${1:-500}" "${2:-10}" "${3:-20000}" "${4:-1}" "${5:-relay}"
