"""Health on SQLite: can the writer commit right now, and what is in the queue."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from relay.exceptions import QueueError
from relay.queue.models import QueueStats
from relay.queue.sqlite.store import SqliteStore

if TYPE_CHECKING:
    from relay.queue.protocols import QueueHealth

__all__ = ["SqliteHealth"]


class SqliteHealth(SqliteStore):
    """``QueueHealth``: ``ping`` through the writer, ``stats`` on the read connection."""

    async def ping(self) -> bool:
        try:
            await self._writer.call(lambda c: c.execute("SELECT 1").fetchone())
        except QueueError:
            return False
        return True

    async def stats(self, *, now: float) -> QueueStats:
        def op(c: sqlite3.Connection) -> QueueStats:
            ready = c.execute("SELECT COUNT(*) FROM dials WHERE due_at <= ?", (now,)).fetchone()
            waiting = c.execute(
                "SELECT leased, COUNT(*) FROM dials WHERE due_at > ? GROUP BY leased", (now,)
            ).fetchall()
            by_leased = {int(k): int(v) for k, v in waiting}
            dead = c.execute("SELECT COUNT(*) FROM dead").fetchone()
            rejected = c.execute("SELECT COUNT(*) FROM rejected").fetchone()
            oldest = c.execute("SELECT received_at FROM dials ORDER BY id LIMIT 1").fetchone()
            by_source = dict(c.execute("SELECT source, COUNT(*) FROM dials GROUP BY source"))
            return QueueStats(
                ready=int(ready[0]),
                delayed=by_leased.get(0, 0),
                leased=by_leased.get(1, 0),
                dead=int(dead[0]),
                rejected=int(rejected[0]),
                oldest_received_at=float(oldest[0]) if oldest else None,
                by_source={str(k): int(v) for k, v in by_source.items()},
            )

        return await self._reader.read(op)


_IMPLEMENTS: type[QueueHealth] = SqliteHealth  # mypy checks that the role is complete
