"""Dead letters on SQLite: the ``dead`` table, kept until an operator replays or purges."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from relay.queue import history
from relay.queue.models import DeadDial
from relay.queue.sqlite.store import SqliteStore, int_id, where_clause

if TYPE_CHECKING:
    from relay.queue.protocols import DeadLetterStore

__all__ = ["SqliteDeadLetters"]

_DEAD_COLS = (
    "id, source, dial_id, payload, attempts, received_at, dead_at, reason, status, response_body"
)


class SqliteDeadLetters(SqliteStore):
    """``DeadLetterStore`` on the ``dead`` table (``dead_letter`` itself is delivery's)."""

    async def list_dead(
        self,
        *,
        source: str | None = None,
        status: int | None = None,
        before: float | None = None,
        limit: int = 100,
        newest_first: bool = False,
    ) -> list[DeadDial]:
        where, params = _dead_filter(source, status, before)
        order = "id DESC" if newest_first else "id"

        def op(c: sqlite3.Connection) -> list[DeadDial]:
            rows = c.execute(
                f"SELECT {_DEAD_COLS} FROM dead{where} ORDER BY {order} LIMIT ?",  # noqa: S608
                (*params, limit),
            ).fetchall()
            return [_dead(r) for r in rows]

        return await self._reader.read(op)

    async def get_dead(self, queue_id: str) -> DeadDial | None:
        def op(c: sqlite3.Connection) -> DeadDial | None:
            row = c.execute(
                f"SELECT {_DEAD_COLS} FROM dead WHERE id = ?",  # noqa: S608
                (int_id(queue_id),),
            ).fetchone()
            return _dead(row) if row else None

        return await self._reader.read(op)

    async def replay_dead(self, ids: Sequence[str], *, now: float) -> int:
        event = history.replayed(now)

        def op(c: sqlite3.Connection) -> int:
            moved = 0
            for i in ids:
                dead_id = int_id(i)
                # A dial with a history goes back under its first queue id: one timeline.
                row = c.execute("SELECT id FROM history WHERE dead = ?", (dead_id,)).fetchone()
                cur = c.execute(
                    "INSERT INTO dials (id, source, dial_id, payload, received_at, due_at, kind) "
                    "SELECT ?, source, dial_id, payload, received_at, ?, kind FROM dead "
                    "WHERE id = ?",
                    (row[0] if row else None, now, dead_id),
                )
                if cur.rowcount:
                    c.execute("DELETE FROM dead WHERE id = ?", (dead_id,))
                    c.execute(
                        "UPDATE history SET dead = NULL, events = events || ? WHERE dead = ?",
                        (event, dead_id),
                    )
                    moved += 1
            return moved

        return await self._writer.call(op)

    async def purge_dead(self, ids: Sequence[str]) -> int:
        now = time.time()
        event = history.purged(now)

        def op(c: sqlite3.Connection) -> int:
            purged = 0
            for i in ids:
                dead_id = int_id(i)
                deleted = c.execute("DELETE FROM dead WHERE id = ?", (dead_id,)).rowcount
                if deleted:
                    c.execute(
                        "UPDATE history SET dead = NULL, done_at = ?, events = events || ? "
                        "WHERE dead = ?",
                        (now, event, dead_id),
                    )
                purged += deleted
            return purged

        return await self._writer.call(op)


def _dead_filter(
    source: str | None, status: int | None, before: float | None
) -> tuple[str, tuple[Any, ...]]:
    return where_clause(
        ("source = ?", source or None), ("status = ?", status), ("dead_at < ?", before)
    )


def _dead(r: Sequence[Any]) -> DeadDial:
    return DeadDial(
        id=str(r[0]),
        source=r[1],
        dial_id=r[2],
        payload=bytes(r[3]),
        attempts=r[4],
        received_at=r[5],
        dead_at=r[6],
        reason=r[7],
        status=r[8],
        response_body=r[9],
    )


_IMPLEMENTS: type[DeadLetterStore] = SqliteDeadLetters  # mypy checks that the role is complete
