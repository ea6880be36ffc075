"""The Helm chart rendered by Helm's own template engine (helm-python-sdk embeds Helm's Go SDK).

``render(values)`` gives the manifests as dicts, looked up by kind and name suffix; NOTES.txt
comes back as text. No cluster and no helm binary are involved.
"""

from __future__ import annotations

import base64
import copy
import fcntl
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "outboundiq-relay"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
RELEASE, NAMESPACE = "relay", "dialers"
FULLNAME = f"{RELEASE}-outboundiq-relay"
#: Kinds that come from CRDs: no Kubernetes schema in kubernetes-validate, checked by node.
CRD_KINDS = {"HTTPRoute", "ServiceMonitor", "PrometheusRule"}
CRD_VALIDATOR = Path(__file__).resolve().parent / "crd"


def changed(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A deep copy of ``base`` with dotted keys set: changed(v, **{"queue.backend": "redis"})."""
    out = copy.deepcopy(base)
    for dotted, value in changes.items():
        node = out
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return out


def ci_values(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


@dataclass
class Rendered:
    docs: list[dict[str, Any]]
    notes: str

    def kinds(self) -> set[str]:
        return {d["kind"] for d in self.docs}

    def all(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["kind"] == kind]

    def get(self, kind: str, suffix: str = "") -> dict[str, Any]:
        found = [d for d in self.all(kind) if d["metadata"]["name"] == FULLNAME + suffix]
        assert len(found) == 1, f"expected one {kind} {FULLNAME}{suffix}, got {len(found)}"
        return found[0]

    def maybe(self, kind: str) -> dict[str, Any] | None:
        found = self.all(kind)
        return found[0] if found else None

    @property
    def pod(self) -> dict[str, Any]:
        spec: dict[str, Any] = self.get("Deployment")["spec"]["template"]["spec"]
        return spec

    @property
    def container(self) -> dict[str, Any]:
        containers: list[dict[str, Any]] = self.pod["containers"]
        return containers[0]

    def annotations(self) -> dict[str, str]:
        annotations: dict[str, str] = self.get("Deployment")["spec"]["template"]["metadata"][
            "annotations"
        ]
        return annotations

    def secret_data(self) -> dict[str, str]:
        """The chart Secret decoded ({} when the chart makes none)."""
        secret = self.maybe("Secret")
        if secret is None:
            return {}
        return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}

    def sources_yaml(self) -> str:
        text: str = self.get("ConfigMap", "-sources")["data"]["sources.yaml"]
        return text

    def source_vars(self) -> set[str]:
        """The ${VAR} names the sources file uses (comments aside)."""
        return set(re.findall(r"\$\{(\w+)", json.dumps(yaml.safe_load(self.sources_yaml()))))


def render(values: dict[str, Any] | None = None) -> Rendered:
    """Render the chart as ``helm template relay --namespace dialers`` would."""
    with helm.Chart.load(CHART) as chart:
        manifests = chart.render(
            copy.deepcopy(values), name=RELEASE, namespace=NAMESPACE, is_install=True
        )
    docs: list[dict[str, Any]] = []
    notes = ""
    for name, text in sorted(manifests.items()):
        if name.endswith("NOTES.txt"):
            notes = text
            continue
        docs.extend(d for d in yaml.safe_load_all(text) if d)
    return Rendered(docs=docs, notes=notes)


def lint(values: dict[str, Any] | None) -> dict[str, Any]:
    report: dict[str, Any] = helm.lint(CHART, copy.deepcopy(values), strict=True)
    return report


def validate_crds(docs: list[dict[str, Any]]) -> list[str]:
    """Validate CRD-kind manifests with the Gateway API / Prometheus Operator models (node).

    Returns one line per document: "<kind> ok" or "<kind> <error>".
    """
    node = shutil.which("node")
    npm = shutil.which("npm")
    assert node and npm, "node and npm are needed to validate the CRD kinds"
    # One install for all pytest-xdist workers: `npm ci` empties node_modules first, so a
    # second worker must neither run it again nor read a half-installed tree meanwhile.
    lock = os.open(CRD_VALIDATOR, os.O_RDONLY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (CRD_VALIDATOR / "node_modules" / ".package-lock.json").is_file():
            subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=CRD_VALIDATOR,
                check=True,
                capture_output=True,
                timeout=300,
            )
    finally:
        os.close(lock)  # releases the lock
    out = subprocess.run(
        [node, "validate.mjs"],
        cwd=CRD_VALIDATOR,
        input=json.dumps(docs),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return out.stdout.splitlines()
