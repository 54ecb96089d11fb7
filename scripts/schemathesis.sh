#!/usr/bin/env bash
# Installs schemathesis (PyPI) into a venv under /var/cache and prints the
# path of its `st` binary (idempotent: a second run only prints). The API
# test (pbx-core/tests/api_schemathesis.rs) runs it against a real
# `pbx serve`; override the location with PBX_SCHEMATHESIS_VENV.
set -euo pipefail

venv="${PBX_SCHEMATHESIS_VENV:-/var/cache/pbx-schemathesis-venv}"
version="${PBX_SCHEMATHESIS_VERSION:-4.32.5}"

if [ ! -x "$venv/bin/schemathesis" ]; then
    python=$(command -v python3 || true)
    [ -n "$python" ] || { echo "python3 not found: install python3 and python3-venv" >&2; exit 1; }
    "$python" -m venv "$venv" >&2
    "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$version" >&2
fi
echo "$venv/bin/schemathesis"
