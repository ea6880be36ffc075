"""The request guard's pure parts: per-source token buckets and the header limits."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from relay.config.limits import RateLimit
from relay.intake.guard import RateLimiter, header_problem


def test_rate_limiter_refills_and_resets_on_reload() -> None:
    """Tokens refill at the configured rate; a changed limit starts a fresh bucket."""
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    limit = RateLimit.model_validate("2/s")
    assert limiter.acquire("a", limit) is None
    assert limiter.acquire("a", limit) is None
    assert limiter.acquire("a", limit) == pytest.approx(0.5)
    assert limiter.acquire("b", limit) is None  # per source
    now[0] = 0.5
    assert limiter.acquire("a", limit) is None
    assert limiter.acquire("a", RateLimit(requests=5, per_seconds=1, burst=10)) is None


@dataclass
class Limits:
    max_header_count: int = 3
    max_header_bytes: int = 20


def test_header_problem_counts_headers_then_bytes() -> None:
    """Too many headers, else too many bytes (names and values), else nothing."""
    assert header_problem([(b"a", b"1")] * 3, Limits()) is None
    assert header_problem([(b"a", b"1")] * 4, Limits()) == "more than 3 headers"
    assert header_problem([(b"name", b"v" * 16)], Limits()) is None
    assert header_problem([(b"name", b"v" * 17)], Limits()) == "headers over 20 bytes"
