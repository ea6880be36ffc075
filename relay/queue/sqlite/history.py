"""Dial history on SQLite: the ``history`` table, one row per stored dial.

The rows are written by the other roles, in the transaction of the operation each event
records (``intake``, ``delivery``, ``legs``, ``dead``); this role reads them, and drops those
settled longer ago than the retention (``trim_history``, a bounded batch per call).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from relay.queue import history
from relay.queue.models import DialRecord
from relay.queue.sqlite.store import SqliteStore, where_clause

if TYPE_CHECKING:
    from relay.queue.protocols import DialHistory

__all__ = ["SqliteHistory"]

_COLS = "h.id, h.source, h.dial_id, h.received_at, h.phone4, h.events, h.done_at, h.dead"
# The payload: the record's own once settled, else the queue row's or the dead letter's.
_SHOW = (
    f"SELECT {_COLS}, COALESCE(h.payload, d.payload, x.payload) FROM history h "  # noqa: S608
    "LEFT JOIN dials d ON d.id = h.id LEFT JOIN dead x ON x.id = h.dead"
)
# Every source with a record, one index probe each (not a scan of the table).
_SOURCES = (
    "WITH RECURSIVE s(name) AS (SELECT min(source) FROM history UNION ALL "
    "SELECT (SELECT min(source) FROM history WHERE source > name) FROM s "
    "WHERE name IS NOT NULL) SELECT name FROM s WHERE name IS NOT NULL"
)


class SqliteHistory(SqliteStore):
    """``DialHistory`` on the ``history`` table."""

    async def dial_history(self, dial_id: str, *, source: str | None = None) -> list[DialRecord]:
        where, params = where_clause(("h.dial_id = ?", dial_id), ("h.source = ?", source or None))

        def op(c: sqlite3.Connection) -> list[DialRecord]:
            if not _has_history(c):
                return []
            rows = c.execute(f"{_SHOW}{where} ORDER BY h.id", params).fetchall()
            return [_record(r) for r in rows]

        return await self._reader.read(op)

    async def list_history(
        self,
        *,
        source: str | None = None,
        since: float | None = None,
        until: float | None = None,
        phone_last4: str | None = None,
        limit: int = 100,
    ) -> list[DialRecord]:
        def op(c: sqlite3.Connection) -> list[DialRecord]:
            if not _has_history(c):
                return []
            names = [source] if source else [r[0] for r in c.execute(_SOURCES)]
            found: list[Sequence[Any]] = []
            for name in names:  # the (source, received_at) index for each
                where, params = where_clause(
                    ("h.source = ?", name),
                    ("h.received_at >= ?", since),
                    ("h.received_at < ?", until),
                    ("h.phone4 = ?", phone_last4 or None),
                )
                found += c.execute(
                    f"SELECT {_COLS} FROM history h{where} "  # noqa: S608
                    "ORDER BY h.received_at DESC LIMIT ?",
                    (*params, limit),
                ).fetchall()
            found.sort(key=lambda r: (r[3], r[0]), reverse=True)
            return [_record(r) for r in found[:limit]]

        return await self._reader.read(op)

    async def trim_history(self, *, before: float) -> int:
        return await self._writer.call(
            lambda c: (
                c.execute(
                    "DELETE FROM history WHERE id IN "
                    "(SELECT id FROM history WHERE done_at < ? LIMIT ?)",
                    (before, history.TRIM_BATCH),
                ).rowcount
            )
        )


def _has_history(c: sqlite3.Connection) -> bool:
    """Whether the file has the history table: a file an older relay wrote, opened read-only
    (so not brought up to date), has none yet."""
    found = c.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'history'")
    return found.fetchone() is not None


def _record(r: Sequence[Any]) -> DialRecord:
    events = history.decode(r[5])
    dead_id = None if r[7] is None else str(r[7])
    state, settled = history.state_of(events, dead_id)
    return DialRecord(
        id=str(r[0]),
        source=r[1],
        dial_id=r[2],
        received_at=r[3],
        phone_last4=r[4],
        state=state,
        settled_at=settled if r[6] is None else float(r[6]),
        dead_id=dead_id,
        events=events,
        payload=bytes(r[8]) if len(r) > 8 and r[8] is not None else None,
    )


_IMPLEMENTS: type[DialHistory] = SqliteHistory  # mypy checks that the role is complete
