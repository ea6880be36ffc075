"""How outboundIQ's answers are read: the classification table, backoff and Retry-After."""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relay.delivery.policy import (
    Outcome,
    backoff_delay,
    classify,
    is_destination_failure,
    parse_retry_after,
    retry_delay,
)
from tests.support.http import http_date


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.DELIVERED),
        (201, Outcome.DELIVERED),
        (202, Outcome.DELIVERED),
        (None, Outcome.RETRY),
        (408, Outcome.RETRY),
        (425, Outcome.RETRY),
        (429, Outcome.RETRY),
        (500, Outcome.RETRY),
        (502, Outcome.RETRY),
        (503, Outcome.RETRY),
        (401, Outcome.HOLD_KEY),
        (403, Outcome.HOLD_KEY),
        (400, Outcome.DEAD),
        (404, Outcome.DEAD),
        (422, Outcome.DEAD),
        (301, Outcome.DEAD),
    ],
)
def test_classification_table(status: int | None, outcome: Outcome) -> None:
    """The one classification table."""
    assert classify(status) is outcome


@pytest.mark.parametrize(
    ("status", "counts"),
    [(None, True), (500, True), (503, True), (200, False), (429, False), (401, False)],
)
def test_destination_failures_are_outboundiqs_own(status: int | None, counts: bool) -> None:
    assert is_destination_failure(status) is counts


def test_backoff_is_bounded_full_jitter() -> None:
    """Delays stay within [0, min(cap, base*2^(n-1))]."""
    for attempt in range(1, 80):
        d = backoff_delay(attempt, base=1.0, cap=600.0)
        assert 0 <= d <= min(600.0, 2 ** (attempt - 1))


def test_retry_after_forms() -> None:
    """Retry-After is read as seconds or as an HTTP date."""
    now = time.time()
    assert parse_retry_after("7", now=now) == 7
    assert abs(parse_retry_after(http_date(now + 30), now=now) - 30) <= 1  # type: ignore[operator]
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None, now=now) is None


@given(
    attempt=st.integers(min_value=1, max_value=200),
    hint=st.none() | st.floats(min_value=0, max_value=1e6),
    seed=st.integers(),
)
def test_retry_delay_is_the_backoff_or_the_capped_hint_whichever_is_longer(
    attempt: int, hint: float | None, seed: int
) -> None:
    backoff = backoff_delay(attempt, base=1.0, cap=600.0, rng=random.Random(seed))
    delay = retry_delay(
        attempt, hint, base=1.0, cap=600.0, hint_cap=3600.0, rng=random.Random(seed)
    )
    expected = backoff if hint is None else max(backoff, min(hint, 3600.0))
    assert delay == expected
