"""The RingCentral mapping's rules, as properties: one final event per session (the customer
party's Disconnected), whatever order the events come in; the call's direction from the
customer party's own leg; our number and theirs from the right side; reasons in words."""

from __future__ import annotations

import contextlib
import random
from datetime import UTC
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mappings.ringcentral import DISPOSITIONS, RingCentralMapping, call_direction, disposition
from relay.core.mapping import InboundRequest, MappingContext, MappingResult
from relay.exceptions import MappingError
from tests.mappings.golden import load

CTX = MappingContext(source="ringcentral", tz=UTC, timezone_name="UTC")
CASES = load("ringcentral")
CODES = ["Setup", "Proceeding", "Answered", "Hold", "Disconnected", "Gone", "Parked", "VoiceMail"]
_phone = st.from_regex(r"\+1[2-9][0-9]{9}", fullmatch=True)


def mapped(envelope: Any, **options: Any) -> MappingResult:
    request = InboundRequest("POST", "application/json", {}, b"", envelope)
    return RingCentralMapping(options).map(request, CTX)


def envelope(*parties: dict[str, Any], session: str = "s-abc") -> dict[str, Any]:
    return {
        "uuid": "1",
        "event": "/restapi/v1.0/account/1/telephony/sessions",
        "timestamp": "2026-03-01T10:00:01.000Z",
        "body": {
            "sequence": 3,
            "telephonySessionId": session,
            "eventTime": "2026-03-01T10:00:00.500Z",
            "parties": list(parties),
            "origin": {"type": "Call"},
        },
    }


def test_one_final_event_per_real_call_in_any_order() -> None:
    """Of every real event of the corpus's calls, shuffled, exactly one per session maps to a
    dial (the rest are ignored), and it maps the same in any order (the mapping is stateless)."""
    real = [c for c in CASES if "_derived_from" not in c.doc]
    for seed in range(5):
        random.Random(seed).shuffle(real)
        dials: dict[str, list[str]] = {}
        for c in real:
            result = mapped(c.request["body"], **c.source.get("options", {}))
            if result.ignored is None:
                dials.setdefault(str(result.fields["dial_id"]), []).append(c.name)
        assert dials == {
            "s-c23b203d62db4f6aaee00717bafa99be": ["outbound_customer_hung_up"],
            "s-718107795d564867a6f635fd81e89940": ["inbound_ivr_caller_hung_up"],
        }


@given(
    own=st.sampled_from(["Inbound", "Outbound", "inbound", "OUTBOUND"]),
    business=_phone,
    customer=_phone,
    agent=st.text(min_size=1, max_size=20).filter(str.strip),
)
def test_the_call_direction_and_numbers_come_from_the_customer_party(
    own: str, business: str, customer: str, agent: str
) -> None:
    """The customer party's ``direction`` is its own leg: Inbound (into the customer) is a call
    we placed, so our number is its ``from``; Outbound is a call to us, our number its ``to``."""
    ours = {"phoneNumber": business, "name": agent, "extensionId": "100"}
    theirs = {"phoneNumber": customer}
    placed = own.casefold() == "inbound"
    party = {
        "id": "p-1",
        "direction": own,
        "from": ours if placed else theirs,
        "to": theirs if placed else ours,
        "status": {"code": "Disconnected"},
    }
    fields = mapped(envelope(party)).fields
    assert fields["call_direction"] == ("Outbound" if placed else "Inbound")
    assert (fields["ani"], fields["prospect_phone"]) == (business, customer)
    assert fields["agent_name"] == agent.strip()
    assert fields["dial_id"] == "s-abc"
    assert fields["datetime"] == "2026-03-01T10:00:00.500Z"


@given(
    code=st.sampled_from(CODES),
    extension=st.one_of(st.none(), st.just(""), st.from_regex(r"[0-9]{3,12}", fullmatch=True)),
    direction=st.sampled_from(["Inbound", "Outbound"]),
)
def test_only_the_customer_partys_disconnected_ends_the_call(
    code: str, extension: str | None, direction: str
) -> None:
    party: dict[str, Any] = {
        "direction": direction,
        "from": {"phoneNumber": "+15125550100"},
        "to": {"phoneNumber": "+15125550187"},
        "status": {"code": code.upper() if extension == "" else code},
    }
    if extension is not None:
        party["extensionId"] = extension
    result = mapped(envelope(party))
    final = code == "Disconnected" and not extension
    assert (result.ignored is None) == final, result.ignored


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
        max_leaves=20,
    )
)
def test_anything_else_is_ignored_or_a_mapping_error(body: Any) -> None:
    """Whatever arrives, the mapping answers ignored, fields, or MappingError: never a crash."""
    for data in (body, {"body": body}, {"body": {"telephonySessionId": "s-1", "parties": body}}):
        with contextlib.suppress(MappingError):
            mapped(data)


@given(st.from_regex(r"[A-Z][a-z]+(?:[A-Z][a-z]+){0,3}", fullmatch=True))
def test_reasons_are_words(reason: str) -> None:
    words = disposition({"code": "Disconnected", "reason": reason}, missed=False)
    if reason.casefold() in DISPOSITIONS:
        assert words == DISPOSITIONS[reason.casefold()]
    else:
        assert words.replace(" ", "") == reason
        assert words.count(" ") == sum(c.isupper() for c in reason) - 1


@pytest.mark.parametrize(
    ("status", "missed", "words"),
    [
        ({"code": "Disconnected"}, False, "Hung Up"),
        ({"code": "Disconnected"}, True, "Missed"),
        ({"code": "Disconnected", "reason": "TargetBusy"}, True, "Busy"),
    ],
)
def test_disposition_without_a_reason(status: dict[str, str], missed: bool, words: str) -> None:
    assert disposition(status, missed) == words


def test_an_unknown_direction_is_a_problem() -> None:
    assert call_direction("Sideways") is None
    party = {"direction": "Sideways", "status": {"code": "Disconnected"}}
    with pytest.raises(MappingError, match="call_direction"):
        mapped(envelope(party))


def test_a_routing_extension_is_the_skill_not_the_agent() -> None:
    ivr = {"phoneNumber": "+18003151571", "name": "IVR Menu 1001", "extensionId": "622"}
    party = {
        "direction": "Outbound",
        "from": {"phoneNumber": "+14083388064"},
        "to": ivr,
        "status": {"code": "Disconnected"},
    }
    fields = mapped(envelope(party), routing_extensions=["622"]).fields
    assert (fields["agent_name"], fields["skill_name"]) == ("", "IVR Menu 1001")
    assert mapped(envelope(party)).fields["agent_name"] == "IVR Menu 1001"


def test_non_calls_are_ignored() -> None:
    party = {"direction": "Inbound", "status": {"code": "Disconnected"}}
    note = envelope(party)
    note["body"]["origin"]["type"] = "GreetingsRecording"
    assert mapped(note).ignored == "greetingsrecording sessions are not calls"


def test_other_event_filters_are_ignored() -> None:
    note = envelope({"direction": "Inbound", "status": {"code": "Disconnected"}})
    note["event"] = "/restapi/v1.0/subscription/~?threshold=86400&interval=3600"
    assert mapped(note).ignored == "not a telephony session event"
    note["event"] = "/restapi/v1.0/account/1/extension/2/telephony/sessions?statusCode=Disconnected"
    assert mapped(note).ignored is None
