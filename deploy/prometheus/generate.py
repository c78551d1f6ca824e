#!/usr/bin/env python3
"""Generates the prometheus-operator PrometheusRule and the Helm chart's copy of the rules from
rules.yaml (the source of truth).

    python3 deploy/prometheus/generate.py          # write the generated files
    python3 deploy/prometheus/generate.py --check  # exit 1 if any is out of date (deploy/check.sh)
"""
import pathlib
import sys

import yaml

HERE = pathlib.Path(__file__).resolve().parent
SOURCE = HERE / "rules.yaml"
HEADER = (
    "# GENERATED from deploy/prometheus/rules.yaml by deploy/prometheus/generate.py; do not edit.\n"
)


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(obj):
    return yaml.dump(obj, Dumper=_Dumper, sort_keys=False, width=120, allow_unicode=True)


def outputs():
    rules = yaml.safe_load(SOURCE.read_text())
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "cardano-forge-manager",
            "labels": {
                "app.kubernetes.io/name": "cardano-forge-manager",
                "app.kubernetes.io/part-of": "cardano-forge-manager",
                "prometheus": "k8s",
                "role": "alert-rules",
            },
        },
        "spec": {"groups": rules["groups"]},
    }
    chart = HERE.parent / "helm" / "cardano-forge-manager" / "files" / "prometheus-rules.yaml"
    return {
        HERE / "prometheusrule.yaml": HEADER + dump(rule),
        chart: HEADER + dump({"groups": rules["groups"]}),
    }


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    for path, text in outputs().items():
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path}")
    if stale:
        for path in stale:
            print(f"out of date: {path} (run: python3 deploy/prometheus/generate.py)", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
