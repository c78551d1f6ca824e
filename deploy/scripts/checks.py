#!/usr/bin/env python3
"""Offline checks used by deploy/check.sh (stdlib + PyYAML; promtool / check-jsonschema on PATH).

    checks.py metric-names                    rules.yaml and the dashboard use only deploy/metrics.txt names
    checks.py dashboard                       the Grafana dashboard's structure, and its PromQL via promtool
    checks.py rule-tests                      rules_test.yaml has a firing and a not-firing case per alert
    checks.py custom-resources OUTDIR FILE..  validates CardanoForgeCluster/CardanoLeader objects in the
                                              given multi-document YAML files against the CRD schemas
    checks.py manifests FILE..                project policy on rendered manifests: forge-manager env names
                                              exist in src/config, native sidecar layout, probes, security
                                              context, no cluster-wide RBAC
Each prints what it checked and exits non-zero on the first class of problems, listing them all.
"""
import json
import pathlib
import re
import subprocess
import sys
import tempfile

import yaml

DEPLOY = pathlib.Path(__file__).resolve().parent.parent
RULES = DEPLOY / "prometheus" / "rules.yaml"
RULE_TESTS = DEPLOY / "prometheus" / "rules_test.yaml"
DASHBOARD = DEPLOY / "grafana" / "cardano-forge-manager.json"
METRICS = DEPLOY / "metrics.txt"
CRDS = DEPLOY / "crds" / "cardano-forge-crds.yaml"

# Every metric of this project starts with cardano_; recording rules are cardano:...
METRIC_RE = re.compile(r"(?<![A-Za-z0-9_:])(cardano_[A-Za-z0-9_]*)")
RECORD_RE = re.compile(r"(?<![A-Za-z0-9_:])(cardano:[A-Za-z0-9_:]*)")
# Identifiers that are metric selectors but not ours (would escape the check above).
OTHER_ALLOWED = set()


def fail(problems, what):
    for p in problems:
        print(f"  FAIL {what}: {p}", file=sys.stderr)
    sys.exit(1)


def rule_list():
    doc = yaml.safe_load(RULES.read_text())
    return [r for g in doc["groups"] for r in g["rules"]]


def dashboard_exprs(dash):
    out = []
    for p in dash.get("panels", []):
        for t in p.get("targets", []):
            if t.get("expr"):
                out.append((f"panel {p.get('id')} {t.get('refId')}", t["expr"]))
    for i, a in enumerate(dash.get("annotations", {}).get("list", [])):
        if a.get("expr"):
            out.append((f"annotation {i}", a["expr"]))
    for v in dash.get("templating", {}).get("list", []):
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        if v.get("type") == "query" and q:
            m = re.match(r"label_values\((.*),\s*\w+\)$", q)
            out.append((f"variable {v['name']}", m.group(1) if m else q))
    return out


def cmd_metric_names():
    known = {l.strip() for l in METRICS.read_text().splitlines() if l.strip() and not l.startswith("#")}
    bad = [n for n in known if not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", n)]
    if bad:
        fail(bad, "metrics.txt: not a metric name")
    records = {r["record"] for r in rule_list() if "record" in r}
    exprs = [(f"rules.yaml {r.get('alert') or r.get('record')}", r["expr"]) for r in rule_list()]
    exprs += [(f"dashboard {w}", e) for w, e in dashboard_exprs(json.loads(DASHBOARD.read_text()))]
    problems = []
    used = set()
    for where, e in exprs:
        for name in METRIC_RE.findall(e):
            used.add(name)
            if name not in known:
                problems.append(f"{where}: {name} is not in deploy/metrics.txt")
        for name in RECORD_RE.findall(e):
            if name not in records:
                problems.append(f"{where}: recording rule {name} is not defined in rules.yaml")
    if problems:
        fail(problems, "metric names")
    print(f"  ok: {len(exprs)} expressions use {len(used)} metric names, all in deploy/metrics.txt ({len(known)} names)")


def cmd_dashboard():
    dash = json.loads(DASHBOARD.read_text())  # raises on invalid JSON
    problems = []
    for key in ("uid", "title", "schemaVersion", "panels", "templating"):
        if key not in dash:
            problems.append(f"missing top-level {key!r}")
    if not isinstance(dash.get("schemaVersion"), int):
        problems.append("schemaVersion must be an integer")
    variables = dash.get("templating", {}).get("list", [])
    if not any(v.get("type") == "datasource" and v.get("name") == "datasource" for v in variables):
        problems.append("no `datasource` variable of type datasource")
    ids = [p.get("id") for p in dash.get("panels", [])]
    if None in ids:
        problems.append("a panel has no id")
    dup = sorted({i for i in ids if ids.count(i) > 1 and i is not None})
    if dup:
        problems.append(f"duplicate panel ids {dup}")
    for p in dash.get("panels", []):
        refs = [t.get("refId") for t in p.get("targets", [])]
        if len(refs) != len(set(refs)):
            problems.append(f"panel {p.get('id')}: duplicate refIds")
        ds = p.get("datasource", {})
        if ds.get("uid") != "${datasource}":
            problems.append(f"panel {p.get('id')}: datasource is not the ${{datasource}} variable")
    if problems:
        fail(problems, "dashboard")
    # PromQL syntax via promtool: every expr as a recording rule.
    rules = []
    for where, e in dashboard_exprs(dash):
        e = e.replace("$__rate_interval", "5m").replace("$__interval", "1m").replace("$__range", "1h")
        e = re.sub(r"\$\{?\w+\}?", "x", e)
        rules.append({"record": "panel_" + re.sub(r"\W", "_", where), "expr": e})
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)
    r = subprocess.run(["promtool", "check", "rules", f.name], capture_output=True, text=True)
    pathlib.Path(f.name).unlink()
    if r.returncode != 0:
        fail([r.stdout + r.stderr], "dashboard PromQL (promtool)")
    print(f"  ok: dashboard uid={dash['uid']} schemaVersion={dash['schemaVersion']}, {len(ids)} panels with unique ids, "
          f"{len(rules)} expressions pass promtool")


