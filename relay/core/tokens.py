"""A token bucket: on average ``per_second`` events a second, bursts up to ``capacity``.

One bucket for the relay's two budgets. The forwarder paces the POSTs of one outboundIQ key
with ``acquire()`` (``reserve()`` takes a token at once, going into debt, and says how long
to wait: callers are served in arrival order). Intake's per-source request budget answers at
once with ``take()``: a token if one is free (``None``), else how long until one is, taking
nothing. The bucket starts full; tokens come back by the time elapsed on ``clock``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

__all__ = ["TokenBucket"]


class TokenBucket:
    """``per_second`` tokens a second up to ``capacity`` (default: ``per_second``, at least 1)."""

    def __init__(
        self,
        per_second: float,
        capacity: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        if capacity is not None and capacity <= 0:
            raise ValueError("capacity must be positive")
        self.per_second = per_second
        self.capacity = capacity if capacity is not None else max(1.0, per_second)
        self.clock = clock
        self._tokens = self.capacity
        self._updated = clock()

    @property
    def tokens(self) -> float:
        """Tokens left after the last call (negative: reserved ahead, see ``reserve``)."""
        return self._tokens

    def _refill(self) -> float:
        now = self.clock()
        elapsed = max(0.0, now - self._updated)  # a clock that steps back refills nothing
        self._updated = now
        return min(self.capacity, self._tokens + elapsed * self.per_second)

    def take(self) -> float | None:
        """Take a token if one is free (``None``); else the seconds until one is (none taken)."""
        self._tokens = self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return None
        return (1.0 - self._tokens) / self.per_second

    def reserve(self) -> float:
        """Take a token now, going into debt if need be; the seconds to wait before using it."""
        self._tokens = self._refill() - 1.0
        return max(0.0, -self._tokens / self.per_second)

    async def acquire(self) -> None:
        """Wait for a token (callers are served in arrival order)."""
        wait = self.reserve()
        if wait > 0:
            await asyncio.sleep(wait)
