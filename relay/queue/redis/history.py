"""Dial history in Redis: in the dial's own hash while it is queued, ``B:hist:<q>`` after
(one packed string: ``lua/prelude.lua``, ``pack``).

The records are written by the scripts of the other roles, in the script of the operation
each event records (``lua/prelude.lua``: ``store``, ``note``, ``leave``); this role reads them
(one script each, so a dial leaving the queue meanwhile is never missed) and drops those
settled longer ago than the retention (``trim_history``, a bounded batch per call).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from relay.queue import history
from relay.queue.models import DialRecord
from relay.queue.redis.connection import RedisConnection, as_text

if TYPE_CHECKING:
    from relay.queue.protocols import DialHistory

__all__ = ["RedisHistory"]


class RedisHistory(RedisConnection):
    """``DialHistory`` with the ``history``, ``list_history`` and ``trim_history`` scripts."""

    async def dial_history(self, dial_id: str, *, source: str | None = None) -> list[DialRecord]:
        rows = await self._op(lambda _c: self._script("history", dial_id, source or ""))
        return [_record(r) for r in rows]

    async def list_history(
        self,
        *,
        source: str | None = None,
        since: float | None = None,
        until: float | None = None,
        phone_last4: str | None = None,
        limit: int = 100,
    ) -> list[DialRecord]:
        args = (
            "" if since is None else repr(since),
            "" if until is None else repr(until),
            phone_last4 or "",
            max(0, limit),
            *([source] if source else []),
        )
        rows = await self._op(lambda _c: self._script("list_history", *args))
        found = sorted((_record(r) for r in rows), key=lambda r: (r.received_at, int(r.id)))
        return found[::-1][:limit]

    async def trim_history(self, *, before: float) -> int:
        args = (repr(before), history.TRIM_BATCH)
        return int(await self._op(lambda _c: self._script("trim_history", *args)))


def _record(r: list[Any]) -> DialRecord:
    """A reply row: queue id, source, dial_id, received_at, last 4, events, payload, dead
    letter id, settled at (``b""`` for none)."""
    qid, source, dial_id, received, last4, events, payload, dead_id, done = r
    timeline = history.decode(bytes(events))
    dead = as_text(dead_id) or None
    state, settled = history.state_of(timeline, dead)
    return DialRecord(
        id=as_text(qid),
        source=as_text(source),
        dial_id=as_text(dial_id),
        received_at=float(received),
        phone_last4=as_text(last4),
        state=state,
        settled_at=float(done) if done else settled,
        dead_id=dead,
        events=timeline,
        payload=bytes(payload) or None,
    )


_IMPLEMENTS: type[DialHistory] = RedisHistory  # mypy checks that the role is complete
