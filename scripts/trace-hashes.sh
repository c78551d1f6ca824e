#!/usr/bin/env bash
# The behaviour fingerprint of the tree: the trace hash of every scenario file (scenarios/, docs/,
# sim/tests/canaries/) and of chaos seeds' generated worlds. A refactor that claims to change no
# behaviour must leave every line identical (docs/development.md, "Proving a refactor changed
# nothing").
#
#   scripts/trace-hashes.sh > before.txt        # on the old tree
#   scripts/trace-hashes.sh > after.txt         # on the new tree
#   diff before.txt after.txt                   # empty: same behaviour
#
# SEEDS (default 100) multi-region and as many single-region chaos seeds run, each DURATION long
# (default 1h, as in CI: shorter worlds draw invalid schedules), with their ticks drawn per seed as in CI. Needs jq; builds forge-sim (release).
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${SEEDS:-100}
DURATION=${DURATION:-1h}
cargo build --quiet --release -p forge-sim
SIM=${CARGO_TARGET_DIR:-target}/release/forge-sim
for f in scenarios/*.toml docs/*.toml sim/tests/canaries/*.toml; do
  # Exit 1 (an expectation failed) is a result too: the hash is still the behaviour.
  hash=$("$SIM" run --json "$f" 2>/dev/null | jq -r .trace_hash) || true
  echo "$f ${hash:-invalid}"
done
"$SIM" chaos --json --seeds "$SEEDS" --start 1000 --duration "$DURATION" --regions 3 --pods 3 \
  --out "$(mktemp -d)" 2>/dev/null | jq -r 'select(.seed != null) | "chaos multi seed=\(.seed) \(.trace_hash)"' | sort -t= -k2 -n || true
"$SIM" chaos --json --seeds "$SEEDS" --start 0 --duration "$DURATION" --regions 1 --pods 3 \
  --out "$(mktemp -d)" 2>/dev/null | jq -r 'select(.seed != null) | "chaos single seed=\(.seed) \(.trace_hash)"' | sort -t= -k2 -n || true
