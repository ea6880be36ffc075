"""docs/vendors/genesys.md stays true to the code: its template, YAML and options."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import SecretStr

from mappings.genesys.eventbridge import GenesysOptions
from relay.core.sources import parse_sources

DOC = (Path(__file__).parents[2] / "docs" / "vendors" / "genesys.md").read_text()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, flags=re.DOTALL)


def test_documented_sources_are_valid() -> None:
    """Every sources YAML example in the guide validates."""
    env = {
        name: "x"
        for name in re.findall(r"\$\{(\w+)\}", DOC)
        if name.isupper() and not name.startswith("RELAY")
    }
    examples = [b for b in _blocks("yaml") if b.startswith("sources:")]
    assert len(examples) == 2
    for text in examples:
        assert parse_sources(text, env=env, default_api_key=SecretStr("k"))


def test_every_option_is_documented() -> None:
    """The options table names every Genesys option."""
    for name in GenesysOptions.model_fields:
        assert f"`{name}`" in DOC, name
