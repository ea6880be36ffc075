"""The Dialpad mapping's own rules (the corpus in tests/fixtures/vendors/dialpad/ covers the
real events through a real relay): its options, states, and Dialpad's millisecond times."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mappings.dialpad import DialpadMapping, epoch_ms
from relay.sdk import InboundRequest, MappingContext, MappingError

CONTEXT = MappingContext(source="dialpad", tz=UTC, timezone_name="UTC")
HANGUP: dict[str, Any] = {
    "call_id": 77,
    "state": "hangup",
    "direction": "outbound",
    "external_number": "+15125550187",
    "internal_number": "+15125550100",
    "proxy_target": {},
    "target": {"type": "user", "name": "Ana"},
    "date_started": 1787158716092,
    "date_connected": None,
}


def mapped(data: object, **options: Any) -> Any:
    request = InboundRequest("POST", "", {}, b"", data)
    return DialpadMapping(options).map(request, CONTEXT)


def test_only_the_configured_states_make_a_dial() -> None:
    assert (
        mapped({**HANGUP, "state": "ringing"}).ignored == "call state 'ringing' does not end a call"
    )
    assert mapped({k: v for k, v in HANGUP.items() if k != "state"}).ignored == "no call state"
    assert mapped(HANGUP).ignored is None
    assert mapped({**HANGUP, "state": "voicemail_uploaded"}, states=["hangup"]).ignored
    assert mapped({**HANGUP, "state": "missed"}, states=["hangup", "missed"]).ignored is None


def test_outcome_words_are_options() -> None:
    assert mapped(HANGUP).fields["disposition_name"] == "No Answer"
    renamed = mapped(HANGUP, outcomes={"no_answer": "NA"})
    assert renamed.fields["disposition_name"] == "NA"
    answered = mapped({**HANGUP, "date_connected": "1787158720000"})
    assert answered.fields["disposition_name"] == "Answered"
    with pytest.raises(ValueError, match="unknown outcome"):
        DialpadMapping({"outcomes": {"busy": "Busy"}})


def test_blocked_internal_number_and_queues() -> None:
    blocked = mapped({**HANGUP, "internal_number": "blocked"})
    assert blocked.fields["ani"] == "" and "blocked" in blocked.warnings[0]
    queued = mapped({**HANGUP, "target": {"type": "department", "name": "Sales"}})
    assert (queued.fields["skill_name"], queued.fields["agent_name"]) == ("Sales", "")
    custom = mapped({**HANGUP, "target": {"type": "office", "name": "HQ"}}, skill_types=["office"])
    assert custom.fields["skill_name"] == "HQ"


def test_a_body_that_is_not_an_event_is_a_problem() -> None:
    with pytest.raises(MappingError):
        mapped(["not", "an", "event"])


@given(st.integers(0, 253_402_300_799_000))
def test_epoch_ms_reads_numbers_and_numeric_strings_alike(ms: int) -> None:
    expected = datetime.fromtimestamp(ms / 1000, UTC)
    assert epoch_ms(ms) == expected == epoch_ms(str(ms)) == epoch_ms(f" {ms} ")


@given(st.one_of(st.none(), st.booleans(), st.text(), st.floats(), st.integers(max_value=-1)))
def test_epoch_ms_never_raises(value: object) -> None:
    result = epoch_ms(value)
    assert result is None or result.tzinfo is UTC
