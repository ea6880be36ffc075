"""Dead letters and rejected requests in Redis: one hash per record, indexed by a sorted set."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson
from redis.asyncio import Redis

from relay.queue.base import DeadDial, RejectedRecord
from relay.queue.redis_base import RedisConnection, as_text

__all__ = ["RedisRecords"]

_PAGE = 200


class RedisRecords(RedisConnection):
    """The stores behind ``relay dlq`` and ``relay rejected``; kept until an operator acts."""

    async def _records(
        self, kind: str, limit: int, keep: Callable[[str, dict[bytes, bytes]], bool]
    ) -> list[tuple[str, dict[bytes, bytes]]]:
        """Records of ``kind`` in id order that ``keep`` accepts, paging through the index."""

        async def run(client: Redis) -> list[tuple[str, dict[bytes, bytes]]]:
            out: list[tuple[str, dict[bytes, bytes]]] = []
            start = 0
            while len(out) < limit:
                ids = [
                    as_text(i)
                    for i in await client.zrange(f"{self.base}:{kind}", start, start + _PAGE - 1)
                ]
                if not ids:
                    break
                start += _PAGE
                pipe = client.pipeline(transaction=False)
                for record_id in ids:
                    pipe.hgetall(f"{self.base}:{kind}:{record_id}")
                for record_id, fields in zip(ids, await pipe.execute(), strict=True):
                    if fields and keep(record_id, fields):
                        out.append((record_id, fields))
            return out[:limit]

        return await self._op(run)

    async def _record(self, kind: str, record_id: str) -> dict[bytes, bytes] | None:
        key = f"{self.base}:{kind}:{record_id}"
        fields: dict[Any, Any] = await self._op(lambda c: c.hgetall(key))
        return fields or None

    async def list_dead(
        self,
        *,
        source: str | None = None,
        status: int | None = None,
        before: float | None = None,
        limit: int = 100,
    ) -> list[DeadDial]:
        def keep(record_id: str, f: dict[bytes, bytes]) -> bool:
            dead = _dead(record_id, f)
            return (
                (not source or dead.source == source)
                and (status is None or dead.status == status)
                and (before is None or dead.dead_at < before)
            )

        return [_dead(i, f) for i, f in await self._records("dead", limit, keep)]

    async def get_dead(self, queue_id: str) -> DeadDial | None:
        fields = await self._record("dead", queue_id)
        return _dead(queue_id, fields) if fields else None

    async def replay_dead(self, ids: Sequence[str], *, now: float) -> int:
        if not ids:
            return 0
        return int(await self._op(lambda _c: self._script("replay_dead", repr(now), *ids)))

    async def purge_dead(self, ids: Sequence[str]) -> int:
        if not ids:
            return 0
        return int(await self._op(lambda _c: self._script("purge", "dead", *ids)))

    async def add_rejected(self, record: RejectedRecord) -> str:
        args = (
            record.source,
            repr(record.received_at),
            record.method,
            record.content_type,
            orjson.dumps(record.query),
            record.body,
            orjson.dumps(record.problems),
        )
        return as_text(await self._op(lambda _c: self._script("add_rejected", *args)))

    async def list_rejected(
        self, *, source: str | None = None, limit: int = 100
    ) -> list[RejectedRecord]:
        def keep(_id: str, f: dict[bytes, bytes]) -> bool:
            return not source or f.get(b"s", b"").decode() == source

        return [_rejected(i, f) for i, f in await self._records("rejected", limit, keep)]

    async def get_rejected(self, record_id: str) -> RejectedRecord | None:
        fields = await self._record("rejected", record_id)
        return _rejected(record_id, fields) if fields else None

    async def delete_rejected(self, ids: Sequence[str]) -> int:
        if not ids:
            return 0
        return int(await self._op(lambda _c: self._script("purge", "rejected", *ids)))


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


def _rejected(record_id: str, f: dict[bytes, bytes]) -> RejectedRecord:
    return RejectedRecord(
        id=record_id,
        source=f[b"s"].decode(),
        received_at=float(f[b"r"]),
        method=f[b"m"].decode(),
        content_type=f[b"c"].decode(),
        query=orjson.loads(f[b"q"]),
        body=f[b"b"],
        problems=orjson.loads(f[b"x"]),
    )
