#!/usr/bin/env bash
# Builds the forge-manager container image WITHOUT pulling anything (no base image, no daemon):
# the host-built release binary plus exactly the shared libraries `ldd` names, on `scratch`, with
# buildah's vfs storage. The result matches the Dockerfile's runtime stage (distroless/cc: glibc,
# libgcc; uid 10001; ENTRYPOINT /forge-manager, CMD run; port 8000).
#
#   bash deploy/image/build-local.sh [TAG]       # default localhost/forge-manager:dev
#   OUT=/tmp/forge-manager.oci.tar bash deploy/image/build-local.sh
#
# Needs buildah (installed from Debian if missing: apt-get install buildah). Not run in CI (slow:
# a release build). Prints the image size; docs/performance.md "Container image" records it.
set -euo pipefail
cd "$(dirname "$0")/../.."
TAG=${1:-localhost/forge-manager:dev}
OUT=${OUT:-target/forge-manager-image.oci.tar}
BUILDAH=(buildah --storage-driver vfs)

if ! command -v buildah >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends buildah >/dev/null
fi

cargo build --release --locked --bin forge-manager
BIN=target/release/forge-manager
ROOTFS=$(mktemp -d)
trap 'rm -rf "$ROOTFS"' EXIT

install -D -m 0755 "$BIN" "$ROOTFS/forge-manager"
strip "$ROOTFS/forge-manager" 2>/dev/null || true
# The shared libraries and the dynamic loader, at the paths the binary asks for.
for lib in $(ldd "$BIN" | grep -oE '/[^ ]+'); do
    install -D -m 0755 "$(readlink -f "$lib")" "$ROOTFS$lib"
done
# A user database so tools (and the node's uid) resolve; no shell.
mkdir -p "$ROOTFS/etc" "$ROOTFS/tmp"
chmod 1777 "$ROOTFS/tmp"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:10001:10001:forge-manager:/home/nonroot:/sbin/nologin\n' >"$ROOTFS/etc/passwd"
printf 'root:x:0:\nnonroot:x:10001:\n' >"$ROOTFS/etc/group"
# The binary must run with only these files (ld.so from the rootfs, libraries from the rootfs).
"$ROOTFS/lib64/ld-linux-x86-64.so.2" --library-path "$ROOTFS/lib/x86_64-linux-gnu" "$ROOTFS/forge-manager" --version

ctr=$("${BUILDAH[@]}" from scratch)
"${BUILDAH[@]}" copy "$ctr" "$ROOTFS/" / >/dev/null
"${BUILDAH[@]}" config \
    --user 10001:10001 \
    --entrypoint '["/forge-manager"]' \
    --cmd run \
    --port 8000 \
    --workingdir / \
    --label org.opencontainers.image.title=forge-manager \
    --label org.opencontainers.image.source=https://github.com/mochipool/cardano-forge-manager \
    "$ctr"
"${BUILDAH[@]}" commit --rm "$ctr" "$TAG" >/dev/null
rm -f "$OUT"
"${BUILDAH[@]}" push "$TAG" "oci-archive:$OUT" >/dev/null 2>&1
echo "image: $TAG"
"${BUILDAH[@]}" images --format '{{.Name}}:{{.Tag}} {{.Size}}' "$TAG"
echo "uncompressed rootfs: $(du -sb "$ROOTFS" | cut -f1) bytes"
echo "oci archive: $OUT $(stat -c %s "$OUT") bytes"
