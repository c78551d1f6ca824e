#!/usr/bin/env bash
# Installs the external tools the tests use, idempotently, from the reachable registries only.
# Safe to run on a developer machine: it skips whatever is already present.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

# The Rust toolchain comes with the machine image; the crates come from the registry at build time.
have cargo || { echo "cargo is required" >&2; exit 1; }
