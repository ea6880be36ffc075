"""Rejected requests in Redis: ``B:rejected:<id>`` hashes indexed by ``B:rejected``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import orjson

from relay.queue.models import RejectedRecord, RejectedTrim
from relay.queue.redis.connection import as_text
from relay.queue.redis.records import RedisRecords

if TYPE_CHECKING:
    from relay.queue.protocols import RejectedStore

__all__ = ["RedisRejected"]


class RedisRejected(RedisRecords):
    """``RejectedStore``: requests that could not be mapped, kept raw."""

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
        return as_text(await self._grouped("add_rejected", [self.base], list(args)))

    async def list_rejected(
        self,
        *,
        source: str | None = None,
        before: float | None = None,
        limit: int = 100,
        newest_first: bool = False,
    ) -> list[RejectedRecord]:
        def keep(_id: str, f: dict[bytes, bytes]) -> bool:
            return (not source or f.get(b"s", b"").decode() == source) and (
                before is None or float(f.get(b"r", b"0")) < before
            )

        return [
            _rejected(i, f)
            for i, f in await self._records("rejected", limit, keep, newest_first=newest_first)
        ]

    async def get_rejected(self, record_id: str) -> RejectedRecord | None:
        fields = await self._record("rejected", record_id)
        return _rejected(record_id, fields) if fields else None

    async def delete_rejected(self, ids: Sequence[str]) -> int:
        if not ids:
            return 0
        return int(await self._op(lambda _c: self._script("purge", "rejected", "", "", *ids)))

    async def trim_rejected(self, *, before: float | None, keep: int | None) -> RejectedTrim:
        args = ("" if before is None else repr(before), "" if keep is None else str(keep))
        age, count = await self._op(lambda _c: self._script("trim_rejected", *args))
        return RejectedTrim(age=int(age), count=int(count))


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


_IMPLEMENTS: type[RejectedStore] = RedisRejected  # mypy checks that the role is complete
