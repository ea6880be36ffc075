"""Unused input keys: what a request carried that no field of its mapping used."""

from __future__ import annotations

import functools

import orjson
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from relay.core.dial import DIAL_FIELDS
from relay.core.mapping import InboundRequest
from relay.core.pipeline import parse_request
from relay.core.sources import Source, parse_sources
from relay.core.usage import unused_keys
from tests.conftest import DEFAULT_KEY, dial_body

SOURCES = """
sources:
  plain: {auth: {type: none}}
  paths:
    auth: {type: none}
    options:
      fields:
        ani: call.from
        prospect_phone: call.to
        datetime: call.at
        disposition_name: "result || outcome"
  f9: {mapping: five9, auth: {type: none}}
  genesys:
    mapping: genesys
    auth: {type: none}
    options: {client_id: cid-0001, client_secret: genesys-secret-01}
"""


@functools.cache
def _sources() -> dict[str, Source]:
    return parse_sources(SOURCES, env={}, default_api_key=SecretStr(DEFAULT_KEY))


def _json(data: dict[str, object]) -> InboundRequest:
    return parse_request("POST", "application/json", {}, orjson.dumps(data))


def test_keys_no_field_read_are_listed_nested_ones_by_path() -> None:
    """A key a JMESPath field reads is used, and so is a Dials field's own name; unread
    siblings, a whole unread object and a top-level extra are listed, in input order, as
    dotted paths."""
    sources = _sources()
    body = {
        "call": {"from": "5125550100", "to": "5125550187", "at": "2026-08-03 09:00:06",
                 "leg": 2},
        "result": "Sale",
        "crm": {"lead": {"id": 7}},
        "campaign_name": "Spring",  # not in `fields`: read by its Dials name, so used
        "note": "called back",
    }  # fmt: skip
    request = _json(body)
    assert unused_keys(sources["paths"], request) == ["call.leg", "crm", "note"]


def test_of_two_keys_feeding_one_field_with_one_value_one_is_used() -> None:
    """`result || outcome` with the same value in both: the first goes, the second is then
    needed, so only the first is listed (never both)."""
    sources = _sources()
    base = {"call": {"from": "5125550100", "to": "5125550187", "at": "2026-08-03 09:00:06"}}
    same = _json({**base, "result": "Sale", "outcome": "Sale"})
    assert unused_keys(sources["paths"], same) == ["result"]
    differ = _json({**base, "result": "Sale", "outcome": "No Answer"})
    assert unused_keys(sources["paths"], differ) == ["outcome"]


def test_a_fallback_is_unused_only_when_the_preferred_key_is_set() -> None:
    """Five9's `number` stands in for an empty `dnis`: listed when dnis is set, used when
    dnis is empty (then dnis, which carried nothing, is listed); worksheet answers are never
    read."""
    f9 = _sources()["f9"]
    params = {"call_id": "42", "ani": "5125550100", "dnis": "5125550187",
              "number": "5125550111", "type_name": "Outbound", "disposition_name": "Sale",
              "start_timestamp": "20260821160006123", "Q1": "yes"}  # fmt: skip
    get = parse_request("GET", "", params, b"")
    assert unused_keys(f9, get) == ["number", "Q1"]
    no_dnis = parse_request("GET", "", {**params, "dnis": ""}, b"")
    assert unused_keys(f9, no_dnis) == ["dnis", "Q1"]  # an empty dnis gave nothing


def test_a_deferred_job_uses_what_it_carries() -> None:
    """A Genesys event becomes a job carrying its eventBody: the body's keys are used, the
    envelope's others are not (detail-type only stands in for a missing topicName)."""
    genesys = _sources()["genesys"]
    conversation = "5f1c3f2e-9a43-4a0b-8b2e-1b6c2f0d9a11"
    event = {
        "version": "0",
        "id": "evt-1",
        "detail-type": f"v2.detail.events.conversation.{conversation}.acw",
        "detail": {
            "topicName": f"v2.detail.events.conversation.{conversation}.acw",
            "eventBody": {"conversationId": conversation, "mediaType": "VOICE"},
        },
    }
    assert unused_keys(genesys, _json(event)) == ["version", "id", "detail-type"]


def test_not_an_object_has_no_keys() -> None:
    """A JSON array or an empty body has no keys to list."""
    plain = _sources()["plain"]
    assert unused_keys(plain, parse_request("POST", "application/json", {}, b"[1]")) == []
    assert unused_keys(plain, parse_request("GET", "", {}, b"")) == []


extra_keys = st.dictionaries(
    st.text(min_size=1, max_size=10).filter(lambda k: k not in DIAL_FIELDS),
    st.text(max_size=10) | st.integers(-(2**63), 2**63 - 1),
    max_size=6,
)


@given(extra=extra_keys)
def test_keys_beside_a_dials_payload_are_exactly_the_unused_ones(
    extra: dict[str, object],
) -> None:
    """For a source without `fields`, the keys that are not Dials fields are listed (in
    input order) and no Dials field ever is."""
    plain = _sources()["plain"]
    request = _json({**dial_body(), **extra})
    assert unused_keys(plain, request) == list(extra)
