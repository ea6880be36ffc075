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

    def reserve(self) -> float:
        """Take a token now, going into debt if need be; the seconds to wait before using it."""
        now = self.clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate) - 1
        self._stamp = now
        return max(0.0, -self._tokens / self.rate)

    async def acquire(self) -> None:
        """Wait for a token (callers are served in arrival order)."""
        wait = self.reserve()
        if wait > 0:
            await asyncio.sleep(wait)
