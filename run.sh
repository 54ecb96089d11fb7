#!/usr/bin/env bash
# Builds and runs `pbx serve` on its embedded defaults (UDP+TCP 127.0.0.1:5060,
# demo users 1001/1002/1003, SQLite under ~/.local/share/pbx).
# Extra arguments go to pbx, e.g. `./run.sh --config fixtures/bench.toml`.
set -euo pipefail
cd "$(dirname "$0")"
scripts/deps.sh --run
exec cargo run --release --quiet -p pbx -- serve "$@"
