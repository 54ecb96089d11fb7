#!/usr/bin/env bash
# Runs every test: unit, property, integration (real sipp against `pbx serve`
# over 127.0.0.1) and doc tests of the whole workspace.
set -euo pipefail
cd "$(dirname "$0")"
scripts/deps.sh
export PBX_E2E_REQUIRE_SIPP=1
cargo test --workspace --locked "$@"
