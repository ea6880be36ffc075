"""Records in Redis (dead letters, rejected requests): one hash per record, indexed by a
sorted set ``B:<kind>`` of ids; kept until an operator acts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis

from relay.queue.redis.connection import RedisConnection, as_text

__all__ = ["RedisRecords"]

_PAGE = 200


class RedisRecords(RedisConnection):
    """Reading records of one kind, for the stores behind ``relay dlq`` and ``relay rejected``."""

    async def _records(
        self,
        kind: str,
        limit: int,
        keep: Callable[[str, dict[bytes, bytes]], bool],
        *,
        newest_first: bool = False,
    ) -> list[tuple[str, dict[bytes, bytes]]]:
        """Records of ``kind`` in id order (``newest_first``: reversed) that ``keep``
        accepts, paging through the index."""

        async def run(client: Redis) -> list[tuple[str, dict[bytes, bytes]]]:
            out: list[tuple[str, dict[bytes, bytes]]] = []
            start = 0
            while len(out) < limit:
                ids = [
                    as_text(i)
                    for i in await client.zrange(
                        f"{self.base}:{kind}", start, start + _PAGE - 1, desc=newest_first
                    )
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
