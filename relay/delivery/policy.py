"""How outboundIQ's answers are read: the classification table, backoff and Retry-After.

One table, mirrored in docs/operations.md:

=========================================  ===========  ======================================
outboundIQ answer                          outcome      what the relay does
=========================================  ===========  ======================================
2xx                                        delivered    ack; the dial is done
408, 425, 429, 5xx                         retry        backoff with full jitter (Retry-After
                                                        honoured up to a cap)
timeout, connection error                  retry        same; counts toward the circuit
401, 403                                   hold_key     the key's dials wait; one probe a minute
any other 4xx, 3xx                         dead         dead-letter store with status and body
=========================================  ===========  ======================================
"""

from __future__ import annotations

import enum
import random

from relay.core.retry_after import parse_retry_after

__all__ = [
    "Outcome",
    "backoff_delay",
    "classify",
    "is_destination_failure",
    "parse_retry_after",
    "retry_delay",
]


class Outcome(enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    HOLD_KEY = "hold_key"
    DEAD = "dead"


_RETRY_STATUSES = frozenset({408, 425, 429})
_HOLD_STATUSES = frozenset({401, 403})


def classify(status: int | None) -> Outcome:
    """The outcome for an HTTP status (``None``: no answer — timeout or connection error)."""
    if status is None:
        return Outcome.RETRY
    if 200 <= status < 300:
        return Outcome.DELIVERED
    if status in _HOLD_STATUSES:
        return Outcome.HOLD_KEY
    if status in _RETRY_STATUSES or status >= 500:
        return Outcome.RETRY
    if status < 200:
        return Outcome.RETRY
    return Outcome.DEAD


def is_destination_failure(status: int | None) -> bool:
    """Failures of outboundIQ itself (not of one dial): they count toward the circuit."""
    return status is None or status >= 500


def backoff_delay(
    attempt: int, *, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Exponential backoff with full jitter: uniform(0, min(cap, base * 2**(attempt-1)))."""
    ceiling = min(cap, base * 2 ** min(max(attempt - 1, 0), 62))
    return (rng or random).uniform(0, ceiling)


def retry_delay(
    attempt: int,
    hint: float | None,
    *,
    base: float,
    cap: float,
    hint_cap: float,
    rng: random.Random | None = None,
) -> float:
    """The wait before retry ``attempt`` + 1: the backoff, or the server's ``hint`` (seconds,
    from ``Retry-After``) when that is longer, the hint capped at ``hint_cap``."""
    delay = backoff_delay(attempt, base=base, cap=cap, rng=rng)
    if hint is not None:
        delay = max(delay, min(hint, hint_cap))
    return delay
