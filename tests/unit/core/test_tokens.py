"""The token bucket: the forwarder's per-key pace (reserve/acquire) and a request budget (take)."""

from __future__ import annotations

import asyncio
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relay.config.limits import RateLimit
from relay.core.tokens import TokenBucket


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_reserve_spaces_callers() -> None:
    """Reserved tokens past the burst wait 1/rate apart, in arrival order."""
    clock = Clock()
    bucket = TokenBucket(10.0, 2, clock=clock)
    waits = [bucket.reserve() for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.0, 0.1, 0.2, 0.3])
    clock.now = 10.0
    assert bucket.take() is None


def test_take_refills_by_elapsed_time_up_to_capacity() -> None:
    """Two requests a second, bursts of 2: a third at once waits 0.5 s; time refills."""
    clock = Clock(100.0)
    bucket = TokenBucket(2.0, 2, clock=clock)
    assert bucket.take() is None
    assert bucket.take() is None
    assert bucket.take() == pytest.approx(0.5)
    assert bucket.take() == pytest.approx(0.5)  # asking again takes nothing
    clock.now += 0.5
    assert bucket.take() is None
    clock.now += 3600  # a long pause refills only up to the capacity
    assert [bucket.take() for _ in range(3)][:2] == [None, None]


def test_default_capacity_is_one_second_of_tokens_and_at_least_one() -> None:
    assert TokenBucket(5.0).capacity == 5.0
    assert TokenBucket(0.2).capacity == 1.0


def test_a_clock_stepping_back_refills_nothing() -> None:
    clock = Clock(50.0)
    bucket = TokenBucket(1.0, 1, clock=clock)
    assert bucket.take() is None
    clock.now = 10.0
    assert bucket.take() == pytest.approx(1.0)


@pytest.mark.parametrize(("per_second", "capacity"), [(0, None), (-1, None), (1, 0), (1, -2)])
def test_rejects_a_budget_that_never_refills(per_second: float, capacity: float | None) -> None:
    with pytest.raises(ValueError):
        TokenBucket(per_second, capacity)


def test_acquire_waits_for_its_token() -> None:
    """``acquire`` returns at once with a token, and after 1/rate without."""

    async def main() -> float:
        bucket = TokenBucket(20.0, 1)
        await bucket.acquire()
        started = time.monotonic()
        await bucket.acquire()
        return time.monotonic() - started

    assert asyncio.run(main()) >= 0.045


class ReferencePace:
    """The forwarder's per-key pace as ``relay/delivery/ratelimit.py`` reserved tokens before
    this bucket replaced it (the specification ``reserve`` keeps)."""

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.burst = max(1.0, rate)
        self.tokens = self.burst
        self.stamp = now

    def reserve(self, now: float) -> float:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate) - 1
        self.stamp = now
        return max(0.0, -self.tokens / self.rate)


class ReferenceBudget:
    """Intake's per-source limiter as it was written before it used this bucket (the
    specification ``take`` keeps)."""

    def __init__(self, limit: RateLimit, now: float) -> None:
        self.limit = limit
        self.tokens = limit.capacity
        self.updated = now

    def acquire(self, now: float) -> float | None:
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.limit.capacity, self.tokens + elapsed * self.limit.per_second)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return None
        return (1.0 - self.tokens) / self.limit.per_second


rates = st.floats(min_value=0.01, max_value=1000, allow_nan=False)
steps = st.lists(st.floats(min_value=0, max_value=100, allow_nan=False), max_size=60)


@given(
    requests=st.integers(min_value=1, max_value=1000),
    per_seconds=st.floats(min_value=0.01, max_value=3600),
    burst=st.none() | st.integers(min_value=1, max_value=500),
    start=st.floats(min_value=0, max_value=1e9),
    gaps=steps,
)
def test_take_answers_exactly_like_the_intake_rate_limiter(
    requests: int, per_seconds: float, burst: int | None, start: float, gaps: list[float]
) -> None:
    """For any budget and timing, ``take`` gives the answers of intake's per-source limiter,
    to the bit: intake can count with this bucket without changing a single answer."""
    limit = RateLimit(requests=requests, per_seconds=per_seconds, burst=burst)
    clock = Clock(start)
    reference = ReferenceBudget(limit, start)
    bucket = TokenBucket(limit.per_second, limit.capacity, clock=clock)
    for gap in gaps:
        clock.now += gap
        assert bucket.take() == reference.acquire(clock.now)


@given(rate=rates, start=st.floats(min_value=0, max_value=1e9), gaps=steps)
def test_reserve_answers_exactly_like_the_forwarder_pace(
    rate: float, start: float, gaps: list[float]
) -> None:
    """For any (forward-moving) timing, ``reserve`` gives the forwarder's waits, to the bit."""
    clock = Clock(start)
    bucket = TokenBucket(rate, clock=clock)
    reference = ReferencePace(rate, start)
    for gap in gaps:
        clock.now += gap
        assert bucket.reserve() == reference.reserve(clock.now)


@given(
    per_second=st.floats(min_value=0.1, max_value=100),
    capacity=st.integers(min_value=1, max_value=50),
    gaps=st.lists(st.floats(min_value=0, max_value=2), min_size=1, max_size=200),
)
def test_take_never_grants_more_than_the_budget(
    per_second: float, capacity: int, gaps: list[float]
) -> None:
    """Over any span, granted requests <= capacity + per_second * span; a refused caller is
    told a positive wait, after which a token is there."""
    clock = Clock(0.0)
    bucket = TokenBucket(per_second, capacity, clock=clock)
    granted = 0
    for gap in gaps:
        clock.now += gap
        wait = bucket.take()
        if wait is None:
            granted += 1
        else:
            assert 0 < wait <= 1 / per_second + 1e-9
        assert 0 <= bucket.tokens <= capacity
        assert granted <= capacity + per_second * clock.now + 1e-6
    wait = bucket.take()
    if wait is not None:
        clock.now += wait * (1 + 1e-9) + 1e-9
        assert bucket.take() is None
