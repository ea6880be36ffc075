"""The Five9 mapping's rules, as properties: names in any case, placeholders, direction, time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from mappings.five9 import Five9Mapping
from relay.core.dial import build_dial
from relay.core.mapping import InboundRequest, MappingContext
from relay.core.pipeline import map_request
from relay.core.placeholder import is_placeholder
from relay.core.preview import preview_request
from relay.core.sources import parse_sources
from relay.exceptions import ConfigError, MappingError

CTX = MappingContext(source="five9", tz=UTC, timezone_name="UTC")

BASE = {
    "call_id": "300000010270763",
    "ani": "5125550100",
    "dnis": "5125550187",
    "campaign_id": "1200734",
    "campaign_name": "Spring Renewals",
    "agent_name": "Jane Doe",
    "disposition_name": "Sale",
    "type_name": "Outbound",
    "skill_name": "Renewals",
    "start_timestamp": "20260821160006123",
    "zip": "78701-1234",
    "created": "2026-08-01",
    "attempts": "3",
    "lead_source": "Facebook Ads",
}


def request(data: Any) -> InboundRequest:
    return InboundRequest(method="POST", content_type="", query={}, body=b"", data=data)


def fields(data: Any, ctx: MappingContext = CTX, **options: Any) -> dict[str, object]:
    return Five9Mapping(options).map(request(data), ctx).fields


nanp = st.builds(
    lambda area, exchange, line: f"{area}{exchange}{line:04d}",
    st.integers(201, 989).filter(lambda n: n % 100 != 11),
    st.integers(200, 999).filter(lambda n: n % 100 != 11),
    st.integers(0, 9999),
)


@given(st.data())
def test_parameter_names_match_in_any_case(data: st.DataObject) -> None:
    """Renaming every parameter to any upper/lower-case mix maps to the same fields."""
    cased = {
        "".join(c.upper() if data.draw(st.booleans()) else c.lower() for c in name): value
        for name, value in BASE.items()
    }
    assert fields(cased) == fields(BASE)


#: The Dials field each parameter is read for (an outbound call, every parameter set).
FIELD_OF = {
    "ani": "ani",
    "dnis": "prospect_phone",
    "campaign_id": "campaign_id",
    "campaign_name": "campaign_name",
    "agent_name": "agent_name",
    "disposition_name": "disposition_name",
    "skill_name": "skill_name",
    "start_timestamp": "datetime",
    "zip": "zip",
    "created": "sys_created_date_original",
    "attempts": "total_dial_attempts",
    "lead_source": "lead_source",
}
F9 = parse_sources("sources:\n  f9:\n    mapping: five9\n    auth: {type: none}\n", env={})["f9"]


@given(
    group=st.sampled_from(["Call", "Contact", "Agent", "Customer_Data"]),
    variable=st.from_regex(r"[A-Za-z][A-Za-z0-9_ ]{0,20}[A-Za-z0-9_]", fullmatch=True),
    param=st.sampled_from(sorted(FIELD_OF)),
)
def test_unsubstituted_variables_are_empty_with_a_warning(
    group: str, variable: str, param: str
) -> None:
    """Any `@Group.variable@` left by Five9 maps as empty, named in a warning by the Dials
    field it was read for (a required one makes the request a 422, never a bad dial)."""
    placeholder = f"@{group}.{variable}@"
    assert is_placeholder(placeholder)
    outcome = preview_request(F9, request({**BASE, param: placeholder}))
    if outcome.dial is not None:
        assert placeholder not in outcome.dial.values()
    else:
        assert [e["field"] for e in outcome.errors] == [FIELD_OF[param]]
    warning = f"{FIELD_OF[param]}: {placeholder} did not substitute (treated as empty)"
    assert warning in outcome.warnings


def test_unfilled_dnis_falls_back_to_number() -> None:
    """An unfilled @Call.DNIS@ is skipped for @Call.number@, which is the customer too."""
    data = {**BASE, "dnis": "@Call.DNIS@", "number": "5125550199"}
    assert fields(data)["prospect_phone"] == "5125550199"


@given(st.text(max_size=40).filter(lambda s: not is_placeholder(s)))
def test_ordinary_values_are_never_placeholders(value: str) -> None:
    """A value that is no placeholder (names, emails, numbers) is kept as sent."""
    assert fields({**BASE, "campaign_name": value})["campaign_name"] == value.strip()


@given(business=nanp, customer=nanp, inbound_word=st.sampled_from(["Inbound", "INBOUND"]))
def test_ani_is_always_the_business_number(business: str, customer: str, inbound_word: str) -> None:
    """Outbound (ANI = caller ID) and inbound (ANI = caller) calls both give ani = business."""
    outbound = fields({**BASE, "type_name": "Autodial", "ani": business, "dnis": customer})
    inbound = fields({**BASE, "type_name": inbound_word, "ani": customer, "dnis": business})
    for mapped in (outbound, inbound):
        assert (mapped["ani"], mapped["prospect_phone"]) == (business, customer)


def test_source_call_directions_decide_the_swap() -> None:
    """A type the source maps to Inbound (call_directions) swaps ANI and DNIS too."""
    data = {**BASE, "type_name": "queue callback", "ani": "5125550187", "dnis": "5125550100"}
    ctx = MappingContext("five9", UTC, "UTC", directions={"Queue Callback": "Inbound"})
    swapped = fields(data, ctx)
    assert (swapped["ani"], swapped["prospect_phone"]) == ("5125550100", "5125550187")
    as_sent = fields(data)
    assert (as_sent["ani"], as_sent["prospect_phone"]) == ("5125550187", "5125550100")


@given(
    moment=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)),
    zone=st.sampled_from(["UTC", "America/New_York", "America/Los_Angeles", "Europe/London"]),
)
def test_17_digit_timestamps_are_in_the_source_zone(moment: datetime, zone: str) -> None:
    """`yyyyMMddHHmmssSSS` is read in the source's time zone and sent as UTC seconds. The
    stamp is a wall clock: in the hour the clocks repeat when they fall back it names the
    first occurrence (daylight time), and a time the clocks skip is read with the offset
    before the change (Python's ``fold=0``); ``moment`` may carry ``fold=1``, the stamp not."""
    tz = ZoneInfo(zone)
    stamp = moment.strftime("%Y%m%d%H%M%S") + f"{moment.microsecond // 1000:03d}"
    mapped = fields({**BASE, "start_timestamp": stamp}, MappingContext("five9", tz, zone))
    dial = build_dial(mapped, source="five9", tz=tz)
    expected = moment.replace(microsecond=0, fold=0, tzinfo=tz).astimezone(UTC)
    assert dial.datetime == expected.strftime("%Y-%m-%d %H:%M:%S")


def test_a_stamp_in_the_hour_the_clocks_repeat_is_its_first_occurrence() -> None:
    """01:30 on the night New York falls back happens twice; the stamp cannot say which, and
    is read as the first (EDT, UTC-4): 05:30 UTC, not 06:30."""
    tz = ZoneInfo("America/New_York")
    data = {**BASE, "start_timestamp": "20261101013000000"}
    mapped = fields(data, MappingContext("five9", tz, "America/New_York"))
    assert build_dial(mapped, source="five9", tz=tz).datetime == "2026-11-01 05:30:00"


def test_end_timestamp_when_start_is_missing() -> None:
    """Without a start timestamp the end timestamp is the call time."""
    data = {**BASE, "start_timestamp": "", "end_timestamp": "20260821160412456"}
    assert fields(data)["datetime"] == "20260821160412456"


def test_missing_type_and_call_id_are_warned() -> None:
    """No type_name reads as outbound, no call_id means a derived dial_id: both are warned."""
    data = {k: v for k, v in BASE.items() if k not in ("type_name", "call_id")}
    result = Five9Mapping().map(request(data), CTX)
    assert result.fields["ani"] == BASE["ani"]
    assert any(w.startswith("type_name is empty") for w in result.warnings)
    assert any(w.startswith("call_id is empty") for w in result.warnings)


def test_renamed_names_are_case_insensitive_too() -> None:
    """A renamed parameter is found in any case, and its default name no longer counts."""
    data = {**BASE, "LEAD_CREATED": "2026-07-04", "created": "2026-01-01"}
    assert fields(data, names={"created": "lead_created"})["sys_created_date_original"] == (
        "2026-07-04"
    )


@pytest.mark.parametrize("body", [["a", "b"], "text", 42])
def test_non_object_bodies_are_a_mapping_error(body: Any) -> None:
    """A JSON body that is not an object is a 422 problem on `body`, never a crash."""
    with pytest.raises(MappingError) as caught:
        Five9Mapping().map(request(body), CTX)
    assert caught.value.problems[0].field == "body"


def test_nested_json_values_are_ignored() -> None:
    """Objects and lists inside a JSON body are not parameters; nulls are empty."""
    mapped = fields({**BASE, "zip": {"code": "78701"}, "lead_source": None, "skill_name": [1]})
    assert (mapped["zip"], mapped["lead_source"], mapped["skill_name"]) == ("", "", "")


@pytest.mark.parametrize(
    ("names", "reason"),
    [({"phone": "x"}, "unknown parameter phone"), ({"zip": " "}, "empty name for zip")],
)
def test_bad_names_option_is_a_startup_error(names: dict[str, str], reason: str) -> None:
    """An unknown or empty name in options.names fails start-up, naming the mapping and why."""
    text = (
        "sources:\n  f9:\n    mapping: five9\n    auth: {type: none}\n"
        f"    options: {{names: {names}}}\n"
    )
    with pytest.raises(ConfigError, match=rf"sources\.f9\.mapping: mapping 'five9'.*{reason}"):
        parse_sources(text, env={})


def test_intake_logs_the_mappings_warnings() -> None:
    """Warnings such as unsubstituted variables are logged when a webhook is mapped."""
    source = parse_sources("sources:\n  f9:\n    mapping: five9\n    auth: {type: none}\n", env={})[
        "f9"
    ]
    data = {**BASE, "zip": "@Contact.zip@"}
    with capture_logs() as logs:
        map_request(source, request(data))
    [event] = [e for e in logs if e["event"] == "mapping_warnings"]
    assert event["source"] == "f9"
    assert event["warnings"] == ["zip: @Contact.zip@ did not substitute (treated as empty)"]
    assert "5125550187" not in str(logs)
