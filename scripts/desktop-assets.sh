#!/usr/bin/env bash
# The agent desktop's one third-party asset, JsSIP, built from the npm
# packages pinned in pbx-core/desktop/package-lock.json (jssip and esbuild,
# exact versions with integrity hashes). The result is committed, so building
# pbx needs no Node.js; the test suite runs `--check`, which rebuilds it and
# fails when the committed file is not exactly what the pinned packages make.
#   scripts/desktop-assets.sh          rebuild pbx-core/desktop/assets/vendor/jssip.min.js
#   scripts/desktop-assets.sh --check  rebuild into a temporary file and compare
set -euo pipefail
dir="$(cd "$(dirname "$0")/../pbx-core/desktop" && pwd)"
out="$dir/assets/vendor/jssip.min.js"
command -v npm >/dev/null || { echo "npm not found: install Node.js (Debian: nodejs npm)" >&2; exit 1; }
cd "$dir"
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
target="$out"
[ "${1:-}" = "--check" ] && target="$(mktemp --suffix=.js)"
node_modules/.bin/esbuild node_modules/jssip/lib/JsSIP.js --bundle --format=iife \
    --global-name=JsSIP --minify --legal-comments=eof --target=es2020 \
    --log-level=warning --outfile="$target"
if [ "${1:-}" = "--check" ]; then
    if ! cmp -s "$target" "$out"; then
        echo "pbx-core/desktop/assets/vendor/jssip.min.js differs from what the pinned packages build: run scripts/desktop-assets.sh and commit the result" >&2
        rm -f "$target"
        exit 1
    fi
    rm -f "$target"
    echo "desktop assets: jssip.min.js matches the pinned build"
fi
