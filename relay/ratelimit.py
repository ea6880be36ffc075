"""A token bucket: at most ``rate`` events a second, bursts up to ``burst``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

__all__ = ["TokenBucket"]


class TokenBucket:
    """Token bucket; ``take()`` answers how long to wait, ``acquire()`` waits for a token."""

    def __init__(
        self, rate: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self.clock = clock
        self._tokens = self.burst
        self._stamp = clock()

    def take(self) -> float:
        """Take a token if one is there (0.0), else the seconds until one will be."""
        now = self.clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self.rate

    async def acquire(self) -> None:
        """Wait until a token is free, then take it (fair enough for one event loop)."""
        while (wait := self.take()) > 0:
            await asyncio.sleep(wait)  # noqa: ASYNC110 (a timed wait, not a polled condition)
