"""docs/vendors/genesys.md stays true to the code: its template, YAML and options."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from mappings.genesys.data_action import KEYS, GenesysDataActionMapping
from mappings.genesys.eventbridge import GenesysOptions
from relay.core.dial import build_dial
from relay.core.mapping import InboundRequest, MappingContext
from relay.core.normalize import zone
from relay.core.preview import preview_request
from relay.core.sources import parse_sources
from tests.mappings.conftest import fixture
from tests.support.doc_examples import rendered_velocity

DOC = (Path(__file__).parents[2] / "docs" / "vendors" / "genesys.md").read_text()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, flags=re.DOTALL)


def _preview(rendered: str) -> dict[str, Any]:
    """The dial a rendered body makes through a genesys-data-action source, and warnings."""
    source = parse_sources(
        "sources:\n  da:\n    mapping: genesys-data-action\n    auth: {type: none}\n"
        "    timezone: America/Chicago\n",
        env={},
    )["da"]
    request = InboundRequest(
        "POST", "application/json", {}, rendered.encode(), json.loads(rendered)
    )
    outcome = preview_request(source, request)
    assert outcome.dial is not None, outcome.errors
    return {**outcome.dial, "warnings": outcome.warnings}


def test_recommended_data_action_template_maps_to_the_golden_dial() -> None:
    """The shipped Velocity template, rendered with the fixture's values, makes the golden dial."""
    [template] = _blocks("velocity")
    values = fixture("data_action", "body.json")
    rendered = rendered_velocity(template, values)
    body = json.loads(rendered)
    assert list(body) == list(KEYS)
    assert body == values
    tz = zone("America/Chicago")
    result = GenesysDataActionMapping().map(
        InboundRequest("POST", "application/json", {}, rendered.encode(), body),
        MappingContext("genesys-da", tz, "America/Chicago"),
    )
    dial = build_dial(result.fields, source="genesys-da", tz=tz)
    assert dial.model_dump() == fixture("data_action", "dial.json")


UNSET = (
    "callerAddress",
    "campaignId",
    "campaignName",
    "dispositionName",
    "leadCreated",
    "attempts",
)


def _inbound_call() -> dict[str, str | None]:
    values: dict[str, str | None] = {
        **fixture("data_action", "body.json"),
        "direction": "inbound",
        "ani": "tel:+15125550166",
        "dnis": "tel:+18005550100",
    }
    values.update(dict.fromkeys(UNSET))
    return values


def test_documented_template_renders_unset_inputs_empty() -> None:
    """Every input of the documented template is guarded: an unset one is "" in the body."""
    [template] = _blocks("velocity")
    body = json.loads(rendered_velocity(template, _inbound_call()))
    assert all(body[key] == "" for key in UNSET)
    assert "$" not in json.dumps(body)
    assert _preview(rendered_velocity(template, _inbound_call()))["call_direction"] == "Inbound"


def test_formal_notation_template_with_unset_inputs_keeps_the_call() -> None:
    """The old template (`"$esc.jsonString(${input.x})"`) sends unset inputs as their own
    text: the call stays Inbound with the business's number as ani, the unset date and
    attempts are empty (no 422), and each placeholder is a warning by Dials field."""
    old = "{\n" + ",\n".join(f'"{k}": "$esc.jsonString(${{input.{k}}})"' for k in KEYS) + "\n}"
    rendered = rendered_velocity(old, _inbound_call())
    assert json.loads(rendered)["campaignId"] == "$esc.jsonString(${input.campaignId})"
    dial = _preview(rendered)
    assert dial["call_direction"] == "Inbound"
    assert (dial["ani"], dial["prospect_phone"]) == ("8005550100", "5125550166")
    assert dial["campaign_id"] == dial["sys_created_date_original"] == ""
    assert dial["total_dial_attempts"] == ""
    assert dial["disposition_name"] == "Sale"
    assert (
        "campaign_id: $esc.jsonString(${input.campaignId}) did not substitute (treated as empty)"
        in dial["warnings"]
    )


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
