#!/usr/bin/env bash
# Runs every test: unit, property, integration (real sipp against `pbx serve`
# over 127.0.0.1) and doc tests of the whole workspace, then the softphone
# tests again with sound card support (feature `audio`).
set -euo pipefail
cd "$(dirname "$0")"
scripts/deps.sh
# The desktop's vendored JsSIP is exactly what its pinned npm packages build.
scripts/desktop-assets.sh --check
export PBX_E2E_REQUIRE_SIPP=1
cargo test --workspace --locked "$@"
# The softphone on a sound card: cpal over ALSA, whose `null` device stands
# in for a sound card on machines (CI) without one.
cargo test --locked -p pbx --features audio --test phone "$@"
