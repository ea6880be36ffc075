"""The delivery path on Redis, besides leasing: store with dedupe, and settle each lease.

Every change is one Lua script (``scripts``), so a dial is always in exactly one place: its
lane stream, the delayed set, leased (pending in the group), or the dead-letter store.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from relay.exceptions import QueueUnavailable
from relay.queue import history
from relay.queue.models import Attempt, NewDial
from relay.queue.redis.legs import RedisLegs

if TYPE_CHECKING:
    from relay.queue.protocols import DeliveryQueue

__all__ = ["RedisDelivery"]


class RedisDelivery(RedisLegs):
    """``DeliveryQueue`` on Redis Streams (leasing: ``RedisLeasing``; legs: ``RedisLegs``)."""

    async def seen(self, source: str, dial_id: str, *, now: float) -> bool:
        marker = await self._op(lambda c: c.get(self._seen_key(source, dial_id)))
        try:
            return marker is not None and float(marker) > now
        except ValueError:
            return False

    async def enqueue(self, dial: NewDial, dedupe_seconds: float) -> bool:
        seen = self._seen_key(dial.source, dial.dial_id)
        due = dial.due_at if dial.due_at is not None else dial.received_at
        args = [*self._store_args(dial, due, dedupe_seconds), *self._history_args(dial)]
        result = await self._store("enqueue", [self.base, seen], args)
        return bool(result != 0)

    async def enqueue_many(self, dials: Sequence[NewDial], dedupe_seconds: float) -> list[bool]:
        """One script for the whole batch (``enqueue_many.lua``): one atomic change, written
        to the AOF as one unit."""
        if not dials:
            return []
        if self._read_only:
            raise QueueUnavailable("queue opened read-only")
        keys = [self.base] + [self._seen_key(d.source, d.dial_id) for d in dials]
        args: list[Any] = []
        for dial in dials:
            due = dial.due_at if dial.due_at is not None else dial.received_at
            args += [*self._store_args(dial, due, dedupe_seconds), *self._history_args(dial)]
        script = self._scripts["enqueue_many"]
        replies = await self._op(lambda _c: script(keys=keys, args=args))
        return [reply != 0 for reply in replies]

    async def ack(
        self, ids: Sequence[str], *, attempts: Mapping[str, Attempt] | None = None
    ) -> None:
        if not ids:
            return
        args: list[Any] = []
        for i in ids:
            attempt = (attempts or {}).get(i)
            now = time.time() if attempt is None else attempt.at
            args += [i, history.acked(attempt, now), repr(now)]
        await self._op(lambda _c: self._script("ack", *args))

    async def replace_payload(self, queue_id: str, payload: bytes, kind: str = "dial") -> None:
        event, last4 = history.resolved(time.time()), history.phone_last4(payload, kind)
        args = (queue_id, payload, kind, event, last4)
        await self._op(lambda _c: self._script("replace", *args))

    async def retry(
        self, queue_id: str, due_at: float, error: str, *, attempt: Attempt | None = None
    ) -> None:
        now = time.time() if attempt is None else attempt.at
        args = (queue_id, repr(due_at), error[:500], history.retried(attempt, due_at, error, now))
        await self._op(lambda _c: self._script("retry", *args))

    async def release(self, ids: Sequence[str], *, now: float) -> None:
        if ids:
            await self._op(lambda _c: self._script("release", repr(now), *ids))

    async def delay_sources(self, sources: Collection[str], until: float) -> int:
        """Push every waiting dial of ``sources`` to ``until`` (a held key's next probe)."""
        if not sources:
            return 0
        return int(await self._op(lambda _c: self._script("delay_sources", repr(until), *sources)))

    async def release_delayed(self, *, now: float, sources: Collection[str] | None = None) -> int:
        if sources is not None and not sources:
            return 0
        every = "1" if sources is None else "0"
        args = (repr(now), every, *(sources or ()))
        return int(await self._op(lambda _c: self._script("release_delayed", *args)))

    async def next_due(self) -> float | None:
        delayed, lane0, lane1, idle_ms = await self._op(lambda _c: self._script("next_due"))
        times = [float(v) for v in (delayed, lane0, lane1) if v]
        if int(idle_ms) >= 0:  # the oldest lease expires (and is taken over) at about this time
            times.append(time.time() + self._visibility - int(idle_ms) / 1000)
        return min(times) if times else None

    async def dead_letter(
        self,
        queue_id: str,
        *,
        reason: str,
        status: int | None,
        response_body: str,
        now: float,
        attempt: Attempt | None = None,
    ) -> None:
        args = (queue_id, reason, "" if status is None else str(status), response_body[:4000])
        events = history.dead_lettered(attempt, reason, status, now)
        await self._op(lambda _c: self._script("dead_letter", *args, repr(now), events))


_IMPLEMENTS: type[DeliveryQueue] = RedisDelivery  # mypy checks that the role is complete
