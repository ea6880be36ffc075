"""The ``twilio`` mapping: which callbacks make a dial, whose number is whose, the call's
start, the disposition options; and the corpus's real requests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from mappings.twilio import FINAL_STATUSES, QUERY_FIELDS, TwilioMapping, call_start
from relay.sdk import InboundRequest, MappingContext, MappingError
from tests.mappings.golden import load

CONTEXT = MappingContext(source="twilio", tz=UTC, timezone_name="UTC")
CALLBACK = {
    "CallSid": "CA8523f7d19eb963781a1f00573ddba92d",
    "Direction": "outbound-api",
    "From": "+16414549805",
    "To": "+15153573516",
    "CallStatus": "completed",
    "CallDuration": "17",
    "Timestamp": "Tue, 25 Jun 2019 07:14:39 +0000",
    "AnsweredBy": "machine_start",
}


def mapped(data: dict[str, Any], **options: Any) -> Any:
    request = InboundRequest("POST", "application/x-www-form-urlencoded", {}, b"", data)
    return TwilioMapping(options).map(request, CONTEXT)


@pytest.mark.parametrize("status", ["queued", "initiated", "ringing", "in-progress", "Ringing"])
def test_progress_statuses_are_ignored(status: str) -> None:
    result = mapped({**CALLBACK, "CallStatus": status})
    assert result.ignored == f"CallStatus {status.lower()} does not end a call"
    assert result.fields == {}


@pytest.mark.parametrize("status", sorted(FINAL_STATUSES))
def test_final_statuses_make_a_dial(status: str) -> None:
    result = mapped({**CALLBACK, "CallStatus": status})
    assert result.ignored is None
    assert result.fields["disposition_name"] == status
    assert result.fields["dial_id"] == CALLBACK["CallSid"]


def test_a_request_without_callstatus_is_a_problem() -> None:
    with pytest.raises(MappingError) as err:
        mapped({"CallSid": "CA1", "Digits": "1234"})
    assert [p.field for p in err.value.problems] == ["CallStatus"]
    with pytest.raises(MappingError):
        mapped(["not", "a", "form"])  # type: ignore[arg-type]


def test_numbers_by_direction() -> None:
    outbound = mapped(CALLBACK).fields
    assert (outbound["ani"], outbound["prospect_phone"]) == ("+16414549805", "+15153573516")
    inbound = mapped({**CALLBACK, "Direction": "inbound"}).fields
    assert (inbound["ani"], inbound["prospect_phone"]) == ("+15153573516", "+16414549805")
    child = mapped({**CALLBACK, "Direction": "outbound-dial"}).fields
    assert child["ani"] == "+16414549805"
    unknown = mapped({k: v for k, v in CALLBACK.items() if k != "Direction"})
    assert unknown.fields["ani"] == "+16414549805"
    assert any("Direction is missing" in w for w in unknown.warnings)


def test_the_source_direction_table_decides_too() -> None:
    context = MappingContext("twilio", UTC, "UTC", directions={"trunking-originating": "Inbound"})
    data = {**CALLBACK, "Direction": "trunking-originating"}
    request = InboundRequest("POST", "", {}, b"", data)
    fields = TwilioMapping().map(request, context).fields
    assert fields["ani"] == "+15153573516"


def test_disposition_options() -> None:
    assert mapped(CALLBACK).fields["disposition_name"] == "completed"
    assert mapped(CALLBACK, disposition="answered_by").fields["disposition_name"] == (
        "machine_start"
    )
    no_amd = {k: v for k, v in CALLBACK.items() if k != "AnsweredBy"}
    assert mapped(no_amd, disposition="answered_by").fields["disposition_name"] == "completed"


def test_query_fields_and_renames() -> None:
    data = {**CALLBACK, "campaign_id": "C1", "agent": "Jane Doe", "agent_name": "ignored"}
    fields = mapped(data, names={"agent_name": "agent"}).fields
    assert fields["campaign_id"] == "C1"
    assert fields["agent_name"] == "Jane Doe"
    assert all(name in fields for name in QUERY_FIELDS)


@pytest.mark.parametrize(
    "options",
    [
        {"names": {"call_sid": "x"}},
        {"names": {"campaign_id": " "}},
        {"disposition": "answeredby"},
        {"other": 1},
    ],
)
def test_invalid_options_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        TwilioMapping(options)


def test_datetime_is_the_call_start_or_the_receipt_time() -> None:
    assert mapped(CALLBACK).fields["datetime"] == datetime(2019, 6, 25, 7, 14, 22, tzinfo=UTC)
    before = datetime.now(UTC)
    result = mapped({k: v for k, v in CALLBACK.items() if k != "Timestamp"})
    assert before <= result.fields["datetime"] <= datetime.now(UTC)
    assert any("Timestamp is missing" in w for w in result.warnings)
    bad = mapped({**CALLBACK, "Timestamp": "yesterday-ish"})
    assert bad.fields["datetime"] == "yesterday-ish"  # left for the relay to report


@given(
    st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    st.integers(0, 86400),
)
def test_call_start_is_timestamp_less_duration(moment: datetime, seconds: int) -> None:
    moment = moment.replace(microsecond=0)
    stamp = format_datetime(moment)  # RFC 2822, as Twilio writes it
    assert call_start(stamp, str(seconds)) == moment - timedelta(seconds=seconds)


@given(st.text(max_size=6).filter(lambda s: not s.isdigit()))
def test_a_duration_that_is_no_number_counts_as_zero(duration: str) -> None:
    stamp = "Tue, 25 Jun 2019 07:14:39 +0000"
    assert call_start(stamp, duration) == datetime(2019, 6, 25, 7, 14, 39, tzinfo=UTC)


def test_the_corpus_has_ten_real_requests() -> None:
    """At least ten requests from public sources; derived ones are labelled and not counted."""
    cases = load("twilio")
    real = [c for c in cases if "_derived_from" not in c.doc]
    assert len(real) >= 10
    for c in cases:
        if "_derived_from" in c.doc:
            assert c.doc["description"].startswith("DERIVED"), c.id
    outcomes = {
        ("expected" if c.expected else "rejected" if c.rejected else "ignored") for c in real
    }
    assert outcomes == {"expected", "rejected", "ignored"}
