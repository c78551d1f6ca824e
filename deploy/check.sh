#!/usr/bin/env bash
# Offline validation of everything under deploy/ (and the Dockerfile). Called by .ci/run; runs on a
# fresh machine (installs its tools through .ci/install-tools.sh). Fails loudly on any error.
#
#   bash deploy/check.sh            # all checks (~15-30 s)
#
# What it checks (docs/deployment.md "Validation"):
#   1. the Helm chart's crds/ copy equals deploy/crds/cardano-forge-crds.yaml (generated from src/crd)
#   2. every kustomization (base, overlays, components) renders with `kubectl kustomize`; every render
#      passes kubernetes-validate 1.32 --strict; CardanoForgeCluster/CardanoLeader objects pass
#      check-jsonschema against the CRDs' openAPIV3Schema; project policy (scripts/checks.py manifests)
#   3. helm lint --strict and helm template with the chart defaults and every ci/*.yaml; same validation
#   3b. the secrets docs/deployment.md creates are the ones the base and the chart (release bp) mount
#   4. Prometheus: rules.yaml passes promtool check rules and promtool test rules; every alert has a
#      firing and a not-firing test; the PrometheusRule and the chart's rules copy are up to date
#   5. Grafana dashboard structure and PromQL; metric names in rules and dashboard are in metrics.txt
#   6. yamllint on deploy/ YAML (not Helm templates) and on the Helm renders; hadolint on the Dockerfile
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$ROOT/.ci/bin:$PATH"
started=$(date +%s%N)
phase() { printf '\n--> deploy/check: %s (%d ms)\n' "$*" "$(( ($(date +%s%N) - started) / 1000000 ))"; }
die() { printf '\ndeploy/check: FAILED: %s\n' "$*" >&2; exit 1; }

need=(kubectl helm kubernetes-validate check-jsonschema yamllint hadolint promtool)
for t in "${need[@]}"; do
    if ! command -v "$t" >/dev/null 2>&1; then
        phase "installing missing tools ($t and others)"
        bash .ci/install-tools.sh
        break
    fi
done
for t in "${need[@]}"; do command -v "$t" >/dev/null 2>&1 || die "tool $t not available"; done

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
CHART=deploy/helm/cardano-forge-manager
KVER=1.32.0   # native sidecars need >= 1.29; 1.32 is the oldest version this project supports here

# kubernetes-validate prints WARN and exits 0 for kinds it has no schema for: only these may do so.
validate() {
    local file=$1 log="$OUT/validate.log"
    if ! kubernetes-validate -k "$KVER" --strict "$file" >"$log" 2>&1; then
        cat "$log" >&2
        die "kubernetes-validate: $file"
    fi
    if grep -v -E "^INFO .* passed for resource " "$log" \
        | grep -v -E "Couldn't find schema for kind (CardanoLeader|CardanoForgeCluster) with api version cardano.io/v1 " \
        | grep -v -E "Couldn't find schema for kind (ServiceMonitor|PrometheusRule) with api version monitoring.coreos.com/v1 " \
        | grep -q .; then
        cat "$log" >&2
        die "kubernetes-validate reported something unexpected for $file"
    fi
    echo "  ok: $(grep -c 'passed for resource' "$log") objects valid for Kubernetes $KVER: ${file#"$OUT"/}"
}

phase "CRD copy in the Helm chart"
cmp deploy/crds/cardano-forge-crds.yaml "$CHART/crds/cardano-forge-crds.yaml" \
    || die "$CHART/crds/cardano-forge-crds.yaml differs from deploy/crds/cardano-forge-crds.yaml; copy it"
echo "  ok: $CHART/crds/cardano-forge-crds.yaml == deploy/crds/cardano-forge-crds.yaml"
validate deploy/crds/cardano-forge-crds.yaml

phase "kustomize renders"
renders=()
while IFS= read -r k; do
    dir=$(dirname "$k")
    grep -q '^kind: Component' "$k" && continue   # components are rendered through the overlays
    name=$(echo "${dir#deploy/}" | tr '/' '_')
    kubectl kustomize "$dir" >"$OUT/kustomize-$name.yaml" || die "kubectl kustomize $dir"
    renders+=("$OUT/kustomize-$name.yaml")
