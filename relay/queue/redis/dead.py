"""Dead letters in Redis: ``B:dead:<id>`` hashes indexed by ``B:dead``."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from relay.queue import history
from relay.queue.models import DeadDial
from relay.queue.redis.records import RedisRecords

if TYPE_CHECKING:
    from relay.queue.protocols import DeadLetterStore

__all__ = ["RedisDeadLetters"]


class RedisDeadLetters(RedisRecords):
    """``DeadLetterStore`` (``dead_letter`` itself, a move out of the queue, is delivery's)."""

    async def list_dead(
        self,
        *,
        source: str | None = None,
        status: int | None = None,
        before: float | None = None,
        limit: int = 100,
        newest_first: bool = False,
    ) -> list[DeadDial]:
        def keep(record_id: str, f: dict[bytes, bytes]) -> bool:
            dead = _dead(record_id, f)
            return (
                (not source or dead.source == source)
                and (status is None or dead.status == status)
                and (before is None or dead.dead_at < before)
            )

        return [
            _dead(i, f)
            for i, f in await self._records("dead", limit, keep, newest_first=newest_first)
        ]

    async def get_dead(self, queue_id: str) -> DeadDial | None:
        fields = await self._record("dead", queue_id)
        return _dead(queue_id, fields) if fields else None

    async def replay_dead(self, ids: Sequence[str], *, now: float) -> int:
        if not ids:
            return 0
        args = (repr(now), history.replayed(now), *ids)
        return int(await self._op(lambda _c: self._script("replay_dead", *args)))

    async def purge_dead(self, ids: Sequence[str]) -> int:
        if not ids:
            return 0
        now = time.time()
        args = ("dead", history.purged(now), repr(now), *ids)
        return int(await self._op(lambda _c: self._script("purge", *args)))


def _dead(record_id: str, f: dict[bytes, bytes]) -> DeadDial:
    status = f.get(b"st", b"")
    return DeadDial(
        id=record_id,
        source=f[b"s"].decode(),
        dial_id=f[b"i"].decode(),
        payload=f[b"p"],
        attempts=int(f.get(b"a", b"0")),
        received_at=float(f[b"r"]),
        dead_at=float(f[b"t"]),
        reason=f[b"why"].decode(),
        status=int(status) if status else None,
        response_body=f.get(b"b", b"").decode(),
    )


_IMPLEMENTS: type[DeadLetterStore] = RedisDeadLetters  # mypy checks that the role is complete
