"""docs/vendors/genesys.md stays true to the code: its template, YAML and options."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import SecretStr

from mappings.genesys.data_action import KEYS, GenesysDataActionMapping
from mappings.genesys.eventbridge import GenesysOptions
from relay.core.dial import build_dial
from relay.core.mapping import InboundRequest, MappingContext
from relay.core.normalize import zone
from relay.core.sources import parse_sources
from tests.mappings.conftest import fixture

DOC = (Path(__file__).parents[2] / "docs" / "vendors" / "genesys.md").read_text()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, flags=re.DOTALL)


def test_recommended_data_action_template_maps_to_the_golden_dial() -> None:
    """The shipped Velocity template, rendered with the fixture's values, makes the golden dial."""
    [template] = _blocks("velocity")
    values = fixture("data_action", "body.json")
    rendered = re.sub(
        r"\$esc\.jsonString\(\$\{input\.(\w+)\}\)",
        lambda m: json.dumps(values[m.group(1)])[1:-1],
        template,
    )
    body = json.loads(rendered)
    assert list(body) == list(KEYS)
    tz = zone("America/Chicago")
    result = GenesysDataActionMapping().map(
        InboundRequest("POST", "application/json", {}, rendered.encode(), body),
        MappingContext("genesys-da", tz, "America/Chicago"),
    )
    dial = build_dial(result.fields, source="genesys-da", tz=tz)
    assert dial.model_dump() == fixture("data_action", "dial.json")


def test_documented_sources_are_valid() -> None:
    """Every sources YAML example in the guide validates."""
    env = {
        name: "x0"
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
