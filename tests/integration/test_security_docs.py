"""docs/security.md stays true: its examples validate and its settings exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from relay.config.settings import Settings
from relay.core.sources import parse_sources

DOC = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text()
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC, re.S)


@pytest.mark.parametrize("block", BLOCKS)
def test_yaml_examples_validate(block: str) -> None:
    """Every sources example in docs/security.md (and its commented alternatives) validates."""
    variants = [block]
    for line in block.splitlines():
        alternative = re.match(r"(\s+)# or: (auth: .*)", line)
        if alternative:
            variants.append(re.sub(r"\n\s+auth: .*", "\n" + "".join(alternative.groups()), block))
    env = {name: "whsec_" + "a" * 32 for name in re.findall(r"\$\{(\w+)\}", block)}
    for text in variants:
        indented = "\n".join("  " + line for line in text.splitlines())
        assert parse_sources("sources:\n" + indented, env=env)


def test_documented_settings_exist() -> None:
    """Each RELAY_* setting in the security page's table is a real setting."""
    table = DOC.split("## Settings", 1)[1]
    names = re.findall(r"`RELAY_([A-Z_]+)`", table)
    assert names
    assert {n.lower() for n in names} <= set(Settings.model_fields)


def test_probed_tests_exist() -> None:
    """Each test the probes table names is a test function in the file it names."""
    probes = DOC.split("## What the test suite probes", 1)[1].split("\n## ", 1)[0]
    named = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", probes)
    assert named
    root = Path(__file__).resolve().parents[2]
    for path, name in named:
        assert re.search(rf"^(async )?def {name}\(", (root / path).read_text(), re.M), (path, name)
