#!/usr/bin/env bash
# Checks an OCI archive made by deploy/image/build-oci.py: at most 20 MB; the config runs
# /forge-manager as 10001:10001 with CMD run on port 8000; and the image's own files suffice to
# run the entrypoint (`/forge-manager --help` in a chroot of the unpacked layer: the binary finds
# its loader and libraries in the image, nothing from the host).
#
#   bash deploy/image/check-image.sh target/forge-manager.oci.tar
set -euo pipefail
ARCHIVE=$1
MAX_BYTES=${MAX_BYTES:-20000000}
die() { printf 'check-image: FAILED: %s\n' "$*" >&2; exit 1; }

size=$(stat -c %s "$ARCHIVE")
[ "$size" -le "$MAX_BYTES" ] || die "$ARCHIVE is $size bytes, over $MAX_BYTES"
echo "  ok: $ARCHIVE is $size bytes (limit $MAX_BYTES)"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
tar -xf "$ARCHIVE" -C "$WORK"
python3 - "$WORK" <<'PY' || die "image configuration"
import json, sys, pathlib
root = pathlib.Path(sys.argv[1])
blob = lambda d: root / "blobs" / "sha256" / d.split(":")[1]
index = json.loads((root / "index.json").read_text())
manifest = json.loads(blob(index["manifests"][0]["digest"]).read_text())
config = json.loads(blob(manifest["config"]["digest"]).read_text())["config"]
want = {"Entrypoint": ["/forge-manager"], "Cmd": ["run"], "User": "10001:10001"}
bad = {k: config.get(k) for k, v in want.items() if config.get(k) != v}
assert not bad, f"config differs: {bad}"
assert "8000/tcp" in config.get("ExposedPorts", {}), "port 8000 not exposed"
assert len(manifest["layers"]) == 1, manifest["layers"]
(root / "layer").write_text(manifest["layers"][0]["digest"].split(":")[1])
print(f"  ok: entrypoint {config['Entrypoint']}, cmd {config['Cmd']}, user {config['User']}")
PY
# A real OCI tool reads it: skopeo checks every blob against its digest while copying.
if command -v skopeo >/dev/null 2>&1; then
    skopeo copy --quiet "oci-archive:$ARCHIVE" "oci:$WORK/copy:check" >/dev/null \
        || die "skopeo cannot copy $ARCHIVE"
    echo "  ok: skopeo copies it (every digest verified)"
else
    die "skopeo not found (.ci/install-tools.sh installs it)"
fi
ROOTFS=$WORK/rootfs
mkdir -p "$ROOTFS"
tar -xzf "$WORK/blobs/sha256/$(cat "$WORK/layer")" -C "$ROOTFS"
if [ "$(id -u)" -eq 0 ]; then
    run=(chroot "$ROOTFS" /forge-manager --help)
else
    run=(unshare -r chroot "$ROOTFS" /forge-manager --help)
fi
out=$("${run[@]}" 2>&1) || die "the entrypoint failed in the image's own root: $out"
grep -q "Usage: forge-manager" <<<"$out" || die "unexpected --help output: $out"
echo "  ok: /forge-manager --help runs in the image's own root filesystem"
