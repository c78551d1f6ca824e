#!/usr/bin/env bash
# Builds the forge-manager container image as an OCI archive WITHOUT pulling anything (no base
# image, no daemon): the dist-profile binary plus exactly the shared libraries `ldd` names, /etc/passwd
# and /tmp, in one reproducible layer (deploy/image/build-oci.py), then checks it
# (deploy/image/check-image.sh: size, configuration, the entrypoint runs in the image's own root).
# It matches the Dockerfile's runtime stage (distroless/cc: glibc, libgcc; uid 10001; ENTRYPOINT
# /forge-manager, CMD run; port 8000). CI runs the same three steps.
#
#   bash deploy/image/build-local.sh [TAG]       # default localhost/forge-manager:dev
#   OUT=/tmp/forge-manager.oci.tar bash deploy/image/build-local.sh ghcr.io/OWNER/forge-manager:0.1.0
#
# Push it with skopeo (docs/deployment.md, "Container image").
set -euo pipefail
cd "$(dirname "$0")/../.."
TAG=${1:-localhost/forge-manager:dev}
OUT=${OUT:-target/forge-manager.oci.tar}

cargo build --profile dist --locked --bin forge-manager
python3 deploy/image/build-oci.py --binary target/dist/forge-manager --out "$OUT" --tag "$TAG"
bash deploy/image/check-image.sh "$OUT"
