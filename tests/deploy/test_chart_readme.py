"""helm/outboundiq-relay/README.md is generated from values.yaml's comments and kept fresh."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from types import ModuleType

import pytest

from tests.deploy.chart import CHART, ROOT

SCRIPT = ROOT / "helm" / "chart_readme.py"
VALUES = (CHART / "values.yaml").read_text()
CHART_YAML = (CHART / "Chart.yaml").read_text()


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("chart_readme", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_readme_is_fresh(generator: ModuleType) -> None:
    """The committed README is exactly what the script renders from today's values.yaml."""
    committed = (CHART / "README.md").read_text()
    assert committed == generator.render(VALUES, CHART_YAML), (
        "helm/outboundiq-relay/README.md is stale: run python helm/chart_readme.py"
    )


def test_check_mode_passes_on_the_committed_readme() -> None:
    """`python helm/chart_readme.py --check` (what CI runs) exits 0 on the committed tree."""
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_a_changed_comment_changes_the_readme(generator: ModuleType) -> None:
    """Editing a value's comment or default gives a different README: staleness is caught."""
    base = generator.render(VALUES, CHART_YAML)
    reworded = VALUES.replace("# -- Pods to run.", "# -- Pods to start.", 1)
    assert reworded != VALUES and generator.render(reworded, CHART_YAML) != base
    bumped = VALUES.replace("replicaCount: 1\n", "replicaCount: 2\n", 1)
    assert bumped != VALUES and generator.render(bumped, CHART_YAML) != base


def test_every_documented_key_has_a_row(generator: ModuleType) -> None:
    """Each `# --` comment followed by its key gives one row, with type and default."""
    rows = {key: (kind, default, text) for key, kind, default, text in generator.rows(VALUES)}
    documented = len(re.findall(r"^[ ]*# -- .*(?:\n[ ]*#(?! --).*)*\n[ ]*[A-Za-z_]", VALUES, re.M))
    assert len(rows) == documented >= 90
    assert rows["replicaCount"][:2] == ("int", "1")
    assert rows["prometheusRule.dialerSilent.window"][:2] == ("string", '"30m"')
    assert rows["ingress.hosts"][0] == "list" and "/hooks" in rows["ingress.hosts"][1]
    assert not [k for k in rows if k.startswith("ingress.hosts.")]  # inside a documented value
    for key in ("commonLabels", "extraEnvFrom", "initContainers", "prometheusRule.enabled"):
        assert rows[key][2], key
