"""Outcome counts in Redis: a hash per minute, ``B:activity:<minute>`` (field
``<outcome>:<source>``, the count), and ``B:last_webhook``, a sorted set of sources scored by
their last webhook time. ``B:replicas`` (``ReplicaDirectory``): each replica scored by its
last beat; a beat also drops the replicas silent for ``REPLICAS_FORGOTTEN_AFTER`` seconds.

A flush is one ``MULTI``/``EXEC`` (every key has the queue's hash tag): ``HINCRBY`` per row,
``EXPIREAT`` on each minute's hash ``ACTIVITY_KEEP_SECONDS`` after its minute (so nothing
needs trimming), and ``ZADD GT`` (a source's time only moves forward). A read of a time range
is one pipeline of ``HGETALL``, one per minute.

Counts are for looking, not billing: when the connection breaks after Redis ran a flush but
before its reply came, redis-py sends it again once (as every command), and that flush's
counts are added twice.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis

from relay.exceptions import QueueUnavailable
from relay.obs.tally import ACTIVITY_KEEP_SECONDS, CountRow
from relay.queue.redis.connection import RedisConnection, as_text

if TYPE_CHECKING:
    from relay.queue.protocols import ActivityStore, ReplicaDirectory

__all__ = ["REPLICAS_FORGOTTEN_AFTER", "RedisActivity"]

#: A replica that has not beaten for this long is dropped from ``B:replicas``.
REPLICAS_FORGOTTEN_AFTER = 86400.0


class RedisActivity(RedisConnection):
    """``ActivityStore`` on per-minute hashes and the ``last_webhook`` sorted set."""

    def _minute_key(self, minute: int) -> str:
        return f"{self.base}:activity:{minute}"

    async def add_activity(
        self, rows: Sequence[CountRow], last_webhooks: Mapping[str, float]
    ) -> None:
        if not rows and not last_webhooks:
            return
        if self._read_only:
            raise QueueUnavailable("queue opened read-only")

        async def run(client: Redis) -> None:
            pipe = client.pipeline(transaction=True)
            minutes = set()
            for r in rows:
                pipe.hincrby(self._minute_key(r.minute), f"{r.outcome}:{r.source}", r.count)
                minutes.add(r.minute)
            for minute in minutes:
                pipe.expireat(self._minute_key(minute), minute + ACTIVITY_KEEP_SECONDS)
            if last_webhooks:
                pipe.zadd(f"{self.base}:last_webhook", dict(last_webhooks), gt=True)
            await pipe.execute()

        await self._op(run)

    async def activity(self, *, since: float, until: float) -> dict[tuple[str, str], int]:
        end = math.ceil(until / 60) * 60  # the buckets that start before until
        first = max(math.ceil(since / 60) * 60, end - ACTIVITY_KEEP_SECONDS - 60)
        minutes = range(first, end, 60)

        async def run(client: Redis) -> list[dict[bytes, bytes]]:
            pipe = client.pipeline(transaction=False)
            for minute in minutes:
                pipe.hgetall(self._minute_key(minute))
            return list(await pipe.execute())

        totals: dict[tuple[str, str], int] = {}
        for bucket in await self._op(run) if minutes else []:
            for field, n in bucket.items():
                outcome, _, source = as_text(field).partition(":")
                totals[source, outcome] = totals.get((source, outcome), 0) + int(n)
        return totals

    async def last_webhooks(self) -> dict[str, float]:
        key = f"{self.base}:last_webhook"

        async def run(client: Redis) -> list[Any]:
            reply: list[Any] = await client.zrange(key, 0, -1, withscores=True)
            return reply

        found = await self._op(run)
        return {as_text(source): float(at) for source, at in found}

    async def beat(self, replica: str, *, now: float) -> None:
        if self._read_only:
            raise QueueUnavailable("queue opened read-only")
        key = f"{self.base}:replicas"

        async def run(client: Redis) -> None:
            pipe = client.pipeline(transaction=True)
            pipe.zadd(key, {replica: now})
            pipe.zremrangebyscore(key, "-inf", now - REPLICAS_FORGOTTEN_AFTER)
            await pipe.execute()

        await self._op(run)

    async def replicas(self, *, since: float) -> dict[str, float]:
        key = f"{self.base}:replicas"

        async def run(client: Redis) -> list[Any]:
            reply: list[Any] = await client.zrange(
                key, since, "+inf", byscore=True, withscores=True
            )
            return reply

        return {as_text(name): float(at) for name, at in await self._op(run)}


_IMPLEMENTS: type[ActivityStore] = RedisActivity  # mypy checks that the role is complete
_DIRECTORY: type[ReplicaDirectory] = RedisActivity
