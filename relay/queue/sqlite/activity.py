"""Outcome counts on SQLite: the ``activity`` table (minute buckets) and ``last_webhook``.

A flush is one operation in the writer's group commit: an UPSERT per row, the later
last-webhook time kept per source, and the buckets past ``ACTIVITY_KEEP_SECONDS`` trimmed
(at most ``TRIM_BATCH`` rows per write, so a file reopened after a long stop catches up over
a few writes instead of one long transaction).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from relay.obs.tally import ACTIVITY_KEEP_SECONDS, CountRow
from relay.queue.sqlite.store import SqliteStore

if TYPE_CHECKING:
    from relay.queue.protocols import ActivityStore

__all__ = ["TRIM_BATCH", "SqliteActivity"]

TRIM_BATCH = 1000  # expired bucket rows deleted per write at most

_ADD = (
    "INSERT INTO activity (minute, source, outcome, count) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (minute, source, outcome) DO UPDATE SET count = count + excluded.count"
)
_SEEN = (
    "INSERT INTO last_webhook (source, at) VALUES (?, ?) "
    "ON CONFLICT (source) DO UPDATE SET at = max(at, excluded.at)"
)
_TRIM = (
    "DELETE FROM activity WHERE (minute, source, outcome) IN "
    "(SELECT minute, source, outcome FROM activity WHERE minute < ? LIMIT ?)"
)


class SqliteActivity(SqliteStore):
    """``ActivityStore`` on the ``activity`` and ``last_webhook`` tables."""

    async def add_activity(
        self, rows: Sequence[CountRow], last_webhooks: Mapping[str, float]
    ) -> None:
        if not rows and not last_webhooks:
            return
        values = [(r.minute, r.source, r.outcome, r.count) for r in rows]
        seen = list(last_webhooks.items())
        newest = max((r.minute for r in rows), default=None)

        def op(c: sqlite3.Connection) -> None:
            c.executemany(_ADD, values)
            c.executemany(_SEEN, seen)
            if newest is not None:
                c.execute(_TRIM, (newest - ACTIVITY_KEEP_SECONDS, TRIM_BATCH))

        await self._writer.call(op)

    async def activity(self, *, since: float, until: float) -> dict[tuple[str, str], int]:
        def op(c: sqlite3.Connection) -> dict[tuple[str, str], int]:
            if not _has_activity(c):
                return {}
            found = c.execute(
                "SELECT source, outcome, sum(count) FROM activity "
                "WHERE minute >= ? AND minute < ? GROUP BY source, outcome",
                (since, until),
            )
            return {(s, o): int(n) for s, o, n in found}

        return await self._reader.read(op)

    async def last_webhooks(self) -> dict[str, float]:
        def op(c: sqlite3.Connection) -> dict[str, float]:
            if not _has_activity(c):
                return {}
            return {s: float(at) for s, at in c.execute("SELECT source, at FROM last_webhook")}

        return await self._reader.read(op)


def _has_activity(c: sqlite3.Connection) -> bool:
    """Whether the file has the activity tables: a file an older relay wrote, opened
    read-only (so not brought up to date), has none yet."""
    found = c.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'activity'")
    return found.fetchone() is not None


_IMPLEMENTS: type[ActivityStore] = SqliteActivity  # mypy checks that the role is complete
