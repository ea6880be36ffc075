"""docs/deploy.md stays true to the chart: its values render, and the URLs it gives are printed."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.deploy import chart
from tests.deploy.chart import ROOT, render

DOC = (ROOT / "docs" / "deploy.md").read_text()
BLOCKS = re.findall(r"<!-- chart-values -->\s*```yaml\n(.*?)```", DOC, re.S)


def test_doc_has_a_values_file_per_mode() -> None:
    """The guide shows one values file for sqlite and one for redis."""
    backends = [yaml.safe_load(b)["queue"]["backend"] for b in BLOCKS]
    assert backends == ["sqlite", "redis"]


@pytest.mark.parametrize("block", BLOCKS, ids=["sqlite", "redis"])
def test_doc_values_render_and_lint(block: str) -> None:
    """Each documented values file lints clean and NOTES print the URLs the guide gives."""
    values: dict[str, Any] = yaml.safe_load(block)
    report = chart.lint(values)
    assert report["errors"] == [] and not [m for m in report["messages"] if m["severity"] >= 2]
    notes = render(values).notes
    five9 = "https://relay.example.com/hooks/five9?token=<FIVE9_HOOK_TOKEN>"
    genesys = "https://relay.example.com/hooks/genesys"
    assert five9 in DOC and genesys in DOC
    assert five9.replace("<FIVE9_HOOK_TOKEN>", "<secret>") in notes
    assert f"POST {genesys}\n    with header X-Api-Key: <secret>" in notes


@pytest.mark.parametrize("block", BLOCKS, ids=["sqlite", "redis"])
def test_doc_sources_pass_relay_check(block: str) -> None:
    """The sources in each documented values file validate, mappings and options included."""
    from relay.core.sources import parse_sources

    sources = yaml.safe_load(block)["sources"]
    text = yaml.safe_dump({"sources": sources})
    names = re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", text)
    assert set(parse_sources(text, env=dict.fromkeys(names, "xx"))) == set(sources)