def cmd_rule_tests():
    alerts = [r["alert"] for r in rule_list() if "alert" in r]
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    firing, quiet = set(), set()
    for t in tests:
        for a in t.get("alert_rule_test", []):
            (firing if a.get("exp_alerts") else quiet).add(a["alertname"])
    problems = [f"{a}: no firing case" for a in alerts if a not in firing]
    problems += [f"{a}: no not-firing case" for a in alerts if a not in quiet]
    if problems:
        fail(problems, "rules_test.yaml coverage")
    print(f"  ok: all {len(alerts)} alerts have firing and not-firing cases in rules_test.yaml")


def crd_schemas(outdir):
    schemas = {}
    for crd in yaml.safe_load_all(CRDS.read_text()):
        kind = crd["spec"]["names"]["kind"]
        group = crd["spec"]["group"]
        for v in crd["spec"]["versions"]:
            s = dict(v["schema"]["openAPIV3Schema"])
            s["$schema"] = "http://json-schema.org/draft-04/schema#"
            props = dict(s.get("properties", {}))
            props["apiVersion"] = {"const": f"{group}/{v['name']}"}
            props["kind"] = {"const": kind}
            props["metadata"] = {"type": "object", "required": ["name"],
                                 "properties": {"name": {"type": "string",
                                                         "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
                                                         "maxLength": 253}}}
            s["properties"] = props
            s["required"] = sorted(set(s.get("required", [])) | {"apiVersion", "kind", "metadata"})
            path = outdir / f"{kind}.{v['name']}.schema.json"
            path.write_text(json.dumps(s, indent=1))
            schemas[(f"{group}/{v['name']}", kind)] = path
    return schemas


def cmd_custom_resources(outdir, files):
    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    schemas = crd_schemas(outdir)
    count = 0
    for f in files:
        for i, doc in enumerate(d for d in yaml.safe_load_all(pathlib.Path(f).read_text()) if d):
            key = (doc.get("apiVersion"), doc.get("kind"))
            if doc.get("apiVersion", "").startswith("cardano.io/") and key not in schemas:
                fail([f"{f}: {key} has no CRD in deploy/crds"], "custom resources")
            if key not in schemas:
                continue
            name = doc.get("metadata", {}).get("name", i)
            cr = outdir / f"{pathlib.Path(f).stem}.{doc['kind']}.{name}.json"
            cr.write_text(json.dumps(doc))
            r = subprocess.run(["check-jsonschema", "--schemafile", str(schemas[key]), str(cr)],
                               capture_output=True, text=True)
            if r.returncode != 0:
                fail([f"{f}: {doc['kind']} {name}:\n{r.stdout}{r.stderr}"], "custom resources")
            count += 1
    print(f"  ok: {count} CardanoForgeCluster/CardanoLeader objects valid against the CRD schemas")


def config_env_names():
    src = (DEPLOY.parent / "src" / "config" / "mod.rs").read_text()
    names = set(re.findall(r'env = "([A-Z0-9_]+)"', src))
    if len(names) < 40:
        fail([f"found only {len(names)} env names in src/config/mod.rs"], "config env names")
    return names


