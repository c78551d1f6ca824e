#!/usr/bin/env bash
# Regenerates the incident walk-through of docs/journal.md from journals written by the simulator:
# the scenario partition-leader-from-api (the leader loses its API server and fences itself; a
# standby takes over). Prints every command and its real output.
#
#   bash scripts/journal-walkthrough.sh [OUT_DIR]     (default: target/journal-walkthrough)
#
# Deterministic: the scenario has a fixed seed, so the output only changes when the code does.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-target/journal-walkthrough}"
rm -rf "$dir"
mkdir -p "$dir"
cargo build --quiet --release -p forge-sim --bin forge-sim
cargo build --quiet --release --bin forge-manager
sim=target/release/forge-sim
fm=target/release/forge-manager
j="$dir"

show() {
    echo "\$ $*"
    # timeline exits 1 when it finds an overlap: that is a result here, not a failure.
    "$@" || echo "(exit $?)"
    echo
}

show "$sim" run scenarios/partition-leader-from-api.toml --journal-dir "$j"
show "$fm" journal timeline --overlaps-only "$j"/*.redb
show "$fm" journal query --since 2026-01-01T00:02:00Z --until 2026-01-01T00:02:30Z \
    "$j"/bp-us-east-1-0.redb "$j"/bp-us-east-1-2.redb
show "$fm" journal explain --at 2026-01-01T00:02:20Z "$j"/bp-us-east-1-2.redb
show "$fm" journal query --reason demotion_unverified -o jsonl "$j"/bp-us-east-1-2.redb
show "$fm" journal stats "$j"/bp-us-east-1-2.redb

# The key line of the walk-through: if it changes, docs/journal.md section 6.1 must be re-read.
key='OVERLAP bp-us-east-1-0 and bp-us-east-1-2 believed they were forging from 2026-01-01T00:02:16.250Z to 2026-01-01T00:02:24.353Z'
overlaps=$("$fm" journal timeline --overlaps-only "$j"/*.redb || true)
if ! grep -qF "$key" <<<"$overlaps"; then
    echo "journal-walkthrough: the overlap line changed; update docs/journal.md section 6.1" >&2
    exit 1
fi
