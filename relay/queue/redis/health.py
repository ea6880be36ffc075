"""Health on Redis: does it answer (and is the group there), and what is in the queue."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from redis import exceptions as rexc

from relay.queue.models import QueueStats
from relay.queue.redis.connection import RedisConnection

if TYPE_CHECKING:
    from relay.queue.protocols import QueueHealth

__all__ = ["RedisHealth"]


class RedisHealth(RedisConnection):
    """``QueueHealth``: ``ping`` for ``/readyz``, ``stats`` from one script."""

    async def ping(self) -> bool:
        if self._client is None:
            return False
        try:
            await asyncio.wait_for(self._client.ping(), 3.0)
            if self._needs_setup:
                await self._setup()
        except (rexc.RedisError, TimeoutError, OSError):
            return False
        return True

    async def stats(self, *, now: float) -> QueueStats:
        reply = await self._op(lambda _c: self._script("stats", repr(now)))
        ready, delayed, leased, dead, rejected, oldest, *counts = reply
        return QueueStats(
            ready=int(ready),
            delayed=int(delayed),
            leased=int(leased),
            dead=int(dead),
            rejected=int(rejected),
            oldest_received_at=float(oldest) if oldest else None,
            by_source={
                counts[i].decode(): int(counts[i + 1])
                for i in range(0, len(counts), 2)
                if int(counts[i + 1]) > 0
            },
        )


_IMPLEMENTS: type[QueueHealth] = RedisHealth  # mypy checks that the role is complete
