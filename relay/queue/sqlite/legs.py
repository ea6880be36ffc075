"""Legs of one call on SQLite: the first leg held, later legs merged into it (``coalesce``).

The held dial is an ordinary row of ``dials``, due at the end of its window; the ``holding``
table says which row holds ``(source, dial_id)`` and until when. One writer operation decides
and stores each leg, and the writer runs operations one at a time, so two legs never both
take themselves for the first and no merge is lost. ``delivery`` keeps a held row from being
leased early by a probe or made due by ``release_delayed``.
"""

from __future__ import annotations

import sqlite3

from relay.queue import history
from relay.queue.models import LegMerge, LegOutcome, NewDial
from relay.queue.sqlite.intake import (
    SWEEP_EVERY,
    insert_dial,
    note,
    remember,
    start_history,
    sweep_expired,
)
from relay.queue.sqlite.reader import SqliteReader
from relay.queue.sqlite.store import SqliteStore
from relay.queue.sqlite.writer import SqliteWriter

__all__ = ["SqliteLegs"]


class SqliteLegs(SqliteStore):
    """``coalesce`` on the ``dials``, ``seen`` and ``holding`` tables."""

    def __init__(self, writer: SqliteWriter, reader: SqliteReader, *, history: bool = True) -> None:
        super().__init__(writer, reader, history=history)
        self._stores = 0

    def _sweeping(self) -> bool:
        """Count one store of a new dial; True when this one also sweeps expired entries."""
        self._stores += 1
        return self._stores % SWEEP_EVERY == 0

    async def coalesce(
        self, dial: NewDial, dedupe_seconds: float, *, window: float, merge: LegMerge
    ) -> LegOutcome:
        sweep = self._sweeping()
        record = self.history

        def op(c: sqlite3.Connection) -> LegOutcome:
            now = dial.received_at
            held = c.execute(
                "SELECT d.id, d.payload FROM holding h JOIN dials d ON d.id = h.queue_id "
                "WHERE h.source = ? AND h.dial_id = ? AND h.until > ? AND d.leased = 0",
                (dial.source, dial.dial_id, now),
            ).fetchone()
            if held is not None:
                merged = merge(bytes(held[1]), dial.payload)
                c.execute("UPDATE dials SET payload = ? WHERE id = ?", (merged, held[0]))
                note(c, held[0], history.coalesced(now))
                return "coalesced"
            if not remember(c, dial, max(dedupe_seconds, window)):
                return "duplicate"
            until = now + window
            queue_id = insert_dial(c, dial, max(dial.due_at or now, until))
            if record:
                start_history(c, queue_id, dial)
            if sweep:
                sweep_expired(c, now)
            c.execute(
                "INSERT OR REPLACE INTO holding (source, dial_id, queue_id, until) "
                "VALUES (?, ?, ?, ?)",
                (dial.source, dial.dial_id, queue_id, until),
            )
            return "queued"

        return await self._writer.call(op)
