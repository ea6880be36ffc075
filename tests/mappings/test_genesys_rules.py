"""The Genesys mapping rules, parsers and options, with property tests for every parser."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mappings.genesys.api import login_url_for, normalize_api_url
from mappings.genesys.conversation import read_details
from mappings.genesys.data_action import GenesysDataActionMapping
from mappings.genesys.eventbridge import JOB_KIND, GenesysMapping
from mappings.genesys.rules import (
    call_direction,
    choose_disposition,
    dialer_result,
    parse_topic,
    party_numbers,
)
from relay.core.mapping import InboundRequest, MappingContext, ResolvingMapping
from relay.core.sources import parse_sources
from relay.exceptions import ConfigError, MappingError
from tests.mappings.conftest import fixture

CONTEXT = MappingContext(source="genesys", tz=UTC, timezone_name="UTC")
OPTIONS = {"client_id": "c", "client_secret": "s", "settle_seconds": 60}
ids = st.text(st.characters(categories=["L", "N"]) | st.just("-"), min_size=1, max_size=40)
DA_KEYS = st.sampled_from(["conversationId", "ani", "dnis", "direction", "conversationStart"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=30,
)


def _request(data: Any) -> InboundRequest:
    return InboundRequest("POST", "application/json", {}, b"", data)


@given(ids, st.sampled_from(["customer.end", "acw", "wrapup", "user.end", "outbound"]))
def test_parse_topic_round_trips(conversation_id: str, event: str) -> None:
    """A detail-event topic gives back its conversation id and event name."""
    assert parse_topic(f"v2.detail.events.conversation.{conversation_id}.{event}") == (
        conversation_id,
        event,
    )


@given(st.text(max_size=60))
def test_parse_topic_rejects_other_text(text: str) -> None:
    """Anything but a conversation detail-event topic is a ValueError, nothing else."""
    try:
        _conversation_id, event = parse_topic(text)
    except ValueError:
        return
    assert event and text.strip().startswith("v2.detail.events.conversation.")


def test_parse_topic_template_has_no_id() -> None:
    """EventBridge's detail-type carries the {id} template: the event name, no id."""
    assert parse_topic("v2.detail.events.conversation.{id}.acw") == ("", "acw")


@given(st.lists(st.text(st.characters(categories=["L"]), min_size=1, max_size=10), max_size=5))
def test_dialer_result_is_the_last_part(parts: list[str]) -> None:
    """``disposition.classification.callable.X`` → ``X``; idempotent; never dotted."""
    result = dialer_result(".".join(parts))
    assert "." not in result
    assert dialer_result(result) == result
    assert result == (parts[-1].strip() if parts else "")


@given(st.from_regex(r"[a-z0-9]{1,10}(\.[a-z0-9]{1,10}){1,3}", fullmatch=True))
def test_region_hosts(domain: str) -> None:
    """A region domain gives https://api.<domain> and https://login.<domain>."""
    api = normalize_api_url(domain)
    assert api == f"https://api.{domain}"
    assert normalize_api_url(api + "/") == api
    assert login_url_for(api) == f"https://login.{domain}"


def test_login_host_needs_an_api_host() -> None:
    """A region URL whose host is not api.* cannot name its login host by itself."""
    with pytest.raises(ValueError, match="login_url"):
        login_url_for("http://127.0.0.1:9999")


@pytest.mark.parametrize(
    ("direction", "campaign", "expected"),
    [
        ("outbound", "c-1", "Outbound"),
        ("OUTBOUND", "", "Manual"),
        ("inbound", "", "Inbound"),
        ("Inbound", "c-1", "Outbound"),
    ],
)
def test_call_direction(direction: str, campaign: str, expected: str) -> None:
    """Campaign → Outbound; outbound without campaign → Manual; inbound → Inbound."""
    assert call_direction(direction, campaign) == expected


def test_party_numbers() -> None:
    """Inbound: ani is the business's number (dnis); outbound: caller ID, else callerAddress."""
    assert party_numbers("Inbound", "caller", "ours") == ("ours", "caller")
    assert party_numbers("Outbound", "", "prospect", "campaign-cid") == ("campaign-cid", "prospect")
    assert party_numbers("Manual", "cid", "prospect", "campaign-cid") == ("cid", "prospect")