STARTUP_PROBE = {"initialDelaySeconds": 5, "periodSeconds": 3, "timeoutSeconds": 2, "failureThreshold": 60}


def check_security(where, c, problems):
    sc = c.get("securityContext") or {}
    want = {"runAsNonRoot": True, "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False}
    for k, v in want.items():
        if sc.get(k) is not v:
            problems.append(f"{where}: securityContext.{k} must be {v}")
    if sc.get("runAsUser") != 10001:
        problems.append(f"{where}: securityContext.runAsUser must be 10001 (the node's uid)")
    if (sc.get("capabilities") or {}).get("drop") != ["ALL"]:
        problems.append(f"{where}: capabilities.drop must be [ALL]")
    if (sc.get("capabilities") or {}).get("add"):
        problems.append(f"{where}: no capabilities may be added")
    if (sc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        problems.append(f"{where}: seccompProfile must be RuntimeDefault")


def lease_allows(rules, verb, name):
    """Whether some rule grants `verb` on the lease `name` (no resourceNames: any name)."""
    return any(
        "coordination.k8s.io" in r.get("apiGroups", [])
        and "leases" in r.get("resources", [])
        and verb in r.get("verbs", [])
        and (not r.get("resourceNames") or name in r["resourceNames"])
        for r in rules)


def check_coordination_rbac(where, role, problems):
    """A Role that may write the global lease is a region's identity on the coordination API: it
    must also hold its own presence lease (get, update, watch) and read the other regions' (get,
    watch): the sidecar keeps every presence lease in a watch cache (src/adapters/watch_cache.rs).
    Without get every region saw the others as absent; without watch every round reads them again."""
    rules = role.get("rules", [])
    names = [n for r in rules for n in r.get("resourceNames", [])]
    globals_ = [n for n in names if n.startswith("cardano-forge-global-")]
    if not any(lease_allows(rules, "update", g) for g in globals_):
        return
    for g in globals_:
        for verb in ("get", "update", "watch"):
            if not lease_allows(rules, verb, g):
                problems.append(f"{where}: the global lease {g} needs {verb}")
    presence = sorted({n for n in names if n.startswith("cardano-forge-presence-")})
    own = [n for n in presence if lease_allows(rules, "update", n)]
    if len(own) != 1:
        problems.append(f"{where}: must update exactly one presence lease (its region's), updates {own}")
    for n in own:
        for verb in ("get", "watch"):
            if not lease_allows(rules, verb, n):
                problems.append(f"{where}: its presence lease {n} needs {verb}")
    others = [n for n in presence if n not in own]
    for verb in ("get", "watch"):
        if not others and not lease_allows(rules, verb, "cardano-forge-presence-any-other-region"):
            problems.append(f"{where}: must read the other regions' presence leases ({verb})")
        for n in others:
            if not lease_allows(rules, verb, n):
                problems.append(f"{where}: the presence lease {n} needs {verb}")


def check_events_rbac(where, role, problems):
    """A Role that may update a lease is a sidecar's: it writes Events (events.k8s.io, create for a
    new one, patch for a repeat's series count) and nothing else on them."""
    rules = role.get("rules", [])
    if not any("coordination.k8s.io" in r.get("apiGroups", []) and "update" in r.get("verbs", [])
               for r in rules):
        return
    events = [r for r in rules if "events" in r.get("resources", [])]
    if not any("events.k8s.io" in r.get("apiGroups", [])
               and {"create", "patch"} <= set(r.get("verbs", [])) for r in events):
        problems.append(f"{where}: needs create and patch on events.k8s.io events")
    for r in events:
        extra = set(r.get("verbs", [])) - {"create", "patch"}
        if extra:
            problems.append(f"{where}: events need only create and patch, not {sorted(extra)}")


def doc_section(text, heading):
    """The text under the `## heading...` line, up to the next `## ` heading."""
    start = text.index("\n## " + heading)
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else len(text)]


def mounted_secrets(path):
    """Secret volumes of the StatefulSets in a render, except the coordination kubeconfig."""
    names = set()
    for doc in yaml.safe_load_all(pathlib.Path(path).read_text()):
        if not doc or doc.get("kind") != "StatefulSet":
            continue
        for v in doc["spec"]["template"]["spec"].get("volumes", []):
            name = (v.get("secret") or {}).get("secretName")
            if name and "coordination" not in name:
                names.add(name)
    return names


def cmd_secret_names(doc, base_render, chart_render):
    """The secrets the deployment guide creates are the ones the manifests mount: the kustomize
    base's under "Before any deployment", the chart's (release `bp`) under "Helm chart"."""
    text = pathlib.Path(doc).read_text()
    created = lambda section: set(re.findall(r"create secret generic ([a-z0-9-]+)",
                                             doc_section(text, section)))
    problems = []
    for section, render in (("Before any deployment", base_render), ("Helm chart", chart_render)):
        want, have = created(section), mounted_secrets(render)
        if want != have:
            problems.append(f"{doc} \"{section}\" creates {sorted(want)}, "
                            f"{pathlib.Path(render).name} mounts {sorted(have)}")
    if problems:
        fail(problems, "secret names")
    print(f"  ok: the secrets {doc} creates are the ones the base and the chart mount")


def selects(selector, labels):
    """Whether a matchLabels selector picks pods with these labels."""
    wanted = (selector or {}).get("matchLabels") or {}
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())


