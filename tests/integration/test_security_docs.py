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


ROOT = Path(__file__).resolve().parents[2]
PROBES = DOC.split("## What the test suite probes", 1)[1].split("\n## ", 1)[0]


def test_every_probe_names_tests_that_exist() -> None:
    """Each probe of the table names its expected answer and tests that exist, by file and
    function (so renaming or deleting one fails here until the page says so)."""
    rows = [line for line in PROBES.splitlines() if line.startswith("| **")]
    probes = set(re.findall(r"^\| \*\*([^*]+)\*\*", PROBES, re.M))
    assert probes >= {"auth bypass", "replay", "malformed input", "slow clients", "config abuse"}
    for row in rows:
        _, answer, tests, _ = row.rsplit("|", 3)
        assert answer.strip(), row
        named = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", tests)
        assert named, row
        for path, function in named:
            source = (ROOT / path).read_text()
            assert re.search(rf"^(async )?def {function}\(", source, re.M), f"{path}::{function}"