def test_choose_disposition() -> None:
    """Wrap-up name first, then the dialer's result; renames are case-insensitive."""
    assert choose_disposition("Sale", "disposition.classification.callable.person") == "Sale"
    assert choose_disposition("", "disposition.classification.callable.busy") == "busy"
    assert choose_disposition("", "NoAnswer", {"noanswer": "No Answer"}) == "No Answer"
    assert choose_disposition("", "") == ""


@given(json_values)
def test_read_details_never_raises(details: Any) -> None:
    """Any JSON object reads into facts (missing parts empty), never an exception."""
    if isinstance(details, dict):
        read_details(details)


@given(json_values)
def test_eventbridge_map_only_raises_mapping_errors(data: Any) -> None:
    """Whatever is POSTed, map() returns a job, an ignore, or a MappingError."""
    try:
        result = GenesysMapping(OPTIONS).map(_request(data), CONTEXT)
    except MappingError:
        return
    assert result.ignored is not None or result.job is not None


@given(
    st.dictionaries(st.sampled_from(["conversationId", "ani", "dnis", "direction"]), json_values)
)
def test_data_action_map_only_raises_mapping_errors(data: dict[str, Any]) -> None:
    """Whatever the Data Action sends, map() returns fields or a MappingError."""
    try:
        result = GenesysDataActionMapping().map(_request(data), CONTEXT)
    except MappingError:
        return
    assert result.fields["dial_id"]


def test_terminal_event_becomes_one_job_and_others_are_ignored() -> None:
    """customer.end/acw/wrapup make a settle-delayed job keyed by conversation; others don't."""
    mapping = GenesysMapping(OPTIONS)
    assert isinstance(mapping, ResolvingMapping)
    outbound, user_end, customer_end = fixture("outbound_agent", "events.json")[:3]
    job = mapping.map(_request(customer_end), CONTEXT).job
    assert job is not None
    assert (job.kind, job.key, job.delay) == (
        JOB_KIND,
        customer_end["detail"]["eventBody"]["conversationId"],
        60,
    )
    for event in (outbound, user_end):
        assert mapping.map(_request(event), CONTEXT).ignored


def test_non_voice_conversations_are_ignored() -> None:
    """A chat or email conversation's end is acknowledged, not resolved."""
    event = fixture("inbound", "events.json")[0]
    event["detail"]["eventBody"]["mediaType"] = "MESSAGE"
    assert "MESSAGE" in str(GenesysMapping(OPTIONS).map(_request(event), CONTEXT).ignored)


def test_bad_event_names_the_field() -> None:
    """An envelope without a detail event is a MappingError naming where."""
    with pytest.raises(MappingError) as caught:
        GenesysMapping(OPTIONS).map(_request({"detail": {"topicName": "x"}}), CONTEXT)
    assert caught.value.problems[0].field == "detail.eventBody"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("{client_secret: s}", "client_id"),
        ("{client_id: c, client_secret: s, region: 'ftp://x'}", "region"),
        ("{client_id: c, client_secret: s, contact_columns: {phone: Phone}}", "not Dials"),
        ("{client_id: c, client_secret: s, settle_seconds: -1}", "settle_seconds"),
    ],
)
def test_bad_options_are_config_errors(options: str, message: str) -> None:
    """Invalid Genesys options fail at start-up naming the problem."""
    text = (
        f"sources:\n  g:\n    mapping: genesys\n    auth: {{type: none}}\n    options: {options}\n"
    )
    with pytest.raises(ConfigError, match=message):
        parse_sources(text, env={})


def test_data_action_key_renames() -> None:
    """The admin's own key names map through options.keys."""
    mapping = GenesysDataActionMapping({"keys": {"conversationId": "Interaction ID"}})
    conversation = "0b6c7a1e-5d2f-4e0a-9b8c-1f2e3d4c5b6a"
    body = {"Interaction ID": conversation, "dnis": "5125550187", "ani": "5125550100"}
    assert mapping.map(_request(body), CONTEXT).fields["dial_id"] == conversation
    with pytest.raises(MappingError, match="Interaction ID"):
        mapping.map(_request({"conversationId": conversation}), CONTEXT)
    with pytest.raises(ValueError, match="unknown keys"):
        GenesysDataActionMapping({"keys": {"nope": "x"}})
