"""What ``relay dial`` and the console's Dials page share: times, ages, the number field."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relay.core.timeline import age_seconds, detail, moment, text_time

NOW = 1_800_000_000.0


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(["s", "m", "h", "d"]))
def test_an_age_is_that_long_before_now(n: int, unit: str) -> None:
    seconds = n * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    assert age_seconds(f" {n}{unit.upper()} ") == seconds
    assert moment(f"{n}{unit}", now=NOW) == NOW - seconds


@given(
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1)),
    st.integers(min_value=-12 * 60, max_value=14 * 60),
)
def test_a_date_time_is_utc_unless_it_names_its_offset(at: datetime, offset_min: int) -> None:
    at = at.replace(microsecond=0)
    assert moment(at.isoformat(), now=NOW) == at.replace(tzinfo=UTC).timestamp()
    zone = timezone(timedelta(minutes=offset_min))
    assert moment(at.replace(tzinfo=zone).isoformat()) == at.replace(tzinfo=zone).timestamp()


@given(st.text(max_size=30))
def test_anything_else_is_a_value_error_never_another(text: str) -> None:
    try:
        at = moment(text, now=NOW)
    except ValueError as exc:
        problem = str(exc)
    else:
        assert math.isfinite(at)
        return
    assert "an age" in problem


@pytest.mark.parametrize("text", ["nan", "inf", "-infh", "1e400d", ""])
def test_no_age_is_endless(text: str) -> None:
    with pytest.raises(ValueError, match="an age"):
        moment(text, now=NOW)


@pytest.mark.parametrize(
    ("event", "said"),
    [
        ({"event": "received", "lane": "live", "kind": "dial"}, "live lane"),
        (
            {"event": "attempt", "attempt": 1, "status": 503, "seconds": 0.25, "answer": "busy"},
            "#1 HTTP 503 in 0.250 s: busy",
        ),
        (
            {"event": "attempt", "attempt": 2, "status": None, "seconds": None, "answer": ""},
            "#2 no answer",
        ),
        ({"event": "dead_lettered", "reason": "http 400", "status": 400}, "http 400 (HTTP 400)"),
        ({"event": "delivered"}, ""),
    ],
)
def test_each_event_in_a_few_words(event: dict[str, object], said: str) -> None:
    assert detail(event) == said


def test_times_are_utc_to_the_millisecond() -> None:
    assert text_time(NOW + 0.0421) == "2027-01-15 08:00:00.042"
    assert text_time(None) is None
