"""The Aircall mapping's rules: only call.ended maps, numbers as Aircall formats them, the
outcome, and the options (disposition, skill, agent, rejected_status)."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mappings.aircall import AircallMapping, aircall_number, outcome
from relay.core.dial import build_dial
from relay.core.mapping import InboundRequest, MappingContext
from relay.core.normalize import normalize_phone
from relay.exceptions import MappingError

CTX = MappingContext(source="aircall", tz=UTC, timezone_name="UTC")


def call(**data: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": 780836699,
        "direction": "outbound",
        "started_at": 1646389735,
        "answered_at": 1646389740,
        "raw_digits": "+43 720 880079",
        "number": {"name": "Koens Test", "digits": "+44 330 818 6690"},
        "user": {"name": "Koen Test"},
        "tags": [],
        "teams": [],
    }
    return {"resource": "call", "event": "call.ended", "timestamp": 1, "data": {**base, **data}}


def mapped(body: Any, **options: Any) -> dict[str, object]:
    request = InboundRequest("POST", "application/json", {}, b"", body)
    result = AircallMapping(options).map(request, CTX)
    assert result.ignored is None
    return dict(result.fields)


@pytest.mark.parametrize(
    "event", ["call.hungup", "call.created", "call.tagged", "contact.created", "", None, 5]
)
def test_only_call_ended_maps(event: object) -> None:
    body = {**call(), "event": event}
    result = AircallMapping().map(InboundRequest("POST", "application/json", {}, b"", body), CTX)
    assert result.ignored is not None and result.fields == {}


def test_a_call_ended_without_a_call_is_a_problem() -> None:
    with pytest.raises(MappingError):
        mapped({"event": "call.ended", "data": "x"})
    with pytest.raises(MappingError):
        mapped(["call.ended"])


def test_the_dial_of_an_outbound_call() -> None:
    dial = build_dial(mapped(call()), source="a", tz=UTC)
    assert (dial.dial_id, dial.ani, dial.prospect_phone) == (
        "780836699",
        "443308186690",
        "43720880079",
    )
    assert (dial.datetime, dial.call_direction) == ("2022-03-04 10:28:55", "Outbound")
    assert (dial.agent_name, dial.skill_name, dial.disposition_name) == (
        "Koen Test",
        "Koens Test",
        "Answered",
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"answered_at": 5}, "Answered"),
        ({"answered_at": None, "direction": "inbound", "voicemail": "https://v"}, "Voicemail"),
        ({"answered_at": None, "direction": "inbound", "missed_call_reason": "short_abandoned"},
         "short_abandoned"),
        ({"answered_at": None, "direction": "inbound"}, "Missed"),
        ({"answered_at": None, "direction": "outbound"}, "No Answer"),
    ],
)  # fmt: skip
def test_outcome(data: dict[str, Any], expected: str) -> None:
    assert outcome(call(**data)["data"]) == expected


def test_tags_win_unless_disposition_is_outcome() -> None:
    tagged = call(tags=[{"name": "Sale"}, {"name": "Callback"}])
    assert mapped(tagged)["disposition_name"] == "Sale"
    assert mapped(tagged, disposition="outcome")["disposition_name"] == "Answered"


def test_several_tags_are_warned_when_tags_decide() -> None:
    tagged = call(tags=[{"name": "Sale"}, {"name": "Callback"}])
    request = InboundRequest("POST", "application/json", {}, b"", tagged)
    warned = AircallMapping().map(request, CTX).warnings
    assert warned == ["2 tags: the disposition is the first (Sale)"]
    assert AircallMapping({"disposition": "outcome"}).map(request, CTX).warnings == []


def test_skill_from_teams_falls_back_to_the_line() -> None:
    assert mapped(call(teams=[{"name": "A"}, {"name": "B"}]), skill="teams")["skill_name"] == "A, B"
    assert mapped(call(), skill="teams")["skill_name"] == "Koens Test"


def test_agent_on_transfer() -> None:
    transferred = call(transferred_to={"name": "Martin"})
    assert mapped(transferred)["agent_name"] == "Koen Test"
    assert mapped(transferred, agent="transferred_to")["agent_name"] == "Martin"
    assert mapped(call(), agent="transferred_to")["agent_name"] == "Koen Test"


def test_rejected_status_option() -> None:
    assert AircallMapping().rejected_status == 200
    assert AircallMapping({"rejected_status": 422}).rejected_status == 422
    with pytest.raises(ValueError):
        AircallMapping({"rejected_status": 500})
    with pytest.raises(ValueError):
        AircallMapping({"bogus": 1})


def test_an_anonymous_caller_has_no_prospect_phone() -> None:
    fields = mapped(call(direction="inbound", raw_digits="anonymous"))
    assert fields["prospect_phone"] == ""
    assert fields["ani"] == "+44 330 818 6690"  # our line: normalized later, by build_dial


# --- numbers as Aircall formats them -------------------------------------------------------

_REGIONS = ["US", "GB", "FR", "DE", "AT", "ES", "AU", "CA", "IT", "NL"]


@st.composite
def aircall_formatted(draw: st.DrawFn) -> tuple[str, str]:
    """A valid number as Aircall writes it (international format: spaces, sometimes dashes),
    and the number as E.164."""
    region = draw(st.sampled_from(_REGIONS))
    example = phonenumbers.example_number(region)
    assert example is not None
    kind = phonenumbers.PhoneNumberFormat.INTERNATIONAL
    formatted = phonenumbers.format_number(example, kind)
    if draw(st.booleans()):
        formatted = formatted.replace(" ", "-", draw(st.integers(0, 3))).replace("+1-", "+1 ")
    e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    return formatted, e164


@given(aircall_formatted())
def test_formatted_numbers_normalize_like_their_e164(number: tuple[str, str]) -> None:
    """``+33 1 76 36 06 95`` and ``+1 800-123-4567`` read as their E.164 digits."""
    formatted, e164 = number
    assert normalize_phone(aircall_number(formatted)) == normalize_phone(e164)


@given(st.sampled_from(["anonymous", "Anonymous", " ANONYMOUS "]) | st.none() | st.booleans())
def test_withheld_or_missing_numbers_are_empty(value: object) -> None:
    assert aircall_number(value) == ""


@given(st.text(max_size=20))
def test_any_other_text_is_kept_for_the_normalizer(text: str) -> None:
    """The parser only recognises a withheld number: everything else is left (stripped) to the
    relay's one phone normaliser, which reports what it cannot read."""
    expected = "" if text.strip().casefold() == "anonymous" else text.strip()
    assert aircall_number(text) == expected