done < <(find deploy/base deploy/overlays -name kustomization.yaml | sort)
[ "${#renders[@]}" -ge 5 ] || die "expected at least 5 kustomizations, found ${#renders[@]}"
for r in "${renders[@]}"; do validate "$r"; done

phase "Helm chart"
helm lint --strict "$CHART" >"$OUT/lint.log" 2>&1 || { cat "$OUT/lint.log" >&2; die "helm lint --strict $CHART"; }
helm template forge "$CHART" --namespace cardano --include-crds >"$OUT/helm-defaults.yaml" || die "helm template (defaults)"
helm_renders=("$OUT/helm-defaults.yaml")
for v in "$CHART"/ci/*.yaml; do
    b=$(basename "$v" .yaml)
    helm lint --strict -f "$v" "$CHART" >"$OUT/lint.log" 2>&1 || { cat "$OUT/lint.log" >&2; die "helm lint --strict -f $v"; }
    helm template forge "$CHART" --namespace cardano --include-crds -f "$v" >"$OUT/helm-$b.yaml" || die "helm template -f $v"
    helm_renders+=("$OUT/helm-$b.yaml")
done
echo "  ok: helm lint --strict with defaults and ${#helm_renders[@]} value sets"
# Configuration errors must fail at render time.
if helm template forge "$CHART" --set forgeManager.clusterManagement.enabled=true >/dev/null 2>&1; then
    die "helm template accepted clusterManagement.enabled without a region"
fi
if helm template forge "$CHART" --set podAntiAffinity=maybe >/dev/null 2>&1; then
    die "helm template accepted podAntiAffinity=maybe"
fi
for r in "${helm_renders[@]}"; do validate "$r"; done

phase "custom resources against the CRD schemas, and manifest policy"
python3 deploy/scripts/checks.py custom-resources "$OUT/schemas" "${renders[@]}" "${helm_renders[@]}"
python3 deploy/scripts/checks.py manifests "${renders[@]}" "${helm_renders[@]}"

phase "secret names in docs/deployment.md"
helm template bp "$CHART" --namespace cardano >"$OUT/helm-bp.yaml" || die "helm template bp"
python3 deploy/scripts/checks.py secret-names docs/deployment.md \
    "$OUT/kustomize-overlays_single-region.yaml" "$OUT/helm-bp.yaml"

phase "Prometheus rules"
python3 deploy/prometheus/generate.py --check || die "generated Prometheus files are out of date"
promtool check rules deploy/prometheus/rules.yaml "$CHART/files/prometheus-rules.yaml" || die "promtool check rules"
(cd deploy/prometheus && promtool test rules rules_test.yaml) || die "promtool test rules"
python3 deploy/scripts/checks.py rule-tests

phase "Grafana dashboard and metric names"
python3 deploy/scripts/checks.py dashboard
python3 deploy/scripts/checks.py metric-names

phase "yamllint"
mapfile -t yamls < <(find deploy -name '*.yaml' -not -path "$CHART/templates/*" | sort)
yamllint -s -c deploy/yamllint.yaml "${yamls[@]}" || die "yamllint (deploy/ YAML)"
yamllint -s -d "{extends: default, rules: {line-length: {max: 200}, document-start: disable, indentation: {spaces: 2, indent-sequences: whatever}, truthy: {check-keys: false}, comments: disable, comments-indentation: disable, empty-lines: disable, trailing-spaces: disable}}" \
    "${helm_renders[@]}" || die "yamllint (Helm renders)"
echo "  ok: yamllint on ${#yamls[@]} files and ${#helm_renders[@]} Helm renders"

phase "hadolint Dockerfile"
hadolint Dockerfile || die "hadolint Dockerfile"
echo "  ok: hadolint Dockerfile"
bash -n deploy/image/build-local.sh || die "bash -n deploy/image/build-local.sh"

phase "all deploy checks passed"
