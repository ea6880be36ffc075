"""The generic mapping's preset helpers: renamed keys, placeholders and value tables."""

from __future__ import annotations

import re
from datetime import UTC
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mappings.generic import GenericMapping, blank_placeholders
from relay.core.mapping import InboundRequest, MappingContext, MappingResult
from relay.core.sources import parse_sources
from relay.exceptions import ConfigError

CTX = MappingContext(source="g", tz=UTC, timezone_name="UTC")
VICI = re.compile(r"--A--[A-Za-z0-9_]+--B--")


def run(data: Any, **options: Any) -> MappingResult:
    request = InboundRequest(method="GET", content_type="", query={}, body=b"", data=data)
    return GenericMapping(options).map(request, CTX)


def test_names_read_a_renamed_key() -> None:
    """`names` makes a key the sender renamed count under the name the fields expect."""
    result = run(
        {"PhoneNumber": "5125550187", "phone_number": "ignored"},
        names={"phone_number": "PhoneNumber"},
        fields={"prospect_phone": "phone_number"},
    )
    assert result.fields["prospect_phone"] == "5125550187"


def test_lookup_table_then_default() -> None:
    """A value in the lookup table is replaced (any case); a value not in it falls to default."""
    spec = {"path": "campaign", "lookup": {"SALES1": "5125550100"}, "default": "5125550199"}
    assert run({"campaign": "sales1"}, fields={"ani": spec}).fields["ani"] == "5125550100"
    assert run({"campaign": "OTHER"}, fields={"ani": spec}).fields["ani"] == "5125550199"
    no_default = {"path": "campaign", "lookup": {}}
    assert "ani" not in run({"campaign": "SALES1"}, fields={"ani": no_default}).fields


def test_placeholders_are_empty_before_fallbacks() -> None:
    """An unfilled token counts as empty, so `a || b` falls through to b (the dial is right:
    nothing to report); the source's own `unsubstituted` patterns count too."""
    result = run(
        {"dialed_number": "--A--dialed_number--B--", "phone_number": "5125550187"},
        fields={"prospect_phone": "dialed_number || phone_number"},
    )
    assert result.fields["prospect_phone"] == "5125550187"
    assert result.unrendered == {}
    custom = run(
        {"dialed_number": "%%dialed%%", "phone_number": "5125550187"},
        unsubstituted=[r"%%\w+%%"],
        fields={"prospect_phone": "dialed_number || phone_number"},
    )
    assert custom.fields["prospect_phone"] == "5125550187"


def test_a_placeholder_with_nothing_in_its_place_is_reported() -> None:
    """When no fallback is real the field's placeholder is reported by Dials field, and the
    spec's default applies; a Dials-named key is reported the same way."""
    result = run(
        {"campaign": "{{campaign}}", "skill_name": "${input.queue}", "zip": "[None]"},
        fields={"ani": {"path": "campaign", "lookup": {"S1": "5125550100"}, "default": "1"}},
    )
    assert result.fields["ani"] == "1"
    assert result.unrendered == {
        "ani": "{{campaign}}",
        "zip": "[None]",
        "skill_name": "${input.queue}",
    }
    assert result.fields["skill_name"] == result.fields["zip"] == ""


def test_invalid_pattern_names_the_mapping() -> None:
    """A bad regular expression in `unsubstituted` fails start-up naming the mapping."""
    text = "sources:\n  g:\n    auth: {type: none}\n    options: {unsubstituted: ['(']}\n"
    with pytest.raises(ConfigError, match=r"mapping 'generic'.*unsubstituted.*invalid regular"):
        parse_sources(text, env={})


token = st.from_regex(r"--A--[A-Za-z0-9_]{1,12}--B--", fullmatch=True)
plain = st.text(max_size=12).filter(lambda s: not VICI.fullmatch(s.strip()))
keys = st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=6)
values = st.recursive(
    st.one_of(token, plain, st.integers(), st.none()),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(keys, children, max_size=3),
    max_leaves=12,
)


def _strings(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return []


def _vici(text: str) -> bool:
    return VICI.fullmatch(text.strip()) is not None


@given(values)
def test_blank_placeholders_property(data: object) -> None:
    """Every placeholder becomes "", everything else is kept as is, and `found` says whether
    there was one (untouched data is returned as is)."""
    blanked, found = blank_placeholders(data, _vici)
    before, after = _strings(data), _strings(blanked)
    assert len(before) == len(after)
    assert found == any(_vici(s) for s in before)
    for old, new in zip(before, after, strict=True):
        assert new == ("" if _vici(old) else old)
    if not found:
        assert blanked is data
