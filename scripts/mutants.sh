#!/usr/bin/env bash
# Mutation testing of the pure core (crates/forge-core: election, lease, cluster, policy, timing,
# eligibility) with cargo-mutants. Not run in CI: it rebuilds and tests once per mutant, about 500
# of them, which takes hours on 2 cores (docs/chaos.md, "Mutation testing").
#
#   scripts/mutants.sh                 # stage 1: every mutant against the core's unit tests
#   STAGE=scenarios scripts/mutants.sh # stage 2: the mutants stage 1 missed, against the core's
#                                      # unit tests plus the scenario suite (sim/tests/scenarios.rs)
#   scripts/mutants.sh --file crates/forge-core/src/timing.rs   # extra arguments go to cargo-mutants
#
# Stage 2 re-tests only what stage 1 left alive (`--iterate` reads OUT's outcomes), because a
# scenario run needs the whole simulator rebuilt, in the `mutants` profile (optimised: the
# scenarios are too slow unoptimised). Results: OUT/mutants.out/{caught,missed,timeout,unviable}.txt.
# Installs cargo-mutants if missing (cargo install --locked; about 4 minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-target/mutants-core}
JOBS=${JOBS:-1}
STAGE=${STAGE:-unit}
if ! cargo mutants --version >/dev/null 2>&1; then
  cargo install --locked cargo-mutants
fi
mkdir -p "$OUT"
case "$STAGE" in
  unit)
    exec cargo mutants --package forge-core --test-package forge-core \
      --output "$OUT" --jobs "$JOBS" --timeout 300 "$@" -- --lib
    ;;
  scenarios)
    exec cargo mutants --package forge-core --iterate \
      --test-tool nextest --test-package forge-core --test-package forge-sim \
      --profile mutants --output "$OUT" --jobs "$JOBS" --timeout 900 "$@" \
      -- -E 'package(forge-core) & kind(lib) | package(forge-sim) & binary(scenarios)'
    ;;
  *)
    echo "STAGE must be unit or scenarios, not $STAGE" >&2
    exit 2
    ;;
esac
