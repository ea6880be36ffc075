"""Rejected requests on SQLite: the ``rejected`` table, kept raw for a replay after a fix."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson

from relay.queue.models import RejectedRecord, RejectedTrim
from relay.queue.sqlite.store import SqliteStore, int_id, where_clause

if TYPE_CHECKING:
    from relay.queue.protocols import RejectedStore

__all__ = ["SqliteRejected"]

_REJ_COLS = "id, source, received_at, method, content_type, query, body, problems"


class SqliteRejected(SqliteStore):
    """``RejectedStore`` on the ``rejected`` table."""

    async def add_rejected(self, record: RejectedRecord) -> str:
        def op(c: sqlite3.Connection) -> str:
            cur = c.execute(
                "INSERT INTO rejected (source, received_at, method, content_type, query, body, "
                "problems) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    record.source,
                    record.received_at,
                    record.method,
                    record.content_type,
                    orjson.dumps(record.query).decode(),
                    record.body,
                    orjson.dumps(record.problems).decode(),
                ),
            )
            return str(cur.lastrowid)

        return await self._writer.call(op)

    async def list_rejected(
        self,
        *,
        source: str | None = None,
        before: float | None = None,
        limit: int = 100,
        newest_first: bool = False,
    ) -> list[RejectedRecord]:
        order = "id DESC" if newest_first else "id"
        where, params = where_clause(("source = ?", source or None), ("received_at < ?", before))

        def op(c: sqlite3.Connection) -> list[RejectedRecord]:
            rows = c.execute(
                f"SELECT {_REJ_COLS} FROM rejected{where} ORDER BY {order} LIMIT ?",  # noqa: S608
                (*params, limit),
            ).fetchall()
            return [_rejected(r) for r in rows]

        return await self._reader.read(op)

    async def get_rejected(self, record_id: str) -> RejectedRecord | None:
        def op(c: sqlite3.Connection) -> RejectedRecord | None:
            row = c.execute(
                f"SELECT {_REJ_COLS} FROM rejected WHERE id = ?",  # noqa: S608
                (int_id(record_id),),
            ).fetchone()
            return _rejected(row) if row else None

        return await self._reader.read(op)

    async def delete_rejected(self, ids: Sequence[str]) -> int:
        return await self._writer.call(
            lambda c: sum(
                c.execute("DELETE FROM rejected WHERE id = ?", (int_id(i),)).rowcount for i in ids
            )
        )

    async def trim_rejected(self, *, before: float | None, keep: int | None) -> RejectedTrim:
        def op(c: sqlite3.Connection) -> RejectedTrim:
            age = count = 0
            if before is not None:  # the received_at index: only what goes is visited
                age = c.execute("DELETE FROM rejected WHERE received_at < ?", (before,)).rowcount
            if keep is not None:
                low, high = c.execute("SELECT min(id), max(id) FROM rejected").fetchone()
                if low is not None and high - low + 1 > keep:  # else fewer than keep: nothing to do
                    row = c.execute(
                        "SELECT id FROM rejected ORDER BY id DESC LIMIT 1 OFFSET ?", (keep,)
                    ).fetchone()
                    if row is not None:
                        count = c.execute("DELETE FROM rejected WHERE id <= ?", row).rowcount
            return RejectedTrim(age=age, count=count)

        return await self._writer.call(op)


def _rejected(r: Sequence[Any]) -> RejectedRecord:
    return RejectedRecord(
        id=str(r[0]),
        source=r[1],
        received_at=r[2],
        method=r[3],
        content_type=r[4],
        query=orjson.loads(r[5]),
        body=bytes(r[6]),
        problems=orjson.loads(r[7]),
    )


_IMPLEMENTS: type[RejectedStore] = SqliteRejected  # mypy checks that the role is complete
