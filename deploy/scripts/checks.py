#!/usr/bin/env python3
"""Offline checks used by deploy/check.sh (stdlib + PyYAML; promtool / check-jsonschema on PATH).

    checks.py metric-names                    rules.yaml and the dashboard use only deploy/metrics.txt names
    checks.py dashboard                       the Grafana dashboard's structure, and its PromQL via promtool
    checks.py rule-tests                      rules_test.yaml has a firing and a not-firing case per alert
    checks.py custom-resources OUTDIR FILE..  validates CardanoForgeCluster/CardanoLeader objects in the
                                              given multi-document YAML files against the CRD schemas
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


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    {"metric-names": lambda: cmd_metric_names(),
     "dashboard": lambda: cmd_dashboard(),
     "rule-tests": lambda: cmd_rule_tests(),
     "custom-resources": lambda: cmd_custom_resources(args[0], args[1:])}[cmd]()


if __name__ == "__main__":
    main()