def check_spread(where, sts, problems):
    """Block producers avoid sharing a node (pod anti-affinity on kubernetes.io/hostname, preferred
    or required) and spread over zones, each selecting this StatefulSet's own pods."""
    template = sts["spec"]["template"]
    labels = template.get("metadata", {}).get("labels", {})
    spec = template["spec"]
    anti = (spec.get("affinity") or {}).get("podAntiAffinity") or {}
    terms = [t.get("podAffinityTerm", {}) for t in anti.get("preferredDuringSchedulingIgnoredDuringExecution", [])]
    terms += anti.get("requiredDuringSchedulingIgnoredDuringExecution", [])
    if not any(t.get("topologyKey") == "kubernetes.io/hostname" and selects(t.get("labelSelector"), labels)
               for t in terms):
        problems.append(f"{where}: no pod anti-affinity on kubernetes.io/hostname selecting its own pods")
    spread = spec.get("topologySpreadConstraints") or []
    if not any(c.get("topologyKey") == "topology.kubernetes.io/zone" and selects(c.get("labelSelector"), labels)
               for c in spread):
        problems.append(f"{where}: no topology spread over topology.kubernetes.io/zone selecting its own pods")


def cmd_manifests(files):
    env_names = config_env_names()
    problems = []
    sts_count = 0
    for f in files:
        for doc in yaml.safe_load_all(pathlib.Path(f).read_text()):
            if not doc:
                continue
            kind, name = doc.get("kind"), doc.get("metadata", {}).get("name")
            where = f"{pathlib.Path(f).name}: {kind} {name}"
            if kind in ("ClusterRole", "ClusterRoleBinding"):
                problems.append(f"{where}: nothing cluster-wide (use a namespaced Role)")
            if kind == "Role":
                for r in doc.get("rules", []):
                    if "*" in r.get("verbs", []) or "*" in r.get("resources", []):
                        problems.append(f"{where}: wildcard in a rule")
                    if "secrets" in r.get("resources", []):
                        problems.append(f"{where}: the sidecar needs no access to secrets")
                check_coordination_rbac(where, doc, problems)
                check_events_rbac(where, doc, problems)
            if kind != "StatefulSet":
                continue
            sts_count += 1
            spec = doc["spec"]["template"]["spec"]
            if spec.get("shareProcessNamespace") is not True:
                problems.append(f"{where}: shareProcessNamespace must be true (SIGHUP)")
            inits = {c["name"]: c for c in spec.get("initContainers", [])}
            fm = inits.get("cardano-forge-manager")
            if not fm:
                problems.append(f"{where}: no initContainers entry cardano-forge-manager")
                continue
            if fm.get("restartPolicy") != "Always":
                problems.append(f"{where}: cardano-forge-manager must be a native sidecar (restartPolicy: Always)")
            if not any(p.get("name") == "forge-metrics" and p.get("containerPort") == 8000 for p in fm.get("ports", [])):
                problems.append(f"{where}: cardano-forge-manager needs port forge-metrics 8000")
            sp = fm.get("startupProbe") or {}
            if (sp.get("httpGet") or {}).get("path") != "/startup-status":
                problems.append(f"{where}: startupProbe must GET /startup-status")
            for k, v in STARTUP_PROBE.items():
                if sp.get(k) != v:
                    problems.append(f"{where}: startupProbe.{k} must be {v}, is {sp.get(k)}")
            if ((fm.get("livenessProbe") or {}).get("httpGet") or {}).get("path") != "/health":
                problems.append(f"{where}: livenessProbe must GET /health")
            if not ((fm.get("readinessProbe") or {}).get("httpGet") or {}).get("path"):
                problems.append(f"{where}: readinessProbe missing")
            wd = inits.get("forge-manager-watchdog")
            for cname, c in inits.items():
                if cname in ("cardano-forge-manager", "forge-manager-watchdog"):
                    for e in c.get("env", []):
                        if e["name"] not in env_names:
                            problems.append(f"{where}: {cname} env {e['name']} is not read by forge-manager (src/config)")
            if wd is not None:
                if wd.get("restartPolicy") != "Always" or wd.get("args") != ["watchdog"]:
                    problems.append(f"{where}: watchdog must be a native sidecar running `forge-manager watchdog`")
                if wd.get("image") != fm.get("image"):
                    problems.append(f"{where}: watchdog must use the sidecar's image")
            fm_env = {e["name"]: e.get("value") for e in fm.get("env", [])}
            for required in ("POD_NAME", "NAMESPACE", "LEASE_NAME", "CRD_NAME"):
                if required not in fm_env:
                    problems.append(f"{where}: sidecar env {required} missing")
            # docs/compatibility.md §7.18: without POOL_ID the CFC name is CLUSTER_IDENTIFIER, which
            # defaults to the pod name (one CFC per pod). With cluster management on, one of them must
            # be set.
            if str(fm_env.get("ENABLE_CLUSTER_MANAGEMENT", "")).lower() in ("true", "1", "yes"):
                if not fm_env.get("POOL_ID") and not fm_env.get("CLUSTER_IDENTIFIER"):
                    problems.append(f"{where}: cluster management without POOL_ID needs CLUSTER_IDENTIFIER")
                if fm_env.get("CLUSTER_REGION", "unknown") == "unknown":
                    problems.append(f"{where}: cluster management needs CLUSTER_REGION")
            check_spread(where, doc, problems)
            vols = {v["name"]: v for v in spec.get("volumes", [])}
            # Only the sidecar talks to the API server: no automounted token in the other containers.
            if spec.get("automountServiceAccountToken") is not False:
                problems.append(f"{where}: automountServiceAccountToken must be false (token only in the sidecar)")
            token_vols = {n for n, v in vols.items()
                          if any("serviceAccountToken" in src for src in v.get("projected", {}).get("sources", []))}
            for c in list(inits.values()) + spec.get("containers", []):
                if c["name"] != "cardano-forge-manager" and any(m["name"] in token_vols for m in c.get("volumeMounts", [])):
                    problems.append(f"{where}: {c['name']} must not mount the API token")
            if not any(m["name"] in token_vols for m in fm.get("volumeMounts", [])):
                problems.append(f"{where}: the sidecar needs the projected API token")
            node = next((c for c in spec.get("containers", []) if c["name"] == "cardano-node"), None)
            if node is None:
                problems.append(f"{where}: no cardano-node container")
                continue
            args = node.get("args", [])
            if not any(a in ("--start-as-non-producing-node", "--non-producing-node") for a in args):
                problems.append(f"{where}: cardano-node must start non-producing")
            for flag in ("--shelley-kes-key", "--shelley-vrf-key", "--shelley-operational-certificate"):
                if flag not in args:
                    problems.append(f"{where}: cardano-node needs {flag}")
            for c in list(inits.values()) + spec.get("containers", []):
                check_security(f"{where} container {c['name']}", c, problems)
            # The real keys: only the sidecar mounts them, read-only.
            keys = [n for n, v in vols.items() if v.get("secret", {}).get("items")]
            for c in list(inits.values()) + spec.get("containers", []):
                for m in c.get("volumeMounts", []):
                    if m["name"] in keys and c["name"] != "cardano-forge-manager":
                        problems.append(f"{where}: {c['name']} must not mount the real keys ({m['name']})")
                    if m["name"] in keys and not m.get("readOnly"):
                        problems.append(f"{where}: the real keys must be mounted read-only")
            cred = vols.get("node-credentials", {}).get("emptyDir")
            if not cred or cred.get("medium") != "Memory":
                problems.append(f"{where}: node-credentials must be an emptyDir with medium Memory")
    if problems:
        fail(problems, "manifest policy")
    print(f"  ok: policy holds for {sts_count} StatefulSet(s) in {len(files)} render(s); env names exist in src/config")


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    {"metric-names": lambda: cmd_metric_names(),
     "dashboard": lambda: cmd_dashboard(),
     "rule-tests": lambda: cmd_rule_tests(),
     "custom-resources": lambda: cmd_custom_resources(args[0], args[1:]),
     "manifests": lambda: cmd_manifests(args),
     "secret-names": lambda: cmd_secret_names(*args)}[cmd]()


if __name__ == "__main__":
    main()
